"""Resource metrics: collect VM CPU utilization, summarise days, expire raw samples.

Collection re-reads a lookback window on every run and replaces that window's samples of the
connection's live VMs in one transaction (DELETE, then COPY). So runs are idempotent: a repeated
or retried run leaves the same rows, late points are picked up by the next run, a few missed runs
heal themselves, and a failed run leaves the previous samples in place. Every run is recorded as a
``SyncRun`` of kind "metrics" with one audit event.

Overlap: collections of one connection never overlap. They take a PostgreSQL session advisory lock
(``pg_try_advisory_lock``) rather than the discovery lease, because sharing the lease would make
the two jobs skip each other: a metrics run would silently cancel a scheduled discovery (whose due
time the dispatcher has already moved on) or a webhook refresh, and a long discovery of a large
account would cancel hourly metrics. The two may safely run side by side: metrics only read the
resource registry. The lock needs no column and disappears with its session if a worker dies;
it does assume a direct (or session-pooled) database connection, as Celery workers have.

Partial permissions: a folder whose monitoring the credentials may not read (403) is skipped by
the adapter; its VMs keep their stored samples (their window is not replaced), the run records a
warning, and the connection is ``degraded`` rather than ``auth_failed`` (only a refusal of the
credentials themselves is an auth failure). The other folders are collected as usual.

Downsampling summarises whole UTC days into ``ResourceMetricDaily``; retention drops raw monthly
partitions past ``METRICS_RAW_RETENTION_DAYS``, summarising their days first so that no day is lost
even if the daily downsampling was down for a while.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db import connection as db
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError
from core.locks import LockKey
from core.services.guards import require_capability
from providers import metrics_store, run_locks
from providers.adapters.base import (
    MetricTarget,
    MetricWindow,
    ProviderAuthError,
    ProviderError,
    ProviderPermissionDenied,
    ResourceType,
)
from providers.adapters.listing import ListingReport
from providers.adapters.registry import UnsupportedProvider
from providers.models import Connection, Resource, ResourceMetric, SyncRun
from providers.services import health

logger = logging.getLogger(__name__)

METRICS_LOCK_NAMESPACE = int(LockKey.METRICS_COLLECT)


def default_lookback() -> dt.timedelta:
    return dt.timedelta(hours=settings.METRICS_LOOKBACK_HOURS)


def default_step() -> dt.timedelta:
    return dt.timedelta(minutes=settings.METRICS_STEP_MINUTES)


# --- collection -----------------------------------------------------------------------------
def resource_metrics_collect(
    *,
    actor=None,
    connection_id: int,
    lookback: dt.timedelta | None = None,
    end: dt.datetime | None = None,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    adapter_factory: Callable[[Connection], object] | None = None,
    task_id: str = "",
) -> SyncRun | None:
    """Collect CPU utilization of the connection's live VMs over the last ``lookback``.

    Returns the run, or None (writing nothing) when another collection of this connection is
    running or the connection is disabled. ``actor`` is None for scheduled runs; a person needs
    manage_connections. ``end`` (default now) is aligned down to the sample step. ``task_id``
    makes a redelivered task return the run it already finished.
    """
    from providers.services.recovery import redelivered_sync_run

    if actor is not None:
        tenant_id = Connection.objects.values_list("tenant_id", flat=True).get(pk=connection_id)
        require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant_id, action="sync")
    if task_id:
        done, earlier = redelivered_sync_run(task_id, SyncRun.Kind.METRICS)
        if done:
            return earlier
    window = MetricWindow.lookback(lookback or default_lookback(), step=default_step(), end=end)
    with _collection_lock(connection_id) as held:
        if not held:
            logger.info("connection %s: metric collection already running, skipped", connection_id)
            return None
        connection = Connection.objects.select_related("tenant").get(pk=connection_id)
        if not connection.is_enabled:
            return None
        return _collect(actor, connection, window, trigger, adapter_factory, task_id)


@contextlib.contextmanager
def _collection_lock(connection_id: int) -> Iterator[bool]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [METRICS_LOCK_NAMESPACE, connection_id]
        )
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            # A session lock outlives transactions, so it is released explicitly; if the
            # connection is unusable by now, the lock goes with the session anyway.
            with contextlib.suppress(DatabaseError), db.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [METRICS_LOCK_NAMESPACE, connection_id]
                )


def live_vm_targets(connection_id: int) -> tuple[list[MetricTarget], dict[str, int]]:
    """The connection's live VMs as adapter targets, plus provider id -> resource id."""
    rows = Resource.objects.filter(
        connection_id=connection_id, type=ResourceType.VM, deleted_at__isnull=True
    ).values_list("id", "provider_id", "sub_account", "specs")
    targets, ids = [], {}
    for pk, provider_id, sub_account, specs in rows:
        targets.append(
            MetricTarget(
                provider_id=provider_id,
                type=ResourceType.VM,
                sub_account=sub_account or None,
                specs=specs or {},
            )
        )
        ids[provider_id] = pk
    return targets, ids


