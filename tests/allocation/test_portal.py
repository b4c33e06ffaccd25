"""The allocation portal pages with data: costs by dimension, managing dimensions, tags and rules
(preview before saving), and what people without the capability get."""

from __future__ import annotations

import pytest
from django.urls import reverse

from allocation.models import BusinessUnit, RequiredTag, TagAlias, TagRule, VirtualTag
from tests.allocation.conftest import JAN, cond, focus_row, load


@pytest.fixture
def owner(client, world):
    client.force_login(world.owner_a)
    return client


@pytest.fixture
def costs(world, dims, rule):
    rule("web", [cond("tag", "in", "web", key="team")], project=dims.web)
    load(
        world.a,
        [
            focus_row(JAN, "Compute", "10.00", tags={"team": "web", "env": "prod"}),
            focus_row(JAN, "Storage", "2.50", tags={"team": "data"}),
        ],
    )


def test_the_overview_shows_costs_by_dimension_with_names(world, dims, costs, owner):
    response = owner.get(reverse("portal:allocation"), {"month": "2026-01", "by": "project"})
    assert response.status_code == 200
    rows = {r["project"]: r["billed_cost"] for r in response.context["result"].rows}
    assert {k: str(v) for k, v in rows.items()} == {
        "Web": "10.000000000000000000",
        None: "2.500000000000000000",
    }
    html = response.content.decode()
    assert "Unallocated" in html and "Web" in html
    by_bu = owner.get(reverse("portal:allocation"), {"month": "2026-01", "by": "business_unit"})
    assert [r["business_unit"] for r in by_bu.context["result"].rows] == ["Digital", None]


def test_dimensions_are_added_edited_and_deleted(world, dims, owner):
    page = owner.get(reverse("portal:allocation_dimensions"))
    assert page.status_code == 200 and "Checkout" in page.content.decode()

    added = owner.post(
        reverse("portal:allocation_dimensions_add"),
        {"kind": "business_unit", "business_unit-name": "Retail", "business_unit-code": "R1"},
    )
    assert added.status_code == 302
    retail = BusinessUnit.objects.get(name="Retail")
    duplicate = owner.post(
        reverse("portal:allocation_dimensions_add"),
        {"kind": "business_unit", "business_unit-name": "retail"},
    )
    assert duplicate.status_code == 400
    edit_url = reverse("portal:allocation_business_unit_edit", kwargs={"pk": retail.pk})
    assert owner.get(edit_url).status_code == 200
    saved = owner.post(edit_url, {"name": "Retail & Co", "owner": world.viewer_a.pk})
    assert saved.status_code == 302
    retail.refresh_from_db()
    assert (retail.name, retail.owner) == ("Retail & Co", world.viewer_a)
    refused = owner.post(
        reverse("portal:allocation_business_unit_delete", kwargs={"pk": dims.digital.pk})
    )
    assert refused.status_code == 302 and BusinessUnit.objects.filter(pk=dims.digital.pk).exists()
    owner.post(reverse("portal:allocation_business_unit_delete", kwargs={"pk": retail.pk}))
    assert not BusinessUnit.objects.filter(pk=retail.pk).exists()


def test_a_rule_is_previewed_then_saved(world, dims, costs, owner):
    form = {
        "name": "data team",
        "enabled": "on",
        "cond_0_field": "tag",
        "cond_0_key": "team",
        "cond_0_op": "in",
        "cond_0_value": "data, analytics",
        "project": dims.data.pk,
        "period": "2026-01",
    }
    preview = owner.post(reverse("portal:allocation_rules_add"), {**form, "action": "preview"})
    assert preview.status_code == 200
    assert preview.context["preview"].matches.rows == 1
    assert "matches 1 rows, 2.50 RUB" in preview.content.decode()
    assert not TagRule.objects.filter(name="data team").exists()

    saved = owner.post(reverse("portal:allocation_rules_add"), {**form, "action": "save"})
    assert saved.status_code == 302
    rule = TagRule.objects.get(name="data team")
    assert rule.conditions == [
        {"field": "tag", "op": "in", "key": "team", "values": ["data", "analytics"]}
    ]
    page = owner.get(reverse("portal:allocation_rules")).content.decode()
    assert "Tag team is one of data, analytics" in page


