"""Selectel end to end over real HTTP against its simulator: syncs through ``connection_sync``
(nothing lost, nothing wrongly deleted, no overlap, partial permissions -> degraded), the cost
API pull into FOCUS line items linked to the synced resources (exact Decimal totals) and the
balance collection."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.db.models import Sum

from providers.adapters.http import HttpClient
from providers.adapters.selectel.adapter import SelectelAdapter
from providers.adapters.selectel.simulator import SelectelSimulator
from providers.models import (
    BalanceSnapshot,
    Connection,
    CostLineItem,
    CostSource,
    Resource,
    SyncRun,
)
from providers.services.balances import connection_balances_collect
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.cost_sources import cost_source_create
from providers.services.sync import SYNC_LEASE
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def sim():
    with SelectelSimulator(seed=3, projects=2, resources_per_project=25) as s:
        yield s


@pytest.fixture
def connection(world, sim):
    return ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="selectel",
        name="Selectel prod",
        credentials=sim.credentials,
        endpoints=sim.endpoints,
    )


def _factory(max_attempts=3):
    def build(connection):
        from providers.services.connections import connection_credentials

        http = HttpClient(
            provider="Selectel", sleep=lambda s: None, rng=random.Random(0),
            max_attempts=max_attempts, timeout=(2.0, 5.0),
        )  # fmt: skip
        return SelectelAdapter(
            connection_credentials(connection),
            scope=connection.scope,
            endpoints=connection.endpoints,
            http=http,
            page_size=10,
        )

    return build


def _sync(connection, **options):
    return connection_sync_(connection, **options)


def connection_sync_(connection, factory=None):
    from providers.services.sync import connection_sync

    return connection_sync(
        connection_id=connection.pk, trigger="manual", adapter_factory=factory or _factory()
    )


def _live(connection, **filters):
    return Resource.objects.filter(connection=connection, deleted_at__isnull=True, **filters)


def test_first_sync_then_changes_nothing_lost_nothing_wrongly_deleted(connection, sim):
    run = _sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED and run.complete
    assert run.created == sim.expected_count() == _live(connection).count()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK

    again = _sync(connection)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert again.unchanged == sim.expected_count()

    sim.cloud.now = dt.datetime.now(dt.UTC)
    changes = sim.mutate(appear=3, change=2, disappear=2)
    third = _sync(connection)
    appeared = set(changes["appeared"]) - set(changes["disappeared"])
    assert third.created == len(appeared)
    assert third.deleted == len(set(changes["disappeared"]) - set(changes["appeared"]))
    assert _live(connection).count() == sim.expected_count()
    gone = Resource.objects.filter(provider_id__in=changes["disappeared"])
    assert all(r.deleted_at is not None for r in gone)


def test_partial_permissions_degrade_and_keep_what_cannot_be_read(connection, sim):
    _sync(connection)
    k8s = set(_live(connection, type__startswith="k8s").values_list("pk", flat=True))
    volumes = set(_live(connection, type="disk").values_list("provider_id", flat=True))
    assert k8s and volumes
    # A cluster really goes away while Kubernetes is unreadable: it must be kept.
    project, region, _, cluster = next(r for r in sim.cloud.resources() if r[2] == "clusters")
    sim.cloud.remove(project, region, "clusters", cluster["id"])
    gone_volume = next(i["id"] for p, r, k, i in sim.cloud.resources() if k == "volumes")
    owner = sim.cloud.find(gone_volume)
    sim.cloud.remove(owner[0], owner[1], "volumes", gone_volume)
    sim.deny_service("kubernetes")

    run = _sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED and not run.complete
    assert set(_live(connection, type__startswith="k8s").values_list("pk", flat=True)) == k8s
    assert Resource.objects.get(provider_id=gone_volume).deleted_at is not None
    assert run.deleted == 1
    assert run.outcomes["k8s_cluster"] == "denied"
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEGRADED
    assert "Managed Kubernetes" in connection.last_error

    sim.grant_service("kubernetes")
    _sync(connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK


def test_a_failure_mid_walk_marks_nothing_deleted_after_it(connection, sim):
    _sync(connection)
    before = _live(connection).count()
    sim.mutate(disappear=3)
    sim.inject("unavailable", times=0, path="/ru-1/compute")

    run = _sync(connection)

    assert run.status == SyncRun.Status.FAILED
    assert _live(connection).count() == before
    assert _live(connection, type="vm").count() >= 1
    assert (
        Resource.objects.filter(connection=connection, deleted_at__isnull=False, type="vm").count()
        == 0
    )


def test_refused_credentials_mark_the_connection_auth_failed(world, sim):
    bad = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="selectel",
        name="Selectel wrong",
        credentials={**sim.credentials, "password": "not-the-password"},
        endpoints=sim.endpoints,
    )
    run = _sync(bad)
    assert run.status == SyncRun.Status.FAILED
    bad.refresh_from_db()
    assert bad.status == Connection.Status.AUTH_FAILED


def test_no_overlapping_syncs(connection):
    token = SYNC_LEASE.claim(connection.pk)
    try:
        assert _sync(connection) is None
    finally:
        SYNC_LEASE.release(connection.pk, token)


def test_the_cost_pull_loads_exact_totals_linked_to_resources(world, connection, sim):
    _sync(connection)
    source = cost_source_create(
        actor=world.owner_a,
        tenant=world.a,
        kind=CostSource.Kind.PROVIDER_API,
        name="Selectel billing",
        connection=connection,
        start_pull=False,
    )

    result = cost_source_pull(source_id=source.pk, trigger="manual", adapter_factory=_factory())

    assert result is not None
    items = CostLineItem.objects.filter(x_source_key=source.source_key)
    total = items.aggregate(s=Sum("billed_cost"))["s"]
    # The first pull reads from the first day of last month (Moscow) up to now.
    today = dt.datetime.now(MSK).date()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=MSK)
    assert result.imported == 2
    assert total == Decimal(sim.total_kopecks(start, sim._now())) / 100
    assert items.filter(x_estimated=True).count() == 0
    linked = items.filter(x_resource__isnull=False).count()
    assert linked == items.count()  # every charged object was discovered
    assert set(items.values_list("provider_name", flat=True)) == {"Selectel"}


def test_balances_are_collected_as_snapshots(connection, sim):
    collection = connection_balances_collect(connection_id=connection.pk, trigger="manual")
    assert collection is not None
    main = BalanceSnapshot.objects.get(connection=connection, kind="main")
    assert main.amount == sim.main_balance() and main.currency == "RUB"
