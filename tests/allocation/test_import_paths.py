"""Every import path maps its rows before they become visible: a Yandex Cloud day file (direct and
pulled from the bucket), and a FOCUS file uploaded through the API. Figures are checked against
the simulator's own file, not against our code."""

from __future__ import annotations

import base64
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db.models import Sum

from allocation.services.tags import virtual_tag_create
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX, LABEL
from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.models import CostDailySummary, CostLineItem, ImportRun
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.yandex_imports import yandex_export_import
from tests.allocation.conftest import JAN, cond, focus_row
from tests.factories import ConnectionFactory, CostSourceFactory
from tests.providers.costs.test_query import focus_bytes

DAY = dt.date(2026, 2, 14)


@pytest.fixture
def sim():
    with YandexCloudSimulator(SimulatorConfig(seed=11, folders=2, resources_per_folder=30)) as s:
        s.billing.today = DAY
        s.billing.days = 2
        yield s


def _billed(rows) -> Decimal:
    return sum((Decimal(r["cost"]) + Decimal(r["credit"]) for r in rows), Decimal(0))


def _sum(queryset) -> Decimal:
    return queryset.aggregate(s=Sum("billed_cost"))["s"] or Decimal(0)


@pytest.fixture
def yandex_rules(world, dims, rule, sim):
    connection = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        credentials={"oauth_token": sim.oauth_token},
        endpoints={"*": sim.url},
    )
    rows = sim.billing.file(DAY).rows
    folder = sorted({r["folder_name"] for r in rows})[0]
    team = virtual_tag_create(actor=None, tenant=world.a, key="team")
    rule("first folder", [cond("sub_account", "in", folder)], project=dims.web)
    rule("this connection", [cond("connection", "in", connection.pk)], environment=dims.prod)
    rule("team label", [], virtual_tag=team, virtual_tag_from_key="team")
    return connection, folder, team


def _check_day(world, dims, rows, folder, team, connection_mapped: bool = True):
    items = CostLineItem.objects.filter(tenant=world.a)
    assert items.count() == len(rows)
    in_folder = [r for r in rows if r["folder_name"] == folder]
    assert in_folder and len(in_folder) < len(rows)
    assert _sum(items.filter(x_project_id=dims.web.pk)) == _billed(in_folder)
    assert _sum(items.filter(x_business_unit_id=dims.digital.pk)) == _billed(in_folder)
    if connection_mapped:
        assert not items.filter(x_environment_id__isnull=True).exists()
    labelled = [r for r in rows if r.get(LABEL + "team")]
    assert labelled
    assert items.filter(x_virtual_tags__has_key=str(team.pk)).count() == len(labelled)
    # The rollups were rebuilt after the mapping and carry it.
    summary = CostDailySummary.objects.filter(tenant=world.a, x_project_id=dims.web.pk)
    assert _sum(summary) == _billed(in_folder)


def test_a_yandex_day_file_import_maps_its_rows(world, dims, sim, yandex_rules):
    connection, folder, team = yandex_rules
    file = sim.billing.file(DAY)

    run = yandex_export_import(
        actor=world.owner_a,
        tenant=world.a,
        file=io.BytesIO(file.body),
        file_name="upload/20260214.csv",
        source_key="yc-upload",
        connection=connection,
    )

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    _check_day(world, dims, file.rows, folder, team)


def test_a_bucket_pull_maps_every_day_it_loads(world, dims, sim, yandex_rules):
    connection, folder, team = yandex_rules
    source = CostSourceFactory(
        actor=world.operator_a,
        tenant=world.a,
        connection=connection,
        endpoint_url=sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials={
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
    )

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk, trigger="manual")

    assert result.status == "succeeded", result.error
    days = [DAY - dt.timedelta(days=1), DAY]
    rows = [r for d in days for r in sim.billing.file(d).rows]
    _check_day(world, dims, rows, folder, team)


def test_a_focus_upload_through_the_api_is_mapped_before_it_answers(world, dims, rule, api_as):
    rule("compute", [cond("service", "in", "Compute")], project=dims.infra)
    body = focus_bytes([focus_row(JAN, "Compute", "4.00"), focus_row(JAN, "Storage", "1.25")])

    response = api_as(world.owner_a).post(
        "/api/v1/import-runs/",
        {
            "tenant": world.a.pk,
            "file_name": "costs.csv",
            "content": base64.b64encode(body).decode(),
            "wait": True,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    items = CostLineItem.objects.filter(tenant=world.a)
    assert {(r.service_name, r.x_project_id) for r in items} == {
        ("Compute", dims.infra.pk),
        ("Storage", None),
    }
    assert _sum(CostDailySummary.objects.filter(x_project_id=dims.infra.pk)) == Decimal("4.00")
