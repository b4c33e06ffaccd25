"""Metric collection against the simulator's Monitoring API, downsampling and retention."""

from __future__ import annotations

import datetime as dt
import math

import psycopg
import pytest
from django.conf import settings
from django.db import connection as db
from django_celery_beat.models import PeriodicTask

from core.models import AuditEvent
from providers import metrics_store
from providers.adapters.yandex.metrics import CPU_OF_GUARANTEED, CPU_UTILIZATION
from providers.adapters.yandex.simulator_monitoring import cpu_value
from providers.models import (
    Connection,
    Resource,
    ResourceMetric,
    ResourceMetricDaily,
    SyncRun,
)
from providers.services.metrics import (
    METRICS_LOCK_NAMESPACE,
    connections_due_for_metrics,
    days_to_downsample,
    resource_metrics_collect,
    resource_metrics_downsample,
    resource_metrics_expire,
)
from providers.services.sync import connection_sync
from providers.tasks import metrics_dispatch_task, resource_metrics_collect_task
from tests.factories import ConnectionFactory

END = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
LOOKBACK = dt.timedelta(hours=6)


@pytest.fixture
def synced(yc_connection):
    connection_sync(connection_id=yc_connection.pk, trigger="manual")
    return yc_connection


def collect(connection, **kwargs):
    kwargs.setdefault("lookback", LOOKBACK)
    kwargs.setdefault("end", END)
    return resource_metrics_collect(connection_id=connection.pk, **kwargs)


def stored(connection):
    return list(
        ResourceMetric.objects.filter(resource__connection=connection)
        .order_by("resource_id", "metric", "ts")
        .values_list("resource_id", "metric", "ts", "value")
    )


def running_vms(connection):
    return Resource.objects.filter(
        connection=connection, type="vm", deleted_at__isnull=True, raw_status="RUNNING"
    )


# --- collection -----------------------------------------------------------------------------
def test_collection_stores_cpu_of_running_vms_within_their_core_fraction(synced, yc_sim):
    run = collect(synced)

    assert run.kind == SyncRun.Kind.METRICS
    assert run.status == SyncRun.Status.SUCCEEDED
    vms = list(running_vms(synced))
    assert vms
    assert run.seen == Resource.objects.filter(connection=synced, type="vm").count()
    hours = [END - LOOKBACK + dt.timedelta(hours=h) for h in range(6)]
    rows = stored(synced)
    assert run.created == len(rows) == len(vms) * len(hours) * 2
    for vm in vms:
        fraction = vm.specs["core_fraction"]
        series = {(metric, ts): value for rid, metric, ts, value in rows if rid == vm.pk}
        assert sorted({ts for _, ts in series}) == hours
        for moment in hours:
            used = series[(CPU_UTILIZATION, moment)]
            assert 0 <= used <= fraction
            assert 0 <= series[(CPU_OF_GUARANTEED, moment)] <= 100
            stamp = int(moment.timestamp() * 1000)
            per_cpu = [
                cpu_value(yc_sim.config.seed, vm.provider_id, cpu, stamp, fraction)
                for cpu in range(vm.specs["vcpu"])
            ]
            assert math.isclose(used, sum(per_cpu) / len(per_cpu))


def test_collection_records_one_run_and_one_audit_event(synced):
    before = AuditEvent.objects.count()

    run = collect(synced)

    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.event_type == "connection.metrics_collected"
    assert event.tenant_id == synced.tenant_id
    assert event.extra["sync_run"] == run.pk
    assert event.extra["samples"] == run.created
    assert event.extra["window_end"] == END.isoformat()
    assert run.api_calls > 0


def test_collecting_the_same_window_twice_leaves_the_same_rows(synced):
    first = collect(synced)
    rows = stored(synced)

    second = collect(synced)

    assert stored(synced) == rows
    assert second.created == first.created
    assert second.progress["replaced"] == len(rows)


def test_a_later_window_replaces_the_overlap_and_adds_the_new_hour(synced):
    collect(synced)
    per_hour = len(stored(synced)) // 6

    collect(synced, end=END + dt.timedelta(hours=1))

    assert len(stored(synced)) == per_hour * 7


