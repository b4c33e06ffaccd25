"""Unit economics: business metric points in (API, CSV, HTTP pull) and cost per unit out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from allocation.models import BusinessMetric, BusinessMetricValue
from allocation.selectors import business_metric_values, unit_costs
from allocation.services.metrics import (
    business_metric_create,
    business_metric_csv_import,
    business_metric_pull,
    due_metric_ids,
)
from allocation.tasks import business_metric_pull_task
from core.models import AuditEvent
from tests.allocation.conftest import cond, focus_row, load
from tests.allocation.metric_server import serve, serve_json

ACME = "Acme Cloud"  # no VAT rule: billed cost is the same net and gross


@pytest.fixture
def owner(world, api_as):
    return api_as(world.owner_a)


def _metric(world, **fields) -> BusinessMetric:
    return business_metric_create(
        actor=None, tenant=world.a, name=fields.pop("name", "Orders"), unit="order", **fields
    )


def _points(metric) -> dict:
    return {
        (v.day.isoformat(), v.dimension_value_id): v.value
        for v in BusinessMetricValue.objects.filter(metric=metric)
    }


# --- points through the API ------------------------------------------------------------------
def test_points_are_upserted_through_the_api(world, owner):
    metric = _metric(world)
    url = f"/api/v1/business-metrics/{metric.pk}/points/"

    first = owner.post(
        url,
        {"points": [{"date": "2026-01-01", "value": 10}, {"date": "2026-01-02", "value": "12.5"}]},
        format="json",
    )
    again = owner.post(
        url,
        {"points": [{"date": "2026-01-02", "value": 13}, {"date": "2026-01-03", "value": 1}]},
        format="json",
    )

    assert first.status_code == 200, first.content
    assert first.json() | {"rejected": []} == {
        "created": 2,
        "updated": 0,
        "stored": 2,
        "rejected": [],
    }
    assert (again.json()["created"], again.json()["updated"]) == (1, 1)
    assert _points(metric) == {
        ("2026-01-01", None): Decimal(10),
        ("2026-01-02", None): Decimal(13),
        ("2026-01-03", None): Decimal(1),
    }
    listed = owner.get("/api/v1/business-metric-values/", {"metric": metric.pk}).json()
    assert [r["value"] for r in listed["results"]] == ["10.000000", "13.000000", "1.000000"]


def test_one_bad_point_stores_nothing_and_is_named(world, owner, dims):
    metric = _metric(world, dimension="project")
    before = AuditEvent.objects.count()

    response = owner.post(
        f"/api/v1/business-metrics/{metric.pk}/points/",
        {
            "points": [
                {"date": "2026-01-01", "value": 3, "dimension_value": dims.web.pk},
                {"date": "2026-02-30", "value": 1, "dimension_value": dims.web.pk},
                {"date": "2026-01-02", "value": -1, "dimension_value": dims.web.pk},
                {"date": "2026-01-02", "value": 1},
                {"date": "2026-01-02", "value": 1, "dimension_value": 999999},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["points"]
    assert [e.split(":")[0] for e in errors] == ["point 1", "point 2", "point 3", "point 4"]
    assert "2026-02-30 does not exist" in errors[0]
    assert "dimension_value is required" in errors[2]
    assert "no project with id 999999" in errors[3]
    assert not BusinessMetricValue.objects.exists()
    assert AuditEvent.objects.count() == before


def test_bad_metric_definitions_are_refused_by_field(world, owner):
    base = {"tenant": world.a.pk, "name": "Orders", "unit": "order"}
    for field, value in (
        ("dimension", "planet"),
        ("pull_interval", 10),
        ("pull_url", "ftp://example.com/x"),
        ("pull_url", "http://127.0.0.1:8000/metrics"),  # a customer may not name it
    ):
        response = owner.post("/api/v1/business-metrics/", {**base, field: value}, format="json")
        assert response.status_code == 400, (field, value, response.content)
        assert field in response.json(), response.json()
    assert not BusinessMetric.objects.exists()


def test_operators_may_pull_from_private_urls(world, api_as):
    url = serve_json([{"date": "2026-01-04", "value": 7}])
    client = api_as(world.operator_a)
    created = client.post(
        "/api/v1/business-metrics/",
        {"tenant": world.a.pk, "name": "Orders", "unit": "order", "pull_url": url},
        format="json",
    )
    assert created.status_code == 201, created.content

    pulled = client.post(f"/api/v1/business-metrics/{created.json()['id']}/pull/")

    assert pulled.status_code == 200, pulled.content
    metric = BusinessMetric.objects.get()
    assert _points(metric) == {("2026-01-04", None): Decimal(7)}
    assert metric.last_pull_status == "succeeded"


# --- CSV ---------------------------------------------------------------------------------------
CSV = (
    "date,value,dimension_value\n"
    "2026-01-01,5,{web}\n"
    "\n"
    "2026-01-02,abc,{web}\n"
    "01/02/2026,4,{web}\n"
    "2026-01-02,4,{data}\n"
    "2026-01-03,4\n"
)


def test_csv_reports_bad_lines_and_stores_nothing_by_default(world, dims):
    metric = _metric(world, dimension="project")
    content = CSV.format(web=dims.web.pk, data=dims.data.pk).encode()

    with pytest.raises(ValidationError) as raised:
        business_metric_csv_import(actor=world.owner_a, metric=metric, content=content)

    messages = raised.value.message_dict["file"]
    assert [m.split(":")[0] for m in messages] == ["Line 4", "Line 5", "Line 7"]
    assert "value must be a number" in messages[0]
    assert "date must be YYYY-MM-DD" in messages[1]
    assert "expected 3 columns" in messages[2]
    assert not BusinessMetricValue.objects.exists()


def test_csv_skip_rows_stores_the_good_lines(world, dims, api_as):
    metric = _metric(world, dimension="project")
    content = CSV.format(web=dims.web.pk, data=dims.data.pk).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api_as(world.owner_a).post(
        f"/api/v1/business-metrics/{metric.pk}/upload/",
        {"file": SimpleUploadedFile("orders.csv", content), "policy": "skip_rows"},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stored"], [r["line"] for r in body["rejected"]]) == (2, [4, 5, 7])
    assert _points(metric) == {
        ("2026-01-01", dims.web.pk): Decimal(5),
        ("2026-01-02", dims.data.pk): Decimal(4),
    }


def test_a_csv_without_the_columns_is_refused(world):
    metric = _metric(world)
    with pytest.raises(ValidationError) as raised:
        business_metric_csv_import(actor=None, metric=metric, content=b"day,count\n2026-01-01,1\n")
    assert "missing: date, value" in raised.value.message_dict["file"][0]


# --- pulls -------------------------------------------------------------------------------------
def test_scheduled_pull_reads_the_points_path(world, dims):
    url = serve_json(
        {"data": {"points": [{"date": "2026-01-05", "value": 2, "dimension_value": dims.web.pk}]}}
    )
    metric = _metric(world, dimension="project", pull_url=url, pull_path="data.points")
    assert metric.pk in due_metric_ids()

    result = business_metric_pull_task.apply(args=[metric.pk]).get()

    assert result["status"] == "succeeded" and result["created"] == 1
    assert _points(metric) == {("2026-01-05", dims.web.pk): Decimal(2)}
    assert metric.pk not in due_metric_ids()  # pulled just now; next in a day
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=1)
    assert metric.pk in due_metric_ids(later)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"[]", 500, "metric endpoint"),
        (b"not json", 200, "endpoint"),
        (b'{"other": []}', 200, "no \u201cdata\u201d"),
        (b'{"data": [{"date": "2026-01-01", "value": "x"}]}', 200, "point 0: value"),
    ],
)
def test_a_failed_pull_stores_nothing_and_is_recorded(world, body, status, reason):
    metric = _metric(world, pull_url=serve(body, status), pull_path="data")
    BusinessMetricValue.objects.create(
        tenant=world.a, metric=metric, day=dt.date(2026, 1, 1), value=Decimal(9)
    )

    with pytest.raises(ValidationError) as raised:
        business_metric_pull(actor=None, metric=metric)

    metric.refresh_from_db()
    assert reason in raised.value.message_dict["pull_url"][0]
    assert metric.last_pull_status == "failed" and reason in metric.last_pull_error
    assert _points(metric) == {("2026-01-01", None): Decimal(9)}  # nothing lost
    assert AuditEvent.objects.filter(event_type="allocation.business_metric_pull_failed").exists()


# --- cost per unit -----------------------------------------------------------------------------
@pytest.fixture
def costs(world, dims, rule):
    """January and February: Compute Cloud → Web, Object Storage → Data (Acme, RUB, no VAT)."""
    rule("web", [cond("service", "in", "Compute Cloud")], project=dims.web)
    rule("data", [cond("service", "in", "Object Storage")], project=dims.data)
    rows = []
    for day, compute, storage in (
        (dt.date(2026, 1, 10), "100.00", "50.00"),
        (dt.date(2026, 1, 20), "200.00", "30.00"),
        (dt.date(2026, 2, 10), "150.00", "60.00"),
    ):
        rows.append(focus_row(day, "Compute Cloud", compute, provider=ACME))
        rows.append(focus_row(day, "Object Storage", storage, provider=ACME))
    load(world.a, rows)


def test_cost_per_order_by_month_with_trend(world, costs, owner):
    metric = _metric(world)
    business_metric_csv_import(
        actor=None,
        metric=metric,
        content=b"date,value\n2026-01-10,100\n2026-01-20,200\n2026-02-10,140\n",
    )

    response = owner.get(
        "/api/v1/unit-costs/",
        {"tenant": world.a.pk, "metric": metric.pk, "start": "2026-01-01", "end": "2026-02-28"},
    )

    assert response.status_code == 200, response.content
    totals = response.json()["totals"]
    assert [(t["period"], t["cost"], t["units"], t["cost_per_unit"]) for t in totals] == [
        ("2026-01", "380.00", "300", "1.266667"),
        ("2026-02", "210.00", "140", "1.500000"),
    ]
    assert totals[0]["change"] is None
    # (1.5 - 1.266667) / 1.266667
    assert totals[1]["change"] == "0.184210"


def test_tenant_wide_metric_grouped_by_project(world, dims, costs):
    metric = _metric(world)
    business_metric_csv_import(actor=None, metric=metric, content=b"date,value\n2026-01-10,300\n")

    report = unit_costs(
        user=world.owner_a,
        tenant=world.a,
        metric=metric,
        start=dt.date(2026, 1, 1),
        end=dt.date(2026, 1, 31),
        group_by="project",
    )

    assert {(r.dimension, r.cost, r.units, r.cost_per_unit) for r in report.rows} == {
        ("Web", Decimal(300), Decimal(300), Decimal(1)),
        ("Data", Decimal(80), Decimal(300), Decimal("0.266667")),
    }


def test_per_project_metric_divides_each_projects_cost_by_its_units(world, dims, costs):
    metric = _metric(world, dimension="project")
    business_metric_csv_import(
        actor=None,
        metric=metric,
        content=f"date,value,dimension_value\n2026-01-10,60,{dims.web.pk}\n"
        f"2026-01-11,40,{dims.data.pk}\n".encode(),
    )

    report = unit_costs(
        user=world.owner_a,
        tenant=world.a,
        metric=metric,
        start=dt.date(2026, 1, 10),
        end=dt.date(2026, 1, 11),
        granularity="day",
        group_by="project",
    )

    assert [(r.period, r.dimension, r.cost, r.units, r.cost_per_unit) for r in report.rows] == [
        ("2026-01-10", "Web", Decimal(100), Decimal(60), Decimal("1.666667")),
        ("2026-01-10", "Data", Decimal(50), Decimal(0), None),
        ("2026-01-11", "Data", Decimal(0), Decimal(40), Decimal(0)),
    ]
    assert business_metric_values(world.a, metric, dt.date(2026, 1, 10)) == {
        dims.web.pk: Decimal(60)
    }
    assert business_metric_values(world.a, "orders", dt.date(2026, 1, 11)) == {
        dims.data.pk: Decimal(40)
    }


def test_unit_cost_bad_parameters_name_the_field(world, owner):
    metric = _metric(world, dimension="project")
    base = {"tenant": world.a.pk, "metric": metric.pk}
    for params, field in (
        ({"metric": "x"}, "metric"),
        ({"granularity": "week"}, "granularity"),
        ({"group_by": "environment"}, "group_by"),
        ({"start": "2026-13-01", "end": "2026-12-01"}, "start"),
    ):
        response = owner.get("/api/v1/unit-costs/", {**base, **params})
        assert response.status_code == 400, params
        assert field in response.json(), response.json()


def test_other_tenants_metric_is_unknown(world, api_as):
    metric = _metric(world)
    response = api_as(world.owner_b).get(
        "/api/v1/unit-costs/", {"tenant": world.b.pk, "metric": metric.pk}
    )
    assert response.status_code == 400 and "metric" in response.json()


# --- portal ------------------------------------------------------------------------------------
def test_portal_page_shows_cost_per_unit_and_takes_a_csv(world, dims, costs, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.owner_a)
    added = client.post("/portal/allocation/units/add/", {"name": "Orders", "unit": "order"})
    assert added.status_code == 302, added.content.decode()[:2000]
    metric = BusinessMetric.objects.get(tenant=world.a)
    uploaded = client.post(
        f"/portal/allocation/units/{metric.pk}/upload/",
        {
            "file": SimpleUploadedFile("o.csv", b"date,value\n2026-01-10,100\n2026-01-99,1\n"),
            "policy": "reject_file",
        },
    )
    assert uploaded.status_code == 302
    assert not BusinessMetricValue.objects.exists()  # line 3 is bad: nothing stored
    client.post(
        f"/portal/allocation/units/{metric.pk}/upload/",
        {
            "file": SimpleUploadedFile("o.csv", b"date,value\n2026-01-10,100\n"),
            "policy": "reject_file",
        },
    )

    page = client.get("/portal/allocation/units/", {"metric": metric.pk, "by": "project"})

    assert page.status_code == 200
    rows = [(r.period, r.dimension, r.cost_per_unit) for r in page.context["report"].rows]
    assert ("2026-01", "Web", Decimal(3)) in rows