@dataclass
class _Outcome:
    vms: int = 0
    resource_ids: list[int] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    adapter: object = None
    error: str = ""
    auth_failed: bool = False
    denied: bool = False
    report: ListingReport | None = None


def _collect(actor, connection, window, trigger, adapter_factory, task_id="") -> SyncRun:
    run = SyncRun.objects.create(
        tenant_id=connection.tenant_id,
        connection=connection,
        kind=SyncRun.Kind.METRICS,
        trigger=trigger,
        started_at=timezone.now(),
        progress=_window_info(window),
        task_id=task_id,
    )
    with run_locks.holding(LockKey.SYNC_RUN, run.pk):
        _collect_into(actor, connection, run, window, adapter_factory)
    return run


def _collect_into(actor, connection, run, window, adapter_factory) -> None:
    from providers.services.sync import adapter_for

    started = time.monotonic()
    targets, ids = live_vm_targets(connection.pk)
    outcome = _Outcome(vms=len(targets), resource_ids=list(ids.values()))
    try:
        if targets:  # nothing to ask the provider (and no adapter needed) without VMs
            outcome.adapter = (adapter_factory or adapter_for)(connection)
            outcome.rows = _samples(outcome.adapter, targets, ids, window, connection.tenant_id)
            outcome.report = getattr(outcome.adapter, "listing", None)
            _keep_unread_folders(outcome, targets, ids)
    except ProviderPermissionDenied as exc:
        outcome.denied, outcome.error = True, _reason(exc)
    except ProviderAuthError as exc:
        outcome.auth_failed, outcome.error = True, _reason(exc)
    except (ProviderError, UnsupportedProvider, DecryptionError, ValueError) as exc:
        outcome.error = _reason(exc)
    except Exception as exc:
        outcome.error = f"Internal error: {type(exc).__name__}"
        _finish(actor, connection, run, window, started, outcome)
        raise
    _finish(actor, connection, run, window, started, outcome)


def _keep_unread_folders(outcome: _Outcome, targets: list[MetricTarget], ids: dict) -> None:
    """Replace samples only of VMs whose folder was read: a folder skipped for want of
    permission keeps what it had (and what was fetched of it is not written, or it would be
    stored twice)."""
    report = outcome.report
    if not isinstance(report, ListingReport) or not report.per_unit:
        return
    readable = {
        ids[t.provider_id]
        for t in targets
        if report.may_delete(ResourceType.VM, t.sub_account or "")
    }
    outcome.resource_ids = [pk for pk in outcome.resource_ids if pk in readable]
    outcome.rows = [row for row in outcome.rows if row[1] in readable]


def _samples(adapter, targets, ids, window, tenant_id) -> list[tuple]:
    rows = []
    for sample in adapter.metrics(targets, window):
        resource_id = ids.get(sample.provider_id)
        # Only the window's own points: one outside it would escape the DELETE that makes the
        # next run's replace idempotent, and be stored twice.
        if resource_id is None or not window.start <= sample.timestamp < window.end:
            continue
        rows.append((tenant_id, resource_id, sample.metric, sample.timestamp, sample.value))
    return rows


def _reason(exc: Exception) -> str:
    # Adapters word their errors for people and never include credentials.
    return str(exc) or type(exc).__name__


def _window_info(window: MetricWindow) -> dict:
    return {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "step_s": int(window.step.total_seconds()),
    }


