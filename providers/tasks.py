"""Celery tasks for providers. Thin: they call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from core.tasks import ContextTask
from providers.models import Connection, CostSource, SyncRun
from providers.services.scheduled import due_claim

logger = logging.getLogger(__name__)


@shared_task(base=ContextTask, name="providers.connection_sync", acks_late=True, bind=True)
def connection_sync_task(self, connection_id: int, trigger: str = SyncRun.Trigger.SCHEDULE):
    from providers.services.sync import connection_sync

    if not Connection.objects.filter(pk=connection_id).exists():
        return None  # deleted since it was queued
    # The task id lets a redelivered task find the run it already did (acks_late redelivers).
    run = connection_sync(
        connection_id=connection_id, trigger=trigger, task_id=self.request.id or ""
    )
    if run is not None and run.status == SyncRun.Status.SUCCEEDED:
        _collect_balances_after_sync(connection_id)
        _collect_operations_after_sync(run)
    return None if run is None else {"run": run.pk, "status": run.status}


def _collect_balances_after_sync(connection_id: int) -> None:
    """The balance is read right after every successful sync (providers that report one)."""
    from providers.services.balances import collects_balances, connection_balances_collect

    connection = Connection.objects.filter(pk=connection_id).only("pk", "provider").first()
    if connection is None or not collects_balances(connection):
        return
    try:
        connection_balances_collect(connection_id=connection_id, trigger="sync")
    except Exception:  # the sync succeeded and is recorded; the hourly schedule reads it again
        logger.exception("connection %s: balance collection after the sync failed", connection_id)


def _collect_operations_after_sync(run: SyncRun) -> None:
    """The operation log is read right after every successful sync (providers that keep one);
    a failure there is a warning on the run, never a failed sync."""
    from providers.services.operations import operations_collect_after_sync

    try:
        operations_collect_after_sync(run)
    except Exception:  # the sync succeeded and is recorded; the next one reads the log again
        logger.exception("connection %s: operation log after the sync failed", run.connection_id)


# --- one resource (the webhook refresh) -----------------------------------------------------
REFRESH_RETRY_S = 15


@shared_task(
    base=ContextTask, name="providers.resource_refresh", acks_late=True, bind=True, max_retries=8
)
def resource_refresh_task(self, resource_id: int, trigger: str = "webhook"):
    """Read one resource and apply it (``providers.services.refresh``). While a sync of its
    connection runs, retried a little later rather than interleaving writes with it."""
    from providers.models import Resource
    from providers.services.refresh import Outcome, resource_refresh

    if not Resource.objects.filter(pk=resource_id).exists():
        return None  # removed since it was queued
    result = resource_refresh(resource_id=resource_id, trigger=trigger)
    if result.outcome == Outcome.BUSY:
        raise self.retry(countdown=REFRESH_RETRY_S)
    return {"resource": resource_id, "outcome": result.outcome}


@shared_task(base=ContextTask, name="providers.sync_dispatch")
def sync_dispatch_task() -> list[int]:
    """Queue a sync for every enabled connection whose time has come (each due slot is claimed
    once, see ``providers.services.scheduled.due_claim``)."""
    claimed = due_claim(
        Connection,
        due_field="next_sync_at",
        interval_field="sync_interval",
        enqueue=lambda pk: connection_sync_task.apply_async(
            kwargs={"connection_id": pk, "trigger": SyncRun.Trigger.SCHEDULE}
        ),
    )
    if claimed:
        logger.info("dispatched syncs for connections %s", claimed)
    return claimed


# --- metrics --------------------------------------------------------------------------------
@shared_task(base=ContextTask, name="providers.resource_metrics_collect", acks_late=True, bind=True)
def resource_metrics_collect_task(
    self, connection_id: int, trigger: str = SyncRun.Trigger.SCHEDULE
):
    from providers.services.metrics import resource_metrics_collect

    if not Connection.objects.filter(pk=connection_id).exists():
        return None  # deleted since it was queued
    run = resource_metrics_collect(
        connection_id=connection_id, trigger=trigger, task_id=self.request.id or ""
    )
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


@shared_task(base=ContextTask, name="providers.stuck_runs_reap")
def stuck_runs_reap_task() -> dict[str, int]:
    """Settle runs whose worker died (sync, metrics, imports, queued uploads)."""
    from providers.services.recovery import stuck_runs_reap

    return stuck_runs_reap()


# --- prepaid balances -----------------------------------------------------------------------
@shared_task(base=ContextTask, name="providers.connection_balances_collect", acks_late=True)
def connection_balances_collect_task(connection_id: int, trigger: str = "schedule"):
    from providers.services.balances import connection_balances_collect

    if not Connection.objects.filter(pk=connection_id).exists():
        return None  # deleted since it was queued
    result = connection_balances_collect(connection_id=connection_id, trigger=trigger)
    return None if result is None else {"ok": result.ok, "balances": result.balances}


@shared_task(base=ContextTask, name="providers.balances_dispatch")
def balances_dispatch_task() -> list[int]:
    """Queue a balance collection for every enabled connection whose provider reports balances.

    A collection only reads the balance now, so one that never runs (workers down) is made good
    by the next; queued ones expire after one interval instead of piling up."""
    from providers.services.balances import collects_balances

    expires = max(settings.BALANCE_COLLECT_INTERVAL_MINUTES * 60 - 1, 1)
    due = [
        connection.pk
        for connection in Connection.objects.exclude(status=Connection.Status.DISABLED).only(
            "pk", "provider"
        )
        if collects_balances(connection)
    ]
    for pk in due:
        connection_balances_collect_task.apply_async(
            kwargs={"connection_id": pk, "trigger": "schedule"}, expires=expires
        )
    if due:
        logger.info("dispatched balance collection for connections %s", due)
    return due


# --- cost imports ---------------------------------------------------------------------------
@shared_task(base=ContextTask, name="providers.cost_file_import", acks_late=True)
def cost_file_import_task(run_id: int, path: str, force: bool = False):
    """Import an uploaded FOCUS file into its pending ImportRun (queued by the upload)."""
    from providers.services.uploads import cost_upload_execute

    run = cost_upload_execute(run_id=run_id, path=path, force=force)
    return None if run is None else {"run": run.pk, "status": run.status}


# --- cost sources and exchange rates ---------------------------------------------------------
@shared_task(base=ContextTask, name="providers.cost_source_pull", acks_late=True)
def cost_source_pull_task(source_id: int, trigger: str = "schedule"):
    from providers.services.cost_source_pulls import cost_source_pull

    if not CostSource.objects.filter(pk=source_id).exists():
        return None  # deleted since it was queued
    result = cost_source_pull(source_id=source_id, trigger=trigger)
    if result is None:
        return None
    return {k: v for k, v in result.as_dict().items() if k != "runs"}


@shared_task(base=ContextTask, name="providers.cost_source_dispatch")
def cost_source_dispatch_task() -> list[int]:
    """Queue a pull for every enabled cost source whose time has come (each due slot is claimed
    once, see ``providers.services.scheduled.due_claim``)."""
    claimed = due_claim(
        CostSource,
        due_field="next_pull_at",
        interval_field="pull_interval",
        enqueue=lambda pk: cost_source_pull_task.apply_async(
            kwargs={"source_id": pk, "trigger": "schedule"}
        ),
    )
    if claimed:
        logger.info("dispatched pulls for cost sources %s", claimed)
    return claimed


@shared_task(base=ContextTask, name="providers.exchange_rates_fetch")
def exchange_rates_fetch_task(days_back: int = 7) -> dict:
    """Daily: the CBR's rates from a week back (heals missed runs; upserts are idempotent) up to
    tomorrow (the CBR publishes tomorrow's rates in the afternoon, Moscow time)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from providers.services.rates import exchange_rates_fetch

    today = dt.datetime.now(ZoneInfo("Europe/Moscow")).date()
    return exchange_rates_fetch(
        first_day=today - dt.timedelta(days=days_back), last_day=today + dt.timedelta(days=1)
    )
