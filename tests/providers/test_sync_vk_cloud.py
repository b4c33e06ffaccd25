"""VK Cloud end to end over real HTTP against its simulator: syncs through ``connection_sync``
(changes applied, partial permissions degrade and keep what cannot be read), the detail export
uploaded as xlsx and csv into FOCUS line items with exact totals (a file with bad rows refused
whole, naming them), and the balance."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum

from providers.adapters.http import HttpClient
from providers.adapters.vk_cloud.adapter import VKCloudAdapter
from providers.adapters.vk_cloud.simulator import VKCloudSimulator
from providers.models import (
    BalanceSnapshot,
    Connection,
    CostLineItem,
    CostSource,
    ImportRun,
    Resource,
    SyncRun,
)
from providers.services.balances import connection_balances_collect
from providers.services.cost_sources import cost_source_create
from providers.services.sync import connection_sync
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def sim():
    with VKCloudSimulator(seed=9, resources=40) as s:
        yield s


@pytest.fixture
def connection(world, sim):
    return ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="vk_cloud",
        name="VK prod",
        credentials=sim.credentials,
        endpoints=sim.endpoints,
    )


def _factory(connection):
    from providers.services.connections import connection_credentials

    http = HttpClient(
        provider="VK Cloud", sleep=lambda s: None, rng=random.Random(0), max_attempts=3
    )
    return VKCloudAdapter(
        connection_credentials(connection),
        scope=connection.scope,
        endpoints=connection.endpoints,
        http=http,
        page_size=8,
    )


def _sync(connection):
    return connection_sync(connection_id=connection.pk, trigger="manual", adapter_factory=_factory)


def _live(connection, **filters):
    return Resource.objects.filter(connection=connection, deleted_at__isnull=True, **filters)


def test_syncs_apply_changes_and_tolerate_partial_permissions(connection, sim):
    first = _sync(connection)
    assert first.status == SyncRun.Status.SUCCEEDED and first.complete
    assert first.created == sim.expected_count() == _live(connection).count()

    sim.cloud.now = dt.datetime.now(dt.UTC)
    changes = sim.mutate(appear=2, change=1, disappear=1)
    databases = set(_live(connection, type="database_cluster").values_list("pk", flat=True))
    project, region, _, db = next(r for r in sim.cloud.resources() if r[2] == "databases")
    sim.cloud.remove(project, region, "databases", db["id"])
    sim.deny_service("database")

    second = _sync(connection)

    assert second.status == SyncRun.Status.SUCCEEDED and not second.complete
    assert set(_live(connection, type="database_cluster").values_list("pk", flat=True)) == databases
    gone = set(changes["disappeared"]) - set(changes["appeared"])
    assert all(Resource.objects.get(provider_id=g).deleted_at for g in gone)
    assert second.deleted == len(gone)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEGRADED
    assert "Cloud Databases (Trove)" in connection.last_error


def _detail_source(world, connection):
    return cost_source_create(
        actor=world.owner_a,
        tenant=world.a,
        kind=CostSource.Kind.PROVIDER_FILE,
        name="VK detail",
        file_kind="vk_cloud_detail",
        connection=connection,
    )


PERIOD = (dt.datetime(2026, 1, 10, tzinfo=MSK), dt.datetime(2026, 1, 13, tzinfo=MSK))
LATER = (dt.datetime(2026, 1, 12, tzinfo=MSK), dt.datetime(2026, 1, 15, tzinfo=MSK))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_detail_export_uploads_to_exact_totals(world, api_as, connection, sim, fmt):
    _sync(connection)
    source = _detail_source(world, connection)
    url = f"/api/v1/cost-sources/{source.pk}/upload/"
    client = api_as(world.owner_a)
    upload = SimpleUploadedFile(f"detail.{fmt}", sim.detail_export(*PERIOD, fmt))

    answer = client.post(url, {"file": upload}, format="multipart")

    assert answer.status_code == 201, answer.json()
    run = ImportRun.objects.get(pk=answer.json()["id"])
    assert run.status == ImportRun.Status.SUCCEEDED
    items = CostLineItem.objects.filter(x_source_key=source.source_key)
    assert items.aggregate(s=Sum("billed_cost"))["s"] == sim.total(*PERIOD)
    assert not items.filter(x_estimated=True).exists()
    assert items.filter(x_resource__isnull=True).count() == 0  # linked to synced resources

    # A later export replaces the days it covers and keeps the earlier ones.
    later = SimpleUploadedFile(f"later.{fmt}", sim.detail_export(*LATER, fmt))
    client.post(url, {"file": later}, format="multipart")
    expected = sim.total(PERIOD[0], LATER[0]) + sim.total(*LATER)
    assert items.aggregate(s=Sum("billed_cost"))["s"] == expected


def test_a_detail_file_with_bad_rows_is_refused_naming_them(world, api_as, connection, sim):
    source = _detail_source(world, connection)
    text = sim.detail_export(*PERIOD, "csv").decode("utf-8-sig").splitlines()
    text[3] = text[3].replace(".2026", ".20x6", 1)
    upload = SimpleUploadedFile("detail.csv", "\n".join(text).encode())

    answer = api_as(world.owner_a).post(
        f"/api/v1/cost-sources/{source.pk}/upload/", {"file": upload}, format="multipart"
    )

    assert answer.status_code == 400
    assert "row 4: the date '10.01.20x6'" in answer.json()["detail"]
    run = ImportRun.objects.get(source_key=source.source_key)
    assert run.status == ImportRun.Status.FAILED
    assert not CostLineItem.objects.filter(x_source_key=source.source_key).exists()


def test_the_balance_is_collected(connection, sim):
    assert connection_balances_collect(connection_id=connection.pk, trigger="manual")
    main = BalanceSnapshot.objects.get(connection=connection, kind="main")
    assert main.amount == sim.base_balance()
    assert BalanceSnapshot.objects.get(connection=connection, kind="bonus").amount == Decimal(
        "300.00"
    )