@transaction.atomic
def _finish(actor, connection, run, window, started, outcome: _Outcome) -> None:
    error = outcome.error
    written = replaced = 0
    if not error:
        # Replace, not append: the window's old samples of these VMs go, whatever their metric
        # (a VM stopped since the last run reports nothing and must not keep stale points).
        replaced, _ = ResourceMetric.objects.filter(
            resource_id__in=outcome.resource_ids, ts__gte=window.start, ts__lt=window.end
        ).delete()
        written = metrics_store.samples_write(outcome.rows)
    run.status = SyncRun.Status.FAILED if error else SyncRun.Status.SUCCEEDED
    run.complete = not error
    run.error = error
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.seen, run.created = outcome.vms, written
    run.api_calls = getattr(outcome.adapter, "api_calls", 0)
    run.progress = {
        **_window_info(window),
        "vms": outcome.vms,
        "samples": written,
        "replaced": replaced,
    }
    if isinstance(outcome.report, ListingReport):
        run.warnings, run.outcomes = outcome.report.warnings(), outcome.report.type_outcomes()
    run.save()
    live = Connection.objects.filter(pk=connection.pk)
    if outcome.auth_failed:
        # The credentials were refused: the connection says so, as after a discovery run.
        live.exclude(status=Connection.Status.DISABLED).update(
            status=Connection.Status.AUTH_FAILED, last_error=error
        )
    elif outcome.denied or not error:
        # Monitoring unreadable (in some folders): degraded; all readable again: ok. A discovery
        # failure (error, auth_failed) stays what it is until the next discovery run.
        status, text = (
            (Connection.Status.DEGRADED, error) if error else health.after_run(connection.pk, run)
        )
        live.filter(status__in=[Connection.Status.OK, Connection.Status.DEGRADED]).exclude(
            status=status, last_error=text
        ).update(status=status, last_error=text)
    record_event(
        event_type="connection.metrics_failed" if error else "connection.metrics_collected",
        actor=actor,
        tenant=connection.tenant_id,
        target=connection,
        extra={
            "sync_run": run.pk,
            "trigger": run.trigger,
            **run.progress,
            "api_calls": run.api_calls,
            "error": error,
            "warnings": [w["message"] for w in run.warnings],
        },
    )


def connections_due_for_metrics() -> list[int]:
    """Enabled connections with live VMs whose credentials were not refused."""
    live_vms = Resource.objects.filter(
        connection=OuterRef("pk"), type=ResourceType.VM, deleted_at__isnull=True
    )
    return list(
        Connection.objects.exclude(
            status__in=[Connection.Status.DISABLED, Connection.Status.AUTH_FAILED]
        )
        .filter(Exists(live_vms))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- downsampling and retention -------------------------------------------------------------
def days_to_downsample(
    *, now: dt.datetime | None = None, lookback: dt.timedelta | None = None
) -> list[dt.date]:
    """The previous UTC day, plus every earlier day a collection may have rewritten since the
    last daily run (collection re-reads ``lookback``, so yesterday's run could not see all)."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    yesterday = now.date() - dt.timedelta(days=1)
    first = (now - (lookback or default_lookback()) - dt.timedelta(days=1)).date()
    return [first + dt.timedelta(days=n) for n in range((yesterday - first).days + 1)]


def resource_metrics_downsample(*, days: Iterable[dt.date]) -> dict[str, int]:
    """Summarise each UTC day into ResourceMetricDaily (an upsert: safe to repeat).

    Derived data only, so no audit event: the raw samples it reads were recorded by their run.
    """
    return {day.isoformat(): metrics_store.downsample_day(day) for day in sorted(set(days))}


def resource_metrics_expire(
    *, keep_days: int | None = None, today: dt.date | None = None
) -> list[str]:
    """Drop raw partitions whose whole month is older than ``keep_days``; daily rows stay."""
    keep_days = settings.METRICS_RAW_RETENTION_DAYS if keep_days is None else keep_days
    today = today or timezone.now().astimezone(dt.UTC).date()
    cutoff = today - dt.timedelta(days=keep_days)
    # drop_expired_partitions drops exactly the months that end on or before the cutoff, i.e.
    # every sample before the cutoff's month. Summarise those days first (an upsert), so a
    # stretch the daily job missed is not lost with its partition.
    boundary = dt.datetime(cutoff.year, cutoff.month, 1, tzinfo=dt.UTC)
    resource_metrics_downsample(days=_days_with_samples(before=boundary))
    dropped = metrics_store.drop_expired_partitions(keep_days=keep_days, today=today)
    if dropped:
        with transaction.atomic():
            record_event(
                event_type="metrics.raw_partitions_dropped",
                extra={"partitions": dropped, "keep_days": keep_days, "before": str(boundary)},
            )
    return dropped


def _days_with_samples(*, before: dt.datetime) -> list[dt.date]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM providers_resourcemetric "
            "WHERE ts < %s",
            [before],
        )
        return [row[0] for row in cursor.fetchall()]
