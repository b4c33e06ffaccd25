"""Applying the mapping rules to cost data: after every import, and to the whole history (a run
with progress) whenever the rules, or what they read, change.

- ``map_imported_rows`` is the import hook (``providers.costs.hooks``): inside the import's
  transaction, before the rollups are rebuilt, it maps exactly the rows just loaded. An import
  therefore never leaves dimensions NULL where a rule matches, whatever its path.
- ``mapping_run_enqueue`` records a pending ``MappingRun`` (one per tenant at a time: a change
  while one is pending joins it) and queues ``mapping_run_execute`` once the change commits.
- ``mapping_run_execute`` re-applies the rules month by month, each month in its own
  transaction (one UPDATE, then the rollups of the days whose rows changed), recording progress
  between months. Amounts are never touched, so totals stay exactly what they were.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from allocation.mapping import (
    apply_rules,
    compile_rules,
    needs_raw_keys,
    rule_specs,
)
from allocation.models import MappingRun
from allocation.services.common import lock_rules_shared, require_manage
from allocation.tags import Aliases
from core.audit import record_event
from core.locks import LockKey
from core.models import Tenant
from providers.costs import rollups
from providers.costs.hooks import LoadedRows

logger = logging.getLogger(__name__)


# --- after every import ----------------------------------------------------------------------
def map_imported_rows(cursor, rows: LoadedRows) -> None:
    """The import hook: map the rows ``rows.import_run_id`` just loaded with the current rules."""
    lock_rules_shared(cursor, rows.tenant_id)
    specs = rule_specs(rows.tenant_id)
    if not specs:
        return  # loaded rows start with no dimensions
    aliases = Aliases.load(rows.tenant_id)
    raw_keys = None
    if needs_raw_keys(rows.tenant_id, specs, aliases):
        cursor.execute(
            "SELECT DISTINCT jsonb_object_keys(tags) FROM providers_costlineitem "
            "WHERE tenant_id = %s AND x_import_run_id = %s AND charge_period_start >= %s "
            "AND charge_period_start < %s AND jsonb_typeof(tags) = 'object'",
            [rows.tenant_id, rows.import_run_id, rows.start, rows.end],
        )
        raw_keys = [key for (key,) in cursor.fetchall()]
    compiled = compile_rules(rows.tenant_id, specs, aliases=aliases, raw_keys=raw_keys)
    apply_rules(cursor, compiled, start=rows.start, end=rows.end, import_run_id=rows.import_run_id)


# --- re-applying to the history --------------------------------------------------------------
def mapping_run_enqueue(
    *,
    tenant,
    trigger: str,
    reason: str,
    created_by=None,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
) -> MappingRun | None:
    """A pending run of the tenant's rules over its history (or [first_day, last_day]); called
    inside the transaction of the change that needs it (the run is queued once it commits). A
    pending run is reused, widened to cover both ranges. A change on a tenant without cost data
    needs no run (None): imports apply the rules as data arrives."""
    from providers.models import CostDailySummary

    tenant_id = getattr(tenant, "pk", tenant)
    if trigger != MappingRun.Trigger.MANUAL and not (
        CostDailySummary.objects.filter(tenant_id=tenant_id).exists()
    ):
        return None
    pending = (
        MappingRun.objects.select_for_update()
        .filter(tenant_id=tenant_id, status=MappingRun.Status.PENDING)
        .order_by("id")
        .first()
    )
    if pending is not None:
        if pending.first_day is not None and (first_day is None or last_day is None):
            pending.first_day = pending.last_day = None
        elif pending.first_day is not None:
            pending.first_day = min(pending.first_day, first_day)
            pending.last_day = max(pending.last_day, last_day)
        pending.reason = _join_reasons(pending.reason, reason)
        pending.save(update_fields=["first_day", "last_day", "reason"])
        return pending
    run = MappingRun.objects.create(
        tenant_id=tenant_id,
        trigger=trigger,
        reason=reason[:300],
        first_day=first_day,
        last_day=last_day,
        created_by=created_by,
    )
    transaction.on_commit(lambda: _queue(run.pk))
    return run


def _join_reasons(old: str, new: str) -> str:
    if not old:
        return new[:300]
    if new in old:
        return old
    joined = f"{old}; {new}"
    return joined if len(joined) <= 300 else old[:296] + "; …"


def _queue(run_id: int) -> None:
    from allocation.tasks import mapping_run_execute_task

    mapping_run_execute_task.delay(run_id)


@transaction.atomic
def mapping_run_request(
    *, actor, tenant, first_day: dt.date | None = None, last_day: dt.date | None = None
) -> MappingRun:
    """Re-apply the rules by hand (e.g. after restoring data), to the history or some days."""
    require_manage(actor, tenant)
    if (first_day is None) != (last_day is None):
        raise ValidationError(
            {"last_day": [_("Give both days, or neither for the whole history.")]}
        )
    if first_day is not None and last_day < first_day:
        raise ValidationError({"last_day": [_("The last day must not be before the first.")]})
    run = mapping_run_enqueue(
        tenant=tenant,
        trigger=MappingRun.Trigger.MANUAL,
        reason=_("requested"),
        created_by=actor,
        first_day=first_day,
        last_day=last_day,
    )
    record_event(
        event_type="allocation.mapping_run_requested",
        actor=actor,
        tenant=tenant,
        target=run,
        extra={"first_day": first_day, "last_day": last_day},
    )
    return run


def mapping_run_execute(run_id: int, task_id: str = "") -> MappingRun | None:
    """Run a pending mapping run (the task's body). One run per tenant at a time: a second
    worker waits for the first to finish. Returns None when the run is not pending any more."""
    run = MappingRun.objects.filter(pk=run_id).select_related("tenant").first()
    if run is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [int(LockKey.MAPPING_RUN), run.tenant_id])
    try:
        claimed = MappingRun.objects.filter(pk=run_id, status=MappingRun.Status.PENDING).update(
            status=MappingRun.Status.RUNNING, started_at=timezone.now(), task_id=task_id[:64]
        )
        if not claimed:
            return None
        # Holding the tenant's run lock, no other process runs its rules: a run still marked
        # running lost its worker (the next run re-applies everything it would have).
        MappingRun.objects.filter(
            tenant_id=run.tenant_id, status=MappingRun.Status.RUNNING
        ).exclude(pk=run_id).update(
            status=MappingRun.Status.FAILED,
            error=_("abandoned: its worker stopped"),
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return _execute(run)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [int(LockKey.MAPPING_RUN), run.tenant_id]
            )


def _execute(run: MappingRun) -> MappingRun:
    started = time.monotonic()
    tenant = run.tenant
    try:
        batches = month_batches(tenant, run.first_day, run.last_day)
        run.progress = {"batches": len(batches), "batches_done": 0, "rows_changed": 0}
        run.save(update_fields=["progress"])
        for first, last in batches:
            changed, refreshed = apply_to_days(tenant, first, last)
            run.rows_changed += changed
            run.days_refreshed += refreshed
            run.progress = {
                "batches": len(batches),
                "batches_done": run.progress["batches_done"] + 1,
                "day": last.isoformat(),
                "rows_changed": run.rows_changed,
            }
            run.save(update_fields=["progress", "rows_changed", "days_refreshed"])
        status, error = MappingRun.Status.SUCCEEDED, ""
    except Exception as exc:  # recorded on the run, then raised for the worker's log
        logger.exception("mapping run %s failed", run.pk)
        status, error = MappingRun.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        _finish(run, status, error, started)
        raise
    return _finish(run, status, error, started)


@transaction.atomic
def _finish(run: MappingRun, status: str, error: str, started: float) -> MappingRun:
    run.status, run.error = status, error
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.save(update_fields=["status", "error", "finished_at", "duration_ms"])
    record_event(
        event_type=f"allocation.mapping_run_{status}",
        tenant=run.tenant_id,
        target=run,
        extra={
            "rows_changed": run.rows_changed,
            "days_refreshed": run.days_refreshed,
            "first_day": run.first_day,
            "last_day": run.last_day,
            "error": error,
        },
    )
    return run


def month_batches(
    tenant: Tenant, first_day: dt.date | None, last_day: dt.date | None
) -> list[tuple[dt.date, dt.date]]:
    """The tenant-local months (clipped to [first_day, last_day]) that hold cost data."""
    from providers.models import CostDailySummary

    days = CostDailySummary.objects.filter(tenant_id=tenant.pk)
    if first_day is not None:
        days = days.filter(day__gte=first_day, day__lte=last_day)
    span = days.aggregate(first=Min("day"), last=Max("day"))
    if span["first"] is None:
        return []
    batches = []
    month = span["first"].replace(day=1)
    while month <= span["last"]:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        batches.append(
            (max(month, span["first"]), min(following - dt.timedelta(days=1), span["last"]))
        )
        month = following
    return batches


def apply_to_days(tenant: Tenant, first: dt.date, last: dt.date) -> tuple[int, int]:
    """Re-apply the rules to the tenant-local days [first, last] and rebuild the rollups of the
    days whose rows changed; one transaction. Returns (rows changed, days refreshed)."""
    tz = zoneinfo.ZoneInfo(tenant.time_zone)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz).astimezone(
        dt.UTC
    )
    with transaction.atomic(), connection.cursor() as cursor:
        specs = rule_specs(tenant.pk)
        aliases = Aliases.load(tenant.pk)
        raw_keys = None
        if needs_raw_keys(tenant.pk, specs, aliases):
            cursor.execute(
                "SELECT DISTINCT jsonb_object_keys(tags) FROM providers_costdaily "
                "WHERE tenant_id = %s AND day >= %s AND day <= %s "
                "AND jsonb_typeof(tags) = 'object'",
                [tenant.pk, first, last],
            )
            raw_keys = [key for (key,) in cursor.fetchall()]
        compiled = compile_rules(tenant.pk, specs, aliases=aliases, raw_keys=raw_keys)
        result = apply_rules(cursor, compiled, start=start, end=end)
        if not result.rows_changed:
            return 0, 0
        first_changed, last_changed = rollups.local_days(
            result.first, result.last + dt.timedelta(microseconds=1), tenant.time_zone
        )
        rollups.refresh(
            tenant_id=tenant.pk,
            time_zone=tenant.time_zone,
            first_day=first_changed,
            last_day=last_changed,
        )
        # Shared costs split by direct cost follow the rows that moved between projects.
        from allocation.services.shared import allocate_after_rollups

        allocate_after_rollups(tenant.pk, tenant.time_zone, first_changed, last_changed)
        return result.rows_changed, (last_changed - first_changed).days + 1