def test_a_rule_is_edited_moved_and_deleted(world, dims, costs, owner):
    web = TagRule.objects.get(name="web")
    edit_url = reverse("portal:allocation_rules_edit", kwargs={"pk": web.pk})
    page = owner.get(edit_url)
    assert page.status_code == 200
    assert page.context["form"].initial["cond_0_value"] == "web"
    changed = owner.post(
        edit_url,
        {
            "name": "web or data",
            "enabled": "on",
            "cond_0_field": "tag",
            "cond_0_key": "team",
            "cond_0_op": "in",
            "cond_0_value": "web, data",
            "project": dims.web.pk,
            "period": "2026-01",
            "action": "preview",
        },
    )
    assert changed.status_code == 200
    [output] = changed.context["preview"].outputs
    assert (output.kept.rows, output.newly_assigned.rows) == (1, 1)
    bad = owner.post(edit_url, {"name": "x", "cond_0_field": "tag", "action": "save"})
    assert bad.status_code == 400  # a tag condition without its key
    second = TagRule.objects.create(
        tenant=world.a, name="second", position=2, conditions=[], environment=dims.prod
    )
    owner.post(
        reverse("portal:allocation_rules_move", kwargs={"pk": second.pk}), {"direction": "up"}
    )
    assert list(TagRule.objects.order_by("position").values_list("name", flat=True)) == [
        "second",
        "web",
    ]
    owner.post(reverse("portal:allocation_rules_delete", kwargs={"pk": web.pk}))
    assert list(TagRule.objects.values_list("name", flat=True)) == ["second"]


def test_tags_settings_are_managed_on_the_tags_page(world, costs, owner):
    page = owner.get(reverse("portal:allocation_tags"), {"month": "2026-01"})
    assert page.status_code == 200
    assert {k.key for k in page.context["discovery"].keys} == {"env", "team"}
    owner.post(reverse("portal:allocation_tags_required_add"), {"required-key": "owner"})
    owner.post(
        reverse("portal:allocation_tags_alias_add"),
        {"alias-kind": "key", "alias-alias": "Environment", "alias-canonical": "env"},
    )
    owner.post(reverse("portal:allocation_tags_virtual_add"), {"virtual-key": "squad"})
    assert list(RequiredTag.objects.values_list("key", flat=True)) == ["owner"]
    assert TagAlias.objects.filter(alias="Environment").exists()
    assert VirtualTag.objects.filter(key="squad").exists()
    page = owner.get(reverse("portal:allocation_tags"), {"month": "2026-01"})
    [owner_key] = page.context["compliance"].keys
    assert owner_key.missing.line_items == 2
    bad = owner.post(reverse("portal:allocation_tags_alias_add"), {"alias-kind": "value"})
    assert bad.status_code == 400
    alias = TagAlias.objects.get()
    owner.post(reverse("portal:allocation_tags_alias_delete", kwargs={"pk": alias.pk}))
    assert not TagAlias.objects.exists()


def test_viewers_see_the_pages_without_forms_and_cannot_post(world, dims, costs, client):
    client.force_login(world.viewer_a)
    page = client.get(reverse("portal:allocation_rules"))
    assert page.status_code == 200 and page.context["form"] is None
    assert client.get(reverse("portal:allocation_dimensions")).context["can_manage"] is False
    refused = client.post(
        reverse("portal:allocation_dimensions_add"),
        {"kind": "environment", "environment-name": "qa"},
    )
    assert refused.status_code == 403
    web = TagRule.objects.get(name="web")
    assert (
        client.post(reverse("portal:allocation_rules_delete", kwargs={"pk": web.pk})).status_code
        == 403
    )
    assert TagRule.objects.filter(pk=web.pk).exists()


def test_the_pages_speak_russian(world, dims, owner):
    html = owner.get(reverse("portal:allocation_rules"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Правила сопоставления" in html and "Распределение" in html
