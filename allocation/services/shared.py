"""Shared-cost rules and their results: create, change, reorder, delete rules (audited; each
change recomputes the history as a recorded ``AllocationRun`` queued when it commits), the import
hook that allocates the days an import touched, and the runs themselves.

Order of work on a day: the import loads rows, the mapping rules set their dimensions, the daily
rollups are rebuilt, and only then are the shared costs allocated (the ``direct_cost`` basis reads
the rollups). A mapping run that changes rows re-allocates the days it changed; a change to the
shared-cost rules re-allocates the whole history, month by month, with progress.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from allocation.bases import get_basis
from allocation.conditions import clean_conditions
from allocation.models import DIMENSION_MODELS, AllocationRule, AllocationRun
from allocation.services.common import lock_rules, require_manage
from allocation.services.rules import _check_connections, _check_regexes
from allocation.services.runs import month_batches
from allocation.sharing import allocate_days
from core.audit import record_event, snapshot
from core.locks import LockKey

logger = logging.getLogger(__name__)

EDITABLE = (
    "name",
    "position",
    "enabled",
    "conditions",
    "description",
    "dimension",
    "method",
    "targets",
    "metric",
)
SNAPSHOT = [
    "name",
    "position",
    "enabled",
    "conditions",
    "dimension",
    "method",
    "targets",
    "metric",
]
MAX_TARGETS = 500
HUNDRED = Decimal(100)


# --- validation ---------------------------------------------------------------------------------
def clean_allocation_rule(rule: AllocationRule) -> None:
    """Validate a rule completely; ValidationError names each bad field."""
    errors: dict[str, list] = {}
    try:
        rule.conditions = clean_conditions(rule.conditions)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    else:
        _check_connections(rule, errors)
        _check_regexes(rule.conditions, errors)
    try:
        rule.full_clean(exclude=["position", "conditions", "targets"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    basis = get_basis(rule.method) if isinstance(rule.method, str) else None
    if basis is None:
        from allocation.bases import bases

        errors.setdefault("method", []).append(
            _("Choose one of: %(keys)s.") % {"keys": ", ".join(sorted(bases()))}
        )
    elif basis.needs_metric and not (rule.metric or "").strip():
        errors.setdefault("metric", []).append(_("Name the metric this split is based on."))
    elif not basis.needs_metric and rule.metric:
        errors.setdefault("metric", []).append(_("Only usage or business-metric splits take one."))
    elif basis.check_metric and "dimension" not in errors:
        problem = basis.check_metric(rule)
        if problem:
            errors.setdefault("metric", []).append(problem)
    if "dimension" not in errors:
        try:
            rule.targets = _clean_targets(rule, fixed=rule.method == "fixed")
        except ValidationError as exc:
            errors.setdefault("targets", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)


def _clean_targets(rule: AllocationRule, *, fixed: bool) -> list[dict]:
    value = rule.targets
    if not isinstance(value, list) or not value:
        raise ValidationError(_('Give a non-empty list of targets: [{"id": 12}, …].'))
    if len(value) > MAX_TARGETS:
        raise ValidationError(_("At most %(n)d targets.") % {"n": MAX_TARGETS})
    cleaned, seen, total = [], set(), Decimal(0)
    for n, item in enumerate(value, start=1):
        if isinstance(item, int) and not isinstance(item, bool) and not fixed:
            item = {"id": item}
        if not isinstance(item, dict) or set(item) - {"id", "percent"}:
            raise ValidationError(
                _("Target %(n)d: an object with id (and percent for fixed splits).") % {"n": n}
            )
        pk = item.get("id")
        if type(pk) is not int or not 0 < pk < 2**63:
            raise ValidationError(_("Target %(n)d: id is a positive whole number.") % {"n": n})
        if pk in seen:
            raise ValidationError(
                _("Target %(n)d: id %(id)d is listed twice.") % {"n": n, "id": pk}
            )
        seen.add(pk)
        entry = {"id": pk}
        if fixed:
            try:
                percent = Decimal(str(item.get("percent")))
            except InvalidOperation:
                percent = None
            if percent is None or not percent.is_finite() or not 0 < percent <= HUNDRED:
                raise ValidationError(
                    _("Target %(n)d: percent is a number above 0 and at most 100.") % {"n": n}
                )
            if percent.as_tuple().exponent < -6:
                raise ValidationError(_("Target %(n)d: percent has at most 6 decimals.") % {"n": n})
            total += percent
            entry["percent"] = format(percent.normalize(), "f")
        elif "percent" in item:
            raise ValidationError(_("Only fixed splits take percentages."))
        cleaned.append(entry)
    if fixed and total != HUNDRED:
        raise ValidationError(
            _("The percentages add up to %(total)s, not 100.") % {"total": format(total, "f")}
        )
    model = DIMENSION_MODELS[rule.dimension]
    found = set(
        model.objects.filter(tenant_id=rule.tenant_id, pk__in=seen).values_list("pk", flat=True)
    )
    if seen - found:
        raise ValidationError(
            _("No such %(kind)s in this tenant: %(ids)s.")
            % {"kind": model._meta.verbose_name, "ids": ", ".join(map(str, sorted(seen - found)))}
        )
    return cleaned


# --- rules --------------------------------------------------------------------------------------
def _renumber(tenant, moving: AllocationRule | None = None, to: int | None = None) -> None:
    rules = list(
        AllocationRule.objects.select_for_update().filter(tenant=tenant).order_by("position", "id")
    )
    if moving is not None:
        rules = [r for r in rules if r.pk != moving.pk]
        index = max(0, min(len(rules), (to or len(rules) + 1) - 1))
        rules.insert(index, moving)
    changed = []
    for n, rule in enumerate(rules, start=1):
        if rule.position != n:
            rule.position = n
            changed.append(rule)
    AllocationRule.objects.bulk_update(changed, ["position"])


@transaction.atomic
def allocation_rule_create(
    *, actor, tenant, name: str, position: int | None = None, **fields
) -> AllocationRule:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({n: [_("Unknown field.")] for n in unknown})
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    last = AllocationRule.objects.filter(tenant=tenant).aggregate(m=Max("position"))["m"] or 0
    rule = AllocationRule(tenant=tenant, name=name, position=last + 1, created_by=actor, **fields)
    clean_allocation_rule(rule)
    rule.save()
    if position is not None:
        _renumber(tenant, rule, position)
        rule.refresh_from_db(fields=["position"])
    _reallocate(actor, tenant, _("shared-cost rule %(name)s added") % {"name": rule.name})
    record_event(
        event_type="allocation.allocation_rule_created",
        actor=actor,
        tenant=tenant,
        target=rule,
        after=snapshot(rule, SNAPSHOT),
    )
    return rule


@transaction.atomic
def allocation_rule_update(*, actor, rule: AllocationRule, **changes) -> AllocationRule:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({n: [_("This field cannot be changed.")] for n in unknown})
    tenant = rule.tenant
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    rule = AllocationRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule, SNAPSHOT)
    position = changes.pop("position", None)
    for name, value in changes.items():
        setattr(rule, name, value)
    clean_allocation_rule(rule)
    rule.save()
    if position is not None and position != rule.position:
        _renumber(tenant, rule, position)
        rule.refresh_from_db(fields=["position"])
    after = snapshot(rule, SNAPSHOT)
    if before != after:
        _reallocate(actor, tenant, _("shared-cost rule %(name)s changed") % {"name": rule.name})
    record_event(
        event_type="allocation.allocation_rule_updated",
        actor=actor,
        tenant=tenant,
        target=rule,
        before=before,
        after=after,
    )
    return rule


@transaction.atomic
def allocation_rule_delete(*, actor, rule: AllocationRule) -> None:
    tenant = rule.tenant
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    before = snapshot(rule, SNAPSHOT)
    name = rule.name
    record_event(
        event_type="allocation.allocation_rule_deleted",
        actor=actor,
        tenant=tenant,
        target=rule,
        before=before,
    )
    rule.delete()
    AllocationRule.objects.filter(tenant=tenant, position__gt=before["position"]).update(
        position=F("position") - 1
    )
    _reallocate(actor, tenant, _("shared-cost rule %(name)s deleted") % {"name": name})


def rules_referencing(tenant_id: int, kind: str, pk: int) -> list[AllocationRule]:
    """Shared-cost rules that split over the dimension value ``pk`` (deleting it is refused)."""
    return [
        rule
        for rule in AllocationRule.objects.filter(tenant_id=tenant_id, dimension=kind)
        if pk in rule.target_ids()
    ]


# --- after imports and mapping runs --------------------------------------------------------------
def allocate_after_rollups(tenant_id: int, time_zone: str, first_day, last_day) -> None:
    """The import hook (``providers.costs.hooks.register_after_rollups``) and the mapping runs'
    follow-up: recompute the shared costs of the days whose rows or rollups just changed."""
    if not AllocationRule.objects.filter(tenant_id=tenant_id).exists():
        # No rules: nothing to write, but results of rules deleted since may linger on days a
        # run has not reached yet; cheap to clear.
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM cost_allocations WHERE tenant_id = %s AND day BETWEEN %s AND %s",
                [tenant_id, first_day, last_day],
            )
        return
    allocate_days(tenant_id=tenant_id, time_zone=time_zone, first_day=first_day, last_day=last_day)


# --- re-allocating the history -------------------------------------------------------------------
def _reallocate(actor, tenant, reason: str) -> None:
    allocation_run_enqueue(
        tenant=tenant, trigger=AllocationRun.Trigger.RULES_CHANGED, reason=reason, created_by=actor
    )


def allocation_run_enqueue(
    *, tenant, trigger: str, reason: str, created_by=None, first_day=None, last_day=None
) -> AllocationRun | None:
    """A pending run over the history (or [first_day, last_day]), queued when the caller's
    transaction commits; a pending run is reused and widened. No cost data: no run needed."""
    from providers.models import CostDailySummary

    tenant_id = getattr(tenant, "pk", tenant)
    if trigger != AllocationRun.Trigger.MANUAL and not (
        CostDailySummary.objects.filter(tenant_id=tenant_id).exists()
    ):
        return None
    pending = (
        AllocationRun.objects.select_for_update()
        .filter(tenant_id=tenant_id, status=AllocationRun.Status.PENDING)
        .order_by("id")
        .first()
    )
    if pending is not None:
        if pending.first_day is not None and (first_day is None or last_day is None):
            pending.first_day = pending.last_day = None
        elif pending.first_day is not None:
            pending.first_day = min(pending.first_day, first_day)
            pending.last_day = max(pending.last_day, last_day)
        if reason not in pending.reason:
            joined = f"{pending.reason}; {reason}" if pending.reason else reason
            pending.reason = joined if len(joined) <= 300 else pending.reason[:296] + "; …"
        pending.save(update_fields=["first_day", "last_day", "reason"])
        return pending
    run = AllocationRun.objects.create(
        tenant_id=tenant_id,
        trigger=trigger,
        reason=reason[:300],
        first_day=first_day,
        last_day=last_day,
        created_by=created_by,
    )
    transaction.on_commit(lambda: _queue(run.pk))
    return run


def _queue(run_id: int) -> None:
    from allocation.tasks import allocation_run_execute_task

    allocation_run_execute_task.delay(run_id)


@transaction.atomic
def allocation_run_request(
    *, actor, tenant, first_day: dt.date | None = None, last_day: dt.date | None = None
) -> AllocationRun:
    """Recompute the shared costs by hand, for the history or some days."""
    require_manage(actor, tenant)
    if (first_day is None) != (last_day is None):
        raise ValidationError(
            {"last_day": [_("Give both days, or neither for the whole history.")]}
        )
    if first_day is not None and last_day < first_day:
        raise ValidationError({"last_day": [_("The last day must not be before the first.")]})
    run = allocation_run_enqueue(
        tenant=tenant,
        trigger=AllocationRun.Trigger.MANUAL,
        reason=_("requested"),
        created_by=actor,
        first_day=first_day,
        last_day=last_day,
    )
    record_event(
        event_type="allocation.allocation_run_requested",
        actor=actor,
        tenant=tenant,
        target=run,
        extra={"first_day": first_day, "last_day": last_day},
    )
    return run


def allocation_run_execute(run_id: int, task_id: str = "") -> AllocationRun | None:
    """The task's body: run a pending run, month by month (each month one transaction), with
    progress. One run per tenant at a time; a run left running by a dead worker is failed."""
    run = AllocationRun.objects.filter(pk=run_id).select_related("tenant").first()
    if run is None:
        return None
    key = [int(LockKey.ALLOCATION_RUN), run.tenant_id]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        claimed = AllocationRun.objects.filter(
            pk=run_id, status=AllocationRun.Status.PENDING
        ).update(
            status=AllocationRun.Status.RUNNING, started_at=timezone.now(), task_id=task_id[:64]
        )
        if not claimed:
            return None
        AllocationRun.objects.filter(
            tenant_id=run.tenant_id, status=AllocationRun.Status.RUNNING
        ).exclude(pk=run_id).update(
            status=AllocationRun.Status.FAILED,
            error=_("abandoned: its worker stopped"),
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return _execute(run)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _execute(run: AllocationRun) -> AllocationRun:
    started = time.monotonic()
    tenant = run.tenant
    try:
        batches = month_batches(tenant, run.first_day, run.last_day)
        run.progress = {"batches": len(batches), "batches_done": 0, "rows_written": 0}
        run.save(update_fields=["progress"])
        for first, last in batches:
            result = allocate_days(
                tenant_id=tenant.pk, time_zone=tenant.time_zone, first_day=first, last_day=last
            )
            run.rows_written += result.rows_written
            run.days_allocated += (last - first).days + 1
            run.progress = {
                "batches": len(batches),
                "batches_done": run.progress["batches_done"] + 1,
                "day": last.isoformat(),
                "rows_written": run.rows_written,
            }
            run.save(update_fields=["progress", "rows_written", "days_allocated"])
        status, error = AllocationRun.Status.SUCCEEDED, ""
    except Exception as exc:  # recorded on the run, then raised for the worker's log
        logger.exception("allocation run %s failed", run.pk)
        _finish(run, AllocationRun.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000], started)
        raise
    return _finish(run, status, error, started)


@transaction.atomic
def _finish(run: AllocationRun, status: str, error: str, started: float) -> AllocationRun:
    run.status, run.error = status, error
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.save(update_fields=["status", "error", "finished_at", "duration_ms"])
    record_event(
        event_type=f"allocation.allocation_run_{status}",
        tenant=run.tenant_id,
        target=run,
        extra={
            "rows_written": run.rows_written,
            "days_allocated": run.days_allocated,
            "first_day": run.first_day,
            "last_day": run.last_day,
            "error": error,
        },
    )
    return run
