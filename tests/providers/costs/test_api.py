"""Cost API: line items (filters, bounded windows, keyset cursor), the cost query, the FOCUS
export (streamed, conformant), import runs and uploads (queued 202, wait 201, bad files 400)."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiToken, AuditEvent
from core.services.tokens import api_token_create
from providers.focus import FocusReader, check_focus
from providers.models import CostLineItem, ImportRun
from providers.services.uploads import cost_upload_execute
from providers.tasks import cost_file_import_task
from tests.providers.costs.test_query import (
    JAN,
    focus_bytes,
    focus_row,
    load,
    rate,
    yandex_vat,  # noqa: F401  (autouse fixture)
)
from tests.providers.focus.factories import conformant_rows

LINE_ITEMS = "/api/v1/cost-line-items/"
QUERY = "/api/v1/cost-query/"
EXPORT = "/api/v1/cost-export/"
RUNS = "/api/v1/import-runs/"


def this_month_day(day: int = 3) -> dt.date:
    return timezone.now().astimezone(dt.UTC).date().replace(day=day)


@pytest.fixture
def queued(monkeypatch):
    """Celery calls captured instead of sent: [(kwargs), ...]."""
    calls: list[dict] = []
    monkeypatch.setattr(
        cost_file_import_task, "apply_async", lambda kwargs, **kw: calls.append(kwargs)
    )
    return calls


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- line items ------------------------------------------------------------------------------
def test_line_items_default_to_the_current_month(world, api_as):
    load(world.a, [focus_row(this_month_day(), "Compute Cloud", "1"), focus_row(JAN, "Old", "2")])

    rows = _results(api_as(world.owner_a).get(LINE_ITEMS))

    assert [r["service_name"] for r in rows] == ["Compute Cloud"]
    assert rows[0]["billed_cost"] == "1.0"  # as stored: our writer gives integers a ".0"
    assert rows[0]["tenant"] == world.a.pk and rows[0]["x_import_run"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"charge_period_after": "2026-01-01"}, "charge_period_before"),
        ({"charge_period_before": "2026-01-01"}, "charge_period_after"),
        (
            {"charge_period_after": "2026-01-01", "charge_period_before": "2026-06-01"},
            "charge_period_before",
        ),
        (
            {"charge_period_after": "2026-02-01", "charge_period_before": "2026-01-01"},
            "charge_period_before",
        ),
        (
            {"charge_period_after": "yesterday", "charge_period_before": "2026-01-01"},
            "charge_period_after",
        ),
    ],
)
def test_line_item_windows_are_bounded(world, api_as, params, field):
    response = api_as(world.owner_a).get(LINE_ITEMS, params)
    assert response.status_code == 400
    assert field in response.json()


def test_line_item_filters(world, api_as):
    run = load(
        world.a,
        [
            focus_row(
                JAN, "Compute Cloud", "1", tags={"env": "prod", "team": "a"}, resource="vm-1"
            ),
            focus_row(JAN, "Compute Cloud", "2", tags={"env": "dev"}, resource="vm-2"),
            focus_row(JAN, "EC2", "4", currency="USD", provider="AWS", resource="i-1"),
        ],
    )
    other = load(world.a, [focus_row(JAN + dt.timedelta(days=1), "Object Storage", "8")])
    client = api_as(world.owner_a)
    window = {"charge_period_after": "2026-01-01", "charge_period_before": "2026-02-01"}

    def billed(**params):
        rows = _results(client.get(LINE_ITEMS, {**window, **params}))
        return sorted(Decimal(r["billed_cost"]) for r in rows)

    assert billed() == [1, 2, 4, 8]
    assert billed(service_name="Compute Cloud") == [1, 2]
    assert billed(provider_name="AWS", billing_currency="USD") == [4]
    assert billed(tag="env:prod") == [1]
    assert billed(tag_key="env") == [1, 2]
    assert billed(resource_id="vm-2") == [2]
    assert billed(x_import_run=other.pk) == [8]
    assert billed(x_import_run=run.pk, region_id="ru-central1") == [1, 2, 4]
    assert billed(charge_period_after="2026-01-11T00:00:00Z") == [8]


def test_cursor_pages_cover_every_row_once_in_time_order_without_counting(world, api_as):
    same_hour = [focus_row(JAN, f"S{n}", str(n)) for n in range(7)]
    later = [focus_row(JAN, f"L{n}", str(n), hour=13) for n in range(3)]
    load(world.a, same_hour + later)
    client = api_as(world.owner_a)
    url = f"{LINE_ITEMS}?charge_period_after=2026-01-01&charge_period_before=2026-02-01&page_size=3"
    seen, pages = [], 0
    with CaptureQueriesContext(connection) as ctx:
        while url:
            body = client.get(url).json()
            seen += body["results"]
            url = body["next"]
            pages += 1
    assert pages == 4 and len(seen) == 10
    keys = [(r["charge_period_start"], r["id"]) for r in seen]
    assert keys == sorted(keys) and len(set(keys)) == 10
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert client.get(LINE_ITEMS, {"cursor": "not-a-cursor"}).status_code == 404


def test_line_item_detail_ignores_the_window_but_not_the_tenant(world, api_as):
    load(world.a, [focus_row(JAN, "Compute Cloud", "1")])
    row = CostLineItem.objects.get(tenant=world.a)
    assert api_as(world.owner_a).get(f"{LINE_ITEMS}{row.pk}/").json()["billed_cost"] == "1.0"
    assert api_as(world.owner_b).get(f"{LINE_ITEMS}{row.pk}/").status_code == 404


# --- cost query -----------------------------------------------------------------------------
def test_cost_query_month_by_service(world, api_as):
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "122.10"),
            focus_row(JAN, "Compute Cloud", "0.02"),
            focus_row(dt.date(2026, 2, 1), "Object Storage", "12.2"),
        ],
    )

    response = api_as(world.operator_a).get(
        QUERY,
        {
            "group_by": "month,service",
            "start": "2026-01-01",
            "end": "2026-02-28",
            "tenant": world.a.pk,
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "RUB" and body["amounts"] == "gross"
    assert body["group_by"] == ["month", "service"]
    assert body["rows"][0] == {
        "month": "2026-01",
        "service": "Compute Cloud",
        "billed_cost": "122.12",
        "effective_cost": "122.12",
        "list_cost": "122.12",
        "vat": "22.021639344262",  # 22/122 of each row, to 12 places
        "line_items": 2,
    }
    assert body["rows"][1]["month"] == "2026-02"
    assert body["totals"]["billed_cost"] == "134.32"
    net = api_as(world.operator_a).get(
        QUERY, {"group_by": "service", "start": "2026-01-01", "end": "2026-01-31", "amounts": "net"}
    )
    assert net.json()["totals"]["billed_cost"] == "100.098360655738"


def test_cost_query_needs_the_tenant_when_several_are_visible(world, api_as):
    from core.capabilities import Role
    from core.services.memberships import membership_create

    membership_create(actor=None, tenant=world.b, user=world.viewer_a, role=Role.VIEWER)
    client = api_as(world.viewer_a)

    response = client.get(QUERY, {"group_by": "service"})
    assert response.status_code == 400
    assert "several tenants" in response.json()["tenant"][0]
    assert client.get(QUERY, {"tenant": "beta"}).status_code == 200
    assert api_as(world.owner_b).get(QUERY, {"tenant": world.a.pk}).status_code == 400


def test_cost_query_reports_bad_parameters_and_missing_rates(world, api_as):
    load(world.a, [focus_row(JAN, "EC2", "1", currency="USD", provider="AWS")])
    client = api_as(world.owner_a)
    window = {"start": "2026-01-01", "end": "2026-01-31"}

    assert "group_by" in client.get(QUERY, {**window, "group_by": "colour"}).json()
    assert "start" in client.get(QUERY, {"start": "01/01/2026", "end": "2026-01-31"}).json()
    missing = client.get(QUERY, window)
    assert missing.status_code == 400
    assert missing.json()["missing_rates"] == {"USD": ["2026-01-10"]}
    rate(JAN, "USD", "90")
    assert client.get(QUERY, window).json()["totals"]["billed_cost"] == "90.00"


def test_cost_query_filters_and_tags(world, api_as):
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "1", tags={"env": "prod"}),
            focus_row(JAN, "Object Storage", "2", tags={"env": "dev"}),
        ],
    )
    client = api_as(world.owner_a)
    window = {"start": "2026-01-01", "end": "2026-01-31"}
    by_tag = client.get(QUERY, {**window, "group_by": "tag:env", "service": "Object Storage"})
    assert [(r["tag:env"], r["billed_cost"]) for r in by_tag.json()["rows"]] == [("dev", "2.00")]
    prod = client.get(QUERY, {**window, "tag": "env:prod"})
    assert prod.json()["totals"]["billed_cost"] == "1.00"


# --- export --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_streams_a_conformant_focus_file(world, api_as, tmp_path, fmt):
    rows = list(conformant_rows(300, seed=5))
    load(world.a, rows)

    response = api_as(world.owner_a).get(EXPORT, {"period": "2026-01", "format": fmt})

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"] == f'attachment; filename="focus-alpha-2026-01.{fmt}"'
    assert response["X-Focus-Rows"] == "300"
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(b"".join(response.streaming_content))
    report = check_focus(path, strict=True)
    assert report.passed, report.format_text()
    with FocusReader(path) as reader:
        assert sum(r["billed_cost"] for r in reader) == sum(r["billed_cost"] for r in rows)


def test_export_refuses_bad_parameters_and_other_tenants(world, api_as):
    client = api_as(world.owner_a)
    assert client.get(EXPORT, {"period": "2026-13"}).status_code == 400
    bad_format = client.get(EXPORT, {"period": "2026-01", "format": "xlsx"})
    assert bad_format.status_code == 400 and "format" in bad_format.json()["detail"]
    assert api_as(world.owner_b).get(EXPORT, {"tenant": world.a.pk}).status_code == 400


# --- import runs and uploads -----------------------------------------------------------------
def _file(rows=None, name="costs.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = focus_bytes(rows or [focus_row(JAN, "Compute Cloud", "3"), focus_row(JAN, "EC2", "4")])
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_upload_is_queued_with_202_then_imported_by_the_task(
    world, api_as, queued, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(world.operator_a).post(
            RUNS,
            {"tenant": world.a.pk, "file": _file(), "source_key": "aws-cur"},
            format="multipart",
        )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["file_name"] == "costs.csv"
    assert response["Location"] == f"{RUNS}{body['id']}/"
    assert len(queued) == 1 and queued[0]["run_id"] == body["id"]
    stored = queued[0]["path"]
    assert stored.startswith(str(media / "imports" / str(world.a.pk)))
    event = AuditEvent.objects.filter(event_type="costs.import_queued").get()
    assert event.actor_id == world.operator_a.pk and event.tenant_id == world.a.pk

    run = cost_upload_execute(**queued[0])

    assert run.status == ImportRun.Status.SUCCEEDED and run.rows_loaded == 2
    assert Decimal(run.totals["RUB"]["billed_cost"]) == 7
    assert cost_upload_execute(**queued[0]) is None  # a redelivered task does nothing
    detail = api_as(world.owner_a).get(f"{RUNS}{run.pk}/").json()
    assert detail["status"] == "succeeded" and detail["rows_loaded"] == 2
    assert not list((media / "imports").rglob("*.csv"))  # the stored copy is gone


def test_upload_json_base64_with_wait_imports_at_once(world, api_as):
    content = base64.b64encode(focus_bytes([focus_row(JAN, "Compute Cloud", "3")])).decode()
    response = api_as(world.operator_a).post(
        RUNS, {"tenant": world.a.pk, "content": content, "wait": True}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "succeeded"
    assert CostLineItem.objects.filter(tenant=world.a).count() == 1


def test_a_file_that_is_not_focus_is_a_400_and_records_nothing(world, api_as, queued):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("notes.csv", b"name,amount\nfoo,1\n")
    response = api_as(world.operator_a).post(
        RUNS, {"tenant": world.a.pk, "file": bad}, format="multipart"
    )
    assert response.status_code == 400
    assert "not a loadable FOCUS file" in response.json()["file"][0]
    assert not ImportRun.objects.exists() and not queued


def test_bad_rows_fail_the_run_with_line_numbers(world, api_as):
    data = focus_bytes([focus_row(JAN, "Compute Cloud", "3"), focus_row(JAN, "EC2", "4")])
    broken = data.replace(b",4.0,", b",four,", 1)
    assert broken != data
    content = base64.b64encode(broken).decode()

    response = api_as(world.operator_a).post(
        RUNS, {"tenant": world.a.pk, "content": content}, format="json", QUERY_STRING="wait=true"
    )

    assert response.status_code == 400
    body = response.json()
    run = body["import_run"]
    assert run["status"] == "failed" and "1 row(s) failed validation" in body["detail"]
    example = run["errors"]["invalid_decimal"]["examples"][0]
    assert example["line"] == 3 and example["value"] == "four"
    assert ImportRun.objects.get(pk=run["id"]).status == ImportRun.Status.FAILED
    assert not CostLineItem.objects.exists()


def test_read_only_tokens_and_viewers_cannot_upload(world, queued):
    issued = api_token_create(
        actor=world.owner_a, tenant=world.a, name="ro", scope=ApiToken.Scope.READ
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    response = client.post(RUNS, {"tenant": world.a.pk, "file": _file()}, format="multipart")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert client.get(RUNS).status_code == 200
    viewer = APIClient()
    viewer.force_authenticate(world.viewer_a)
    refused = viewer.post(RUNS, {"tenant": world.a.pk, "file": _file()}, format="multipart")
    assert refused.status_code == 400 and "tenant" in refused.json()
    assert not ImportRun.objects.exists() and not queued


def test_other_tenants_import_runs_are_404(world, api_as):
    run = load(world.a, [focus_row(JAN, "Compute Cloud", "3")])
    assert api_as(world.owner_b).get(f"{RUNS}{run.pk}/").status_code == 404
    assert _results(api_as(world.owner_b).get(RUNS)) == []
    mine = _results(
        api_as(world.owner_a).get(RUNS, {"status": "succeeded", "source_key": run.source_key})
    )
    assert [r["id"] for r in mine] == [run.pk]


def test_the_tenant_chooses_net_amounts_through_the_api(world, api_as):
    load(world.a, [focus_row(JAN, "Compute Cloud", "122")])
    client = api_as(world.owner_a)
    window = {"start": "2026-01-01", "end": "2026-01-31"}

    changed = client.patch(f"/api/v1/tenants/{world.a.pk}/", {"cost_amounts": "net"}, format="json")

    assert changed.status_code == 200 and changed.json()["cost_amounts"] == "net"
    body = client.get(QUERY, window).json()
    assert (body["amounts"], body["totals"]["billed_cost"]) == ("net", "100.00")
    assert client.get(QUERY, {**window, "amounts": "gross"}).json()["totals"]["billed_cost"] == (
        "122.00"
    )
    assert AuditEvent.objects.filter(event_type="tenant.updated", tenant=world.a).exists()
