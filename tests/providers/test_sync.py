"""The discovery sync against the Yandex Cloud simulator over real HTTP."""

from __future__ import annotations

import pytest

from core.models import AuditEvent
from providers.adapters.simulation.faults import Fault
from providers.models import Connection, Resource, ResourceEvent, SyncRun
from providers.services.sync import SYNC_LEASE, connection_sync
from tests.factories import ConnectionFactory


def _sync(connection, **kwargs):
    return connection_sync(connection_id=connection.pk, trigger="manual", **kwargs)


def _live(connection):
    return Resource.objects.filter(connection=connection, deleted_at__isnull=True)


def test_first_sync_discovers_every_resource(yc_connection, yc_sim):
    run = _sync(yc_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.complete
    assert run.created == yc_sim.expected_count() == _live(yc_connection).count()
    assert run.api_calls > 0
    assert ResourceEvent.objects.filter(kind="appeared").count() == run.created
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.OK
    assert yc_connection.last_full_sync_at is not None
    event = AuditEvent.objects.get(event_type="connection.synced")
    assert event.extra["created"] == run.created
    assert event.tenant_id == yc_connection.tenant_id


def test_parents_are_linked(yc_connection):
    _sync(yc_connection)
    disks = Resource.objects.filter(connection=yc_connection, type="disk").exclude(
        parent_provider_id=""
    )
    assert disks.exists()
    assert all(d.parent is not None and d.parent.type == "vm" for d in disks)
    hosts = Resource.objects.filter(connection=yc_connection, type="database_host")
    assert all(h.parent.type == "database_cluster" for h in hosts)


def test_unchanged_resync_writes_no_resource_rows(yc_connection):
    _sync(yc_connection)
    before = list(Resource.objects.order_by("pk").values_list("pk", "content_hash", "last_seen_at"))
    events = ResourceEvent.objects.count()

    run = _sync(yc_connection)

    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert run.unchanged == len(before)
    assert ResourceEvent.objects.count() == events
    after = list(Resource.objects.order_by("pk").values_list("pk", "content_hash", "last_seen_at"))
    assert after == before


def test_changes_appearances_and_disappearances_are_recorded(yc_connection, yc_sim):
    _sync(yc_connection)
    report = yc_sim.mutate(appear=3, change=2, disappear=2)
    assert len(report.disappeared) >= 2  # guards the guard: the simulator did remove some

    run = _sync(yc_connection)

    assert run.created >= 3
    assert run.updated >= 2
    assert run.deleted >= 2
    gone = Resource.objects.filter(provider_id__in=report.disappeared)
    assert all(r.deleted_at is not None for r in gone)
    changed = ResourceEvent.objects.filter(kind="changed", resource__provider_id__in=report.changed)
    assert changed.count() == len(report.changed)
    assert all(event.changes for event in changed)
    for event in changed:
        for old_new in event.changes.values():
            assert len(old_new) == 2


def test_reappearing_resource_is_revived_with_an_event(yc_connection, yc_sim):
    _sync(yc_connection)
    victim = _live(yc_connection).filter(type="vm").first()
    Resource.objects.filter(pk=victim.pk).update(deleted_at="2026-01-01T00:00:00Z")

    _sync(yc_connection)

    victim.refresh_from_db()
    assert victim.deleted_at is None
    assert ResourceEvent.objects.filter(resource=victim, kind="reappeared").exists()


@pytest.mark.parametrize(
    "fault",
    [
        Fault("rate_limit", retry_after=1, times=2, path="/compute/"),
        Fault("unavailable", status=503, times=2, path="/vpc/"),
        Fault("slow", delay=0.2, times=2),
    ],
    ids=["429", "5xx-burst", "slow"],
)
def test_transient_faults_are_retried_and_the_run_completes(
    yc_connection, yc_sim, fast_adapter, fault
):
    yc_sim.inject(fault)
    run = _sync(yc_connection, adapter_factory=fast_adapter)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.created == yc_sim.expected_count()
    if fault.kind == "rate_limit":
        assert all(wait >= 1.0 for wait in fast_adapter.sleeps[:2])  # Retry-After honoured


@pytest.mark.parametrize(
    "fault",
    [
        Fault("unavailable", status=503, times=100, path="/managed-postgresql/"),
        Fault("malformed", times=100, path="/managed-postgresql/"),
    ],
    ids=["persistent-5xx", "malformed-json"],
)
def test_a_failed_run_keeps_what_it_did_not_finish_and_applies_what_it_did(
    yc_connection, yc_sim, fast_adapter, fault
):
    _sync(yc_connection)
    live_before = _live(yc_connection).count()
    first, second = list(yc_sim.inventory.folders)  # walked in this order
    # Gone from three listings: one the walk completes before the failure (folder 1's disks),
    # the failing unit's successors (folder 1's Kubernetes clusters) and folder 2, never reached.
    gone_early = _first_id(yc_sim, first, "disks")
    gone_later = _first_id(yc_sim, first, "k8s_clusters")
    gone_unreached = _first_id(yc_sim, second, "disks")
    for folder, collection, item in (
        (first, "disks", gone_early),
        (first, "k8s_clusters", gone_later),
        (second, "disks", gone_unreached),
    ):
        yc_sim.inventory.remove(folder, collection, item)
    yc_sim.inject(fault)

    run = _sync(yc_connection, adapter_factory=fast_adapter)

    assert run.status == SyncRun.Status.FAILED
    assert not run.complete
    assert run.error
    assert run.deleted == 1
    assert Resource.objects.get(provider_id=gone_early).deleted_at is not None
    assert Resource.objects.get(provider_id=gone_later).deleted_at is None
    assert Resource.objects.get(provider_id=gone_unreached).deleted_at is None
    assert _live(yc_connection).count() == live_before - 1
    assert run.outcomes["disk"] == "complete"  # folder 1's was; folder 2's was never reached
    assert run.outcomes["database_cluster"] == "failed"
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.ERROR
    assert yc_connection.last_error == run.error


def _first_id(sim, folder: str, collection: str) -> str:
    return next(iter(sim.inventory.folders[folder].items[collection]))


def test_auth_failure_stops_the_run_and_marks_the_connection(yc_connection, fast_adapter):
    from providers.services.connections import connection_update

    connection_update(actor=None, connection=yc_connection, credentials={"oauth_token": "wrong"})
    run = _sync(yc_connection, adapter_factory=fast_adapter)

    assert run.status == SyncRun.Status.FAILED
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.AUTH_FAILED
    assert "wrong" not in yc_connection.last_error  # the credential is never echoed
    assert fast_adapter.sleeps == []  # auth errors are not retried


def test_token_expiry_mid_run_is_survived(world, yc_sim):
    from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator

    with YandexCloudSimulator(
        SimulatorConfig(seed=3, folders=2, resources_per_folder=20, requests_per_token=5)
    ) as sim:
        connection = ConnectionFactory(
            tenant=world.a,
            name="Short tokens",
            credentials={"oauth_token": sim.oauth_token},
            endpoints={"*": sim.url},
        )
        run = _sync(connection)
        assert run.status == SyncRun.Status.SUCCEEDED
        assert run.created == sim.expected_count()


def test_a_held_lease_means_no_second_run(yc_connection):
    token = SYNC_LEASE.claim(yc_connection.pk)
    try:
        assert _sync(yc_connection) is None
        assert not SyncRun.objects.filter(connection=yc_connection).exists()
    finally:
        SYNC_LEASE.release(yc_connection.pk, token)
    assert _sync(yc_connection) is not None


def test_disabled_connections_do_not_sync(yc_connection):
    from providers.services.connections import connection_set_enabled

    connection_set_enabled(actor=None, connection=yc_connection, enabled=False)
    assert _sync(yc_connection) is None


def test_an_id_listed_twice_becomes_one_resource(yc_connection):
    from providers.services.sync import adapter_for

    def doubling(connection):
        adapter = adapter_for(connection)

        class Doubled:
            api_calls = 0

            def discover(self):
                records = list(adapter.discover())
                yield from records
                yield records[0]  # the provider repeats an id at the end of its listing

        return Doubled()

    run = _sync(yc_connection, adapter_factory=doubling)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.progress["duplicates"] == 1
    assert Resource.objects.filter(connection=yc_connection).count() == run.created