def test_a_vm_stopped_since_the_last_run_keeps_no_stale_samples_in_the_window(synced, yc_sim):
    collect(synced)
    report = yc_sim.mutate(change=4)  # flips RUNNING <-> STOPPED
    connection_sync(connection_id=synced.pk, trigger="manual")
    stopped = Resource.objects.filter(provider_id__in=report.changed, raw_status="STOPPED")
    assert stopped.exists()

    collect(synced)

    assert not ResourceMetric.objects.filter(resource__in=stopped).exists()
    assert {rid for rid, *_ in stored(synced)} == set(
        running_vms(synced).values_list("pk", flat=True)
    )


def test_a_failed_collection_keeps_the_previous_samples(synced, yc_sim, fast_adapter):
    collect(synced)
    rows = stored(synced)
    yc_sim.inject("unavailable", status=503, times=100, path="/monitoring/")

    run = collect(synced, adapter_factory=fast_adapter)

    assert run.status == SyncRun.Status.FAILED
    assert "503" in run.error
    assert stored(synced) == rows
    assert AuditEvent.objects.latest("id").event_type == "connection.metrics_failed"
    synced.refresh_from_db()
    assert synced.status == Connection.Status.OK  # a monitoring outage is not a broken connection


def test_refused_credentials_mark_the_connection(synced, fast_adapter):
    from providers.services.connections import connection_update

    connection_update(actor=None, connection=synced, credentials={"oauth_token": "wrong"})

    run = collect(synced, adapter_factory=fast_adapter)

    assert run.status == SyncRun.Status.FAILED
    synced.refresh_from_db()
    assert synced.status == Connection.Status.AUTH_FAILED


def test_a_running_collection_of_the_connection_means_no_second_one(synced):
    params = db.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as other:  # another worker's session
        other.execute("SELECT pg_advisory_lock(%s, %s)", [METRICS_LOCK_NAMESPACE, synced.pk])

        assert collect(synced) is None
        assert not SyncRun.objects.filter(kind="metrics").exists()

    # The server drops a closed session's locks a moment after the client hangs up.
    _wait_until_lock_is_free(METRICS_LOCK_NAMESPACE, synced.pk)
    assert collect(synced) is not None  # the lock went with that session


def _wait_until_lock_is_free(namespace: int, key: int, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objid = %s AND granted",
                [namespace, key],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the advisory lock outlived its session")


def test_disabled_connections_collect_nothing(synced):
    from providers.services.connections import connection_set_enabled

    connection_set_enabled(actor=None, connection=synced, enabled=False)

    assert collect(synced) is None
    assert not ResourceMetric.objects.exists()


def test_a_connection_without_vms_records_an_empty_run_without_calling_the_provider(
    yc_connection,
):
    run = collect(yc_connection)  # never synced: no VMs known

    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.seen, run.created, run.api_calls) == (0, 0, 0)


# --- tasks and schedules --------------------------------------------------------------------
def test_dispatch_queues_connections_with_live_vms_only(synced, world, monkeypatch):
    # Never synced: nothing to collect.
    ConnectionFactory(tenant=world.b, name="Empty", credentials={"oauth_token": "x"})
    queued = []
    monkeypatch.setattr(
        resource_metrics_collect_task, "apply_async", lambda **kw: queued.append(kw)
    )

    assert metrics_dispatch_task.apply().get() == [synced.pk]
    assert queued[0]["kwargs"]["connection_id"] == synced.pk
    assert queued[0]["expires"] > 0
    assert connections_due_for_metrics() == [synced.pk]


def test_collect_task_runs_the_service_as_the_task(synced):
    result = resource_metrics_collect_task.apply(kwargs={"connection_id": synced.pk}).get()

    assert result["status"] == SyncRun.Status.SUCCEEDED
    assert SyncRun.objects.get(pk=result["run"]).trigger == SyncRun.Trigger.SCHEDULE
    assert AuditEvent.objects.latest("id").source == "task"


def test_metric_schedules_exist_after_migrate(db):
    tasks = dict(PeriodicTask.objects.values_list("task", "enabled"))
    assert tasks["providers.metrics_dispatch"]
    assert tasks["providers.metrics_downsample"]
    assert tasks["providers.metrics_expire"]
    dispatch = PeriodicTask.objects.get(task="providers.metrics_dispatch")
    assert dispatch.interval.every == settings.METRICS_COLLECT_INTERVAL_MINUTES * 60


# --- downsampling ---------------------------------------------------------------------------
def _write(resource, *points):
    metrics_store.samples_write(
        (resource.tenant_id, resource.pk, metric, ts, value) for metric, ts, value in points
    )


