"""Beget end to end: ``connection_sync`` against the Beget simulator over real HTTP, into
PostgreSQL. The sync guarantees hold for it as for every provider: nothing lost, nothing wrongly
deleted, unchanged resources cost no write, a refused section degrades the connection (never
``auth_failed``), refused credentials do."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from providers.adapters.beget.adapter import BegetAdapter
from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig
from providers.models import Connection, Resource, SyncRun
from providers.services.sync import connection_sync
from tests.factories import ConnectionFactory


@pytest.fixture
def bg_sim():
    with BegetSimulator(SimulatorConfig(seed=5, servers=4, sites=5, domains=6)) as sim:
        yield sim


@pytest.fixture
def bg_connection(world, bg_sim):
    return ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="beget",
        name="Hosting",
        credentials=bg_sim.credentials,
        endpoints={"*": bg_sim.url},
    )


def _fast(connection):
    """The connection's adapter with retry waits recorded instead of slept."""
    from providers.services.connections import connection_credentials

    return BegetAdapter(
        connection_credentials(connection),
        scope=connection.scope,
        endpoints=connection.endpoints,
        http_options={"sleep": lambda s: None, "rng": random.Random(0), "max_attempts": 5},
    )


def _sync(connection, **options):
    return connection_sync(connection_id=connection.pk, trigger="manual", **options)


def _live(connection, **filters):
    return Resource.objects.filter(connection=connection, deleted_at__isnull=True, **filters)


def test_a_first_sync_stores_everything_and_a_resync_writes_nothing(bg_connection, bg_sim):
    run = _sync(bg_connection)

    assert run.status == SyncRun.Status.SUCCEEDED and run.complete
    assert run.created == bg_sim.expected_count() == _live(bg_connection).count()
    domain = _live(bg_connection, type="domain").exclude(specs__expires_on=None).first()
    assert isinstance(domain.specs["expires_on"], str)
    again = _sync(bg_connection)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert again.unchanged == run.created
    bg_connection.refresh_from_db()
    assert bg_connection.status == Connection.Status.OK


def test_changes_are_applied_and_removed_servers_marked_deleted(bg_connection, bg_sim):
    _sync(bg_connection)
    report = bg_sim.mutate(appear=2, change=1, disappear=1)

    run = _sync(bg_connection)

    # Updated: the renamed server, and the account (its site count grew with the new site).
    assert (run.created, run.updated, run.deleted) == (2, 2, 1)
    [gone] = report.disappeared
    assert Resource.objects.get(connection=bg_connection, provider_id=gone).deleted_at
    assert set(report.appeared) <= set(_live(bg_connection).values_list("provider_id", flat=True))


def test_a_refused_section_degrades_and_keeps_its_resources(bg_connection, bg_sim):
    _sync(bg_connection)
    backups = set(_live(bg_connection, type="backup").values_list("pk", flat=True))
    gone = bg_sim.mutate(disappear=1).disappeared[0]
    bg_sim.deny_service("backup")
    bg_sim.remove_service("mysql")

    run = _sync(bg_connection)

    assert run.status == SyncRun.Status.SUCCEEDED and not run.complete
    assert set(_live(bg_connection, type="backup").values_list("pk", flat=True)) == backups
    assert _live(bg_connection, type="database").count() == len(bg_sim.account.databases)
    # The readable units are applied in full: the removed server is marked deleted.
    assert Resource.objects.get(connection=bg_connection, provider_id=gone).deleted_at
    assert run.outcomes["backup"] == "denied" and run.outcomes["database"] == "absent"
    bg_connection.refresh_from_db()
    assert bg_connection.status == Connection.Status.DEGRADED
    assert "cannot read Backups: permission denied" in bg_connection.last_error

    bg_sim.grant_service("backup")
    bg_sim.grant_service("mysql")
    _sync(bg_connection)
    bg_connection.refresh_from_db()
    assert bg_connection.status == Connection.Status.OK


def test_a_failure_mid_walk_marks_nothing_deleted(bg_connection, bg_sim):
    _sync(bg_connection)
    before = _live(bg_connection).count()
    bg_sim.mutate(disappear=2)
    bg_sim.inject("malformed", times=0, path="/v1/vps/server/list")

    run = _sync(bg_connection, adapter_factory=_fast)

    assert run.status == SyncRun.Status.FAILED
    assert run.deleted == 0
    assert _live(bg_connection).count() == before


def test_a_wrong_api_password_is_an_auth_failure(bg_connection, bg_sim):
    bg_sim.inject("envelope_error", code="AUTH_ERROR", times=0, path="/api/")

    run = _sync(bg_connection, adapter_factory=_fast)

    assert run.status == SyncRun.Status.FAILED
    bg_connection.refresh_from_db()
    assert bg_connection.status == Connection.Status.AUTH_FAILED
    assert not _live(bg_connection).exists()


def test_rate_limits_and_outages_are_ridden_out(bg_connection, bg_sim):
    bg_sim.inject("envelope_error", code="LIMIT_ERROR", times=2, path="/api/")
    bg_sim.inject("rate_limit", times=1, path="/v1/")
    bg_sim.inject("unavailable", status=502, times=1)

    run = _sync(bg_connection, adapter_factory=_fast)

    assert run.status == SyncRun.Status.SUCCEEDED and run.complete
    assert run.created == bg_sim.expected_count()


def test_server_cpu_is_stored_and_kept_when_the_statistics_are_refused(bg_connection, bg_sim):
    from providers.models import ResourceMetric
    from providers.services.metrics import resource_metrics_collect

    _sync(bg_connection)
    lookback = dt.timedelta(hours=3)

    run = resource_metrics_collect(connection_id=bg_connection.pk, lookback=lookback)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    stored = ResourceMetric.objects.filter(resource__connection=bg_connection)
    vms = _live(bg_connection, type="vm").count()
    assert stored.filter(metric="cpu_utilization").count() == 3 * vms
    before = stored.count()
    bg_sim.deny_service("vps_statistic")

    resource_metrics_collect(connection_id=bg_connection.pk, lookback=lookback)

    assert stored.count() == before


def test_refused_vps_credentials_fail_the_sync_but_keep_what_was_read(world, bg_sim):
    connection = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="beget",
        name="Hosting, wrong VPS password",
        credentials={**bg_sim.credentials, "vps_password": "not-the-vps-password"},
        endpoints={"*": bg_sim.url},
    )

    run = _sync(connection, adapter_factory=_fast)

    assert run.status == SyncRun.Status.FAILED
    assert "INCORRECT_CREDENTIALS" in run.error
    assert "not-the-vps-password" not in run.error
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED
    # The hosting side listed before the servers is stored; nothing is marked deleted.
    assert _live(connection, type="site").count() == len(bg_sim.account.sites)
    assert not _live(connection, type="vm").exists() and run.deleted == 0
