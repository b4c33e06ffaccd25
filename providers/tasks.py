"""Celery tasks for providers. Thin: they call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core.tasks import ContextTask
from providers.models import Connection, SyncRun

logger = logging.getLogger(__name__)


@shared_task(base=ContextTask, name="providers.connection_sync", acks_late=True)
def connection_sync_task(connection_id: int, trigger: str = SyncRun.Trigger.SCHEDULE):
    from providers.services.sync import connection_sync

    if not Connection.objects.filter(pk=connection_id).exists():
        return None  # deleted since it was queued
    run = connection_sync(connection_id=connection_id, trigger=trigger)
    return None if run is None else {"run": run.pk, "status": run.status}


@shared_task(base=ContextTask, name="providers.sync_dispatch")
def sync_dispatch_task() -> list[int]:
    """Queue a sync for every enabled connection whose time has come.

    The due slot is claimed with one conditional UPDATE (next_sync_at moves forward by the
    interval), so overlapping dispatchers never queue the same connection twice.
    """
    now = timezone.now()
    due = list(
        Connection.objects.filter(next_sync_at__lte=now)
        .exclude(status=Connection.Status.DISABLED)
        .values_list("pk", flat=True)[:1000]
    )
    claimed = []
    for pk in due:
        moved = Connection.objects.filter(pk=pk, next_sync_at__lte=now).update(
            next_sync_at=now + F("sync_interval")
        )
        if moved:
            claimed.append(pk)
            connection_sync_task.apply_async(
                kwargs={"connection_id": pk, "trigger": SyncRun.Trigger.SCHEDULE}
            )
    if claimed:
        logger.info("dispatched syncs for connections %s", claimed)
    return claimed


# --- metrics --------------------------------------------------------------------------------
@shared_task(base=ContextTask, name="providers.resource_metrics_collect", acks_late=True)
def resource_metrics_collect_task(connection_id: int, trigger: str = SyncRun.Trigger.SCHEDULE):
    from providers.services.metrics import resource_metrics_collect

    if not Connection.objects.filter(pk=connection_id).exists():
        return None  # deleted since it was queued
    run = resource_metrics_collect(connection_id=connection_id, trigger=trigger)
    return None if run is None else {"run": run.pk, "status": run.status}


@shared_task(base=ContextTask, name="providers.metrics_dispatch")
def metrics_dispatch_task() -> list[int]:
    """Queue a metric collection for every connection with live VMs.

    Collection re-reads a lookback window, so a run that never happens (workers down) is made
    good by the next one; queued runs therefore expire after one interval instead of piling up.
    """
    from providers.services.metrics import connections_due_for_metrics

    expires = max(settings.METRICS_COLLECT_INTERVAL_MINUTES * 60 - 1, 1)
    due = connections_due_for_metrics()
    for pk in due:
        resource_metrics_collect_task.apply_async(
            kwargs={"connection_id": pk, "trigger": SyncRun.Trigger.SCHEDULE}, expires=expires
        )
    if due:
        logger.info("dispatched metric collection for connections %s", due)
    return due


@shared_task(base=ContextTask, name="providers.metrics_downsample")
def metrics_downsample_task() -> dict[str, int]:
    from providers.services.metrics import days_to_downsample, resource_metrics_downsample

    return resource_metrics_downsample(days=days_to_downsample())


@shared_task(base=ContextTask, name="providers.metrics_expire")
def metrics_expire_task() -> list[str]:
    from providers.services.metrics import resource_metrics_expire

    return resource_metrics_expire()
