"""The allocation admin: writes through the services (a refusal is a message, not a 500), the
re-apply action, read-only runs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from allocation.models import MappingRun, Project, TagRule
from core.models import AuditEvent


@pytest.fixture
def operator(client, world):
    client.force_login(world.operator_a)
    return client


def test_a_rule_is_created_in_the_admin_through_the_service(world, dims, operator):
    response = operator.post(
        reverse("admin:allocation_tagrule_add"),
        {
            "tenant": world.a.pk,
            "name": "compute",
            "position": "",
            "enabled": "on",
            "conditions": '[{"field": "service", "op": "in", "values": ["Compute"]}]',
            "project": dims.web.pk,
            "virtual_tag_value": "",
            "virtual_tag_from_key": "",
            "description": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = TagRule.objects.get(name="compute")
    assert rule.conditions == [{"field": "service", "op": "in", "values": ["Compute"]}]
    assert AuditEvent.objects.filter(event_type="allocation.tag_rule_created").count() == 1
    page = operator.get(reverse("admin:allocation_tagrule_changelist")).content.decode()
    assert "Service is one of Compute" in page


def test_a_service_refusal_is_shown_not_raised(world, dims, operator):
    response = operator.post(
        reverse("admin:allocation_tagrule_add"),
        {
            "tenant": world.a.pk,
            "name": "bad",
            "enabled": "on",
            "conditions": '[{"field": "nope"}]',
            "project": dims.web.pk,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "field must be one of" in response.content.decode()
    assert not TagRule.objects.filter(name="bad").exists()


def test_dimensions_are_edited_in_the_admin(world, dims, operator):
    url = reverse("admin:allocation_project_change", args=[dims.web.pk])
    assert operator.get(url).status_code == 200
    response = operator.post(
        url,
        {"name": "Web shop", "business_unit": dims.platform.pk, "code": "", "description": ""},
    )
    assert response.status_code == 302
    web = Project.objects.get(pk=dims.web.pk)
    assert (web.name, web.business_unit) == ("Web shop", dims.platform)


def test_the_reapply_action_queues_a_run(world, dims, rule, operator):
    created = rule("web", [], project=dims.web)
    MappingRun.objects.all().delete()
    response = operator.post(
        reverse("admin:allocation_tagrule_changelist"),
        {"action": "reapply_rules", "_selected_action": [created.pk]},
    )
    assert response.status_code == 302
    run = MappingRun.objects.get()
    assert (run.trigger, run.created_by) == (MappingRun.Trigger.MANUAL, world.operator_a)
    runs = operator.get(reverse("admin:allocation_mappingrun_changelist"))
    assert runs.status_code == 200
    assert operator.get(reverse("admin:allocation_mappingrun_add")).status_code == 403
