"""Cost data in the admin: FOCUS upload (queued or at once), read-only runs with their problems,
line items without full-table counts, platform rates and VAT rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent
from providers.models import CostLineItem, ExchangeRate, ImportRun, VatRule
from providers.tasks import cost_file_import_task
from tests.providers.costs.test_query import (
    JAN,
    focus_bytes,
    focus_row,
    load,
    yandex_vat,  # noqa: F401  (autouse fixture)
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def queued(monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(
        cost_file_import_task, "apply_async", lambda kwargs, **kw: calls.append(kwargs)
    )
    return calls


def _upload(client, tenant, data, **extra):
    return client.post(
        reverse("admin:providers_importrun_add"),
        {
            "tenant": tenant.pk,
            "file": SimpleUploadedFile("costs.csv", data),
            "source_key": "admin-upload",
            "policy": "reject_file",
            **extra,
        },
    )


def test_admin_upload_imports_at_once_and_shows_the_run(world, client):
    client.force_login(world.operator_a)
    data = focus_bytes([focus_row(JAN, "Compute Cloud", "3")])

    response = _upload(client, world.a, data, run_now="on")

    assert response.status_code == 302, response.context["adminform"].form.errors
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.SUCCEEDED and run.created_by == world.operator_a
    page = client.get(reverse("admin:providers_importrun_change", args=[run.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "BilledCost" in html
    assert "/api/v1/cost-export/?tenant=" in html  # the "Export FOCUS" link of the month


def test_admin_upload_is_queued_by_default(
    world, client, queued, django_capture_on_commit_callbacks
):
    client.force_login(world.operator_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, world.a, focus_bytes([focus_row(JAN, "Compute Cloud", "3")]))
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.PENDING and queued[0]["run_id"] == run.pk

    result = cost_file_import_task.apply(kwargs=queued[0]).get()

    assert result == {"run": run.pk, "status": "succeeded"}
    event = AuditEvent.objects.get(event_type="costs.imported", tenant=world.a)
    assert event.source == "task" and event.actor_id == world.operator_a.pk


def test_admin_upload_of_a_non_focus_file_is_refused_on_the_form(world, client):
    client.force_login(world.operator_a)
    response = _upload(client, world.a, b"just,some\ncsv,1\n")
    assert response.status_code == 200
    assert "file" in response.context["adminform"].form.errors
    assert not ImportRun.objects.exists()


def test_failed_run_page_lists_examples(world, client):
    client.force_login(world.operator_a)
    data = focus_bytes([focus_row(JAN, "Compute Cloud", "3")]).replace(b"RUB", b"RUR", 1)
    _upload(client, world.a, data, run_now="on")
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.FAILED

    html = client.get(reverse("admin:providers_importrun_change", args=[run.pk])).content.decode()

    assert "unknown_currency" in html and "RUR" in html and "BillingCurrency" in html


def test_line_item_changelist_never_counts_the_whole_table(world, client):
    load(world.a, [focus_row(dt.date.today().replace(day=2), "Compute Cloud", "1")])
    load(world.a, [focus_row(JAN, "Old", "1")])
    client.force_login(world.operator_a)

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("admin:providers_costlineitem_changelist"))

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert [row.service_name for row in shown] == ["Compute Cloud"]  # the current month only
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts if "costlineitem" in sql)
    old = client.get(reverse("admin:providers_costlineitem_changelist"), {"month": "2026-01"})
    assert [row.service_name for row in old.context["cl"].result_list] == ["Old"]
    row = CostLineItem.objects.get(service_name="Old")
    page = client.get(reverse("admin:providers_costlineitem_change", args=[row.pk]))
    assert page.status_code == 200


def test_export_action_sends_to_the_months_export(world, client):
    run = load(world.a, [focus_row(JAN, "Compute Cloud", "1")])
    client.force_login(world.operator_a)
    response = client.post(
        reverse("admin:providers_importrun_changelist"),
        {"action": "export_focus", "_selected_action": [run.pk]},
    )
    assert response.status_code == 302
    query = f"tenant={world.a.pk}&period=2026-01&format=csv&escape_formulas=true"
    assert response.url == f"/api/v1/cost-export/?{query}"


def test_rates_and_vat_rules_are_platform_data(world, client):
    client.force_login(world.operator_a)
    assert client.get(reverse("admin:providers_exchangerate_changelist")).status_code == 200
    assert client.get(reverse("admin:providers_exchangerate_add")).status_code == 403
    assert client.get(reverse("admin:providers_vatrule_add")).status_code == 403

    client.force_login(world.superuser)
    response = client.post(
        reverse("admin:providers_exchangerate_add"),
        {"currency": "usd", "date": "2026-01-10", "rate": "95.5"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rate = ExchangeRate.objects.get()
    assert (rate.currency, rate.source, rate.rate) == ("USD", "manual", Decimal("95.5"))
    assert AuditEvent.objects.filter(event_type="exchange_rate.set", actor=world.superuser).exists()
    cbr = ExchangeRate.objects.create(
        date=JAN, currency="EUR", rate=Decimal("100"), source=ExchangeRate.Source.CBR
    )
    page = client.get(reverse("admin:providers_exchangerate_change", args=[cbr.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]

    response = client.post(
        reverse("admin:providers_vatrule_add"),
        {"provider_name": "AWS", "currency": "USD", "valid_from": "2026-01-01", "rate": "0.2"},
    )
    assert response.status_code == 302
    assert VatRule.objects.filter(provider_name="AWS").exists()
    assert AuditEvent.objects.filter(event_type="vatrule.created", tenant=None).exists()