@pytest.fixture
def vm(world):
    from tests.contracts.samples import _sample_resource

    return _sample_resource(world, world.a)


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def test_downsampling_summarises_one_utc_day(vm):
    day = dt.date(2026, 2, 10)
    _write(
        vm,
        ("cpu_utilization", at(day, 0), 1.0),
        ("cpu_utilization", at(day, 6), 2.0),
        ("cpu_utilization", at(day, 12), 3.0),
        ("cpu_utilization", at(day, 23), 6.0),
        ("cpu_utilization", at(day + dt.timedelta(days=1), 0), 100.0),  # the next day
        ("cpu_utilization", at(day, 0) - dt.timedelta(minutes=1), 100.0),  # the day before
        ("memory", at(day, 3), 50.0),
    )

    assert resource_metrics_downsample(days=[day]) == {"2026-02-10": 2}

    cpu = ResourceMetricDaily.objects.get(resource=vm, metric="cpu_utilization")
    assert (cpu.day, cpu.avg, cpu.min, cpu.max, cpu.samples) == (day, 3.0, 1.0, 6.0, 4)
    assert ResourceMetricDaily.objects.get(resource=vm, metric="memory").samples == 1


def test_downsampling_again_updates_the_day_in_place(vm):
    day = dt.date(2026, 2, 10)
    _write(vm, ("cpu_utilization", at(day, 1), 4.0))
    resource_metrics_downsample(days=[day])
    _write(vm, ("cpu_utilization", at(day, 2), 8.0))  # a late point

    resource_metrics_downsample(days=[day])

    daily = ResourceMetricDaily.objects.get(resource=vm)
    assert (daily.avg, daily.samples) == (6.0, 2)


def test_the_daily_run_covers_yesterday_and_the_days_the_lookback_may_have_rewritten():
    now = dt.datetime(2026, 3, 10, 2, 30, tzinfo=dt.UTC)
    assert days_to_downsample(now=now, lookback=dt.timedelta(hours=6)) == [
        dt.date(2026, 3, 8),
        dt.date(2026, 3, 9),
    ]
    assert days_to_downsample(now=now, lookback=dt.timedelta(days=3))[0] == dt.date(2026, 3, 6)


# --- retention ------------------------------------------------------------------------------
def _partitions() -> set[str]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class parent ON parent.oid = inhparent "
            "JOIN pg_class child ON child.oid = inhrelid WHERE parent.relname = %s",
            [metrics_store.TABLE],
        )
        return {row[0] for row in cursor.fetchall()}


def test_retention_drops_old_raw_partitions_but_keeps_daily_aggregates(vm):
    old_day, recent_day = dt.date(2025, 11, 15), dt.date(2026, 1, 5)
    _write(
        vm,
        ("cpu_utilization", at(old_day, 1), 2.0),
        ("cpu_utilization", at(old_day, 2), 4.0),
        ("cpu_utilization", at(recent_day, 1), 7.0),
    )
    old_partition = metrics_store.partition_name(dt.date(2025, 11, 1))
    assert old_partition in _partitions()
    with db.cursor() as cursor:
        # The test runs in one transaction: run the deferred FK checks of the rows just written
        # now, as a commit would, or PostgreSQL refuses to drop their partition.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    # 35 days before 2026-01-20 is 2025-12-16: November has ended before it, December has not.
    dropped = resource_metrics_expire(keep_days=35, today=dt.date(2026, 1, 20))

    assert old_partition in dropped
    assert old_partition not in _partitions()
    assert metrics_store.partition_name(dt.date(2026, 1, 1)) in _partitions()
    assert list(
        ResourceMetric.objects.filter(resource_id=vm.pk).values_list("value", flat=True)
    ) == [7.0]
    # The old day was summarised before its raw samples went, although nobody downsampled it.
    daily = ResourceMetricDaily.objects.get(resource=vm, day=old_day)
    assert (daily.avg, daily.samples) == (3.0, 2)
    event = AuditEvent.objects.get(event_type="metrics.raw_partitions_dropped")
    assert event.tenant_id is None
    assert old_partition in event.extra["partitions"]


def test_retention_with_nothing_old_drops_nothing(vm):
    _write(vm, ("cpu_utilization", at(dt.date(2026, 1, 5), 1), 1.0))

    assert resource_metrics_expire(keep_days=35, today=dt.date(2026, 1, 20)) == []
    assert not AuditEvent.objects.filter(event_type="metrics.raw_partitions_dropped").exists()
