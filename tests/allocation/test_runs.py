"""Rule changes re-apply the rules to the cost history as a recorded run (a Celery task) with
progress, rebuilding the rollups of the days whose rows changed; amounts never change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError
from django.db.models import Count, Sum

from allocation.models import MappingRun
from allocation.services.dimensions import dimension_update
from allocation.services.rules import tag_rule_delete, tag_rule_update
from allocation.services.runs import mapping_run_request
from allocation.services.tags import tag_alias_create
from allocation.tasks import mapping_run_execute_task
from core.models import AuditEvent
from providers.models import CostDaily, CostDailySummary, CostLineItem
from tests.allocation.conftest import cond, focus_row, load

DAYS = [dt.date(2026, 1, 30), dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 3, 5)]


@pytest.fixture
def eager(monkeypatch):
    """Queued runs execute at once, through the task (as a worker would run it)."""
    ran = []

    def delay(run_id):
        ran.append(run_id)
        return mapping_run_execute_task.apply(args=[run_id])

    monkeypatch.setattr(mapping_run_execute_task, "delay", delay)
    return ran


@pytest.fixture
def history(world):
    rows = []
    for n, day in enumerate(DAYS):
        rows += [
            focus_row(day, "Compute", f"{10 + n}.123456789", tags={"team": "web", "env": "Prod"}),
            focus_row(day, "Storage", f"{n}.5", tags={"team": "data"}, resource="res-2"),
            focus_row(day, "Network", "0.000000001", resource=None),
        ]
    load(world.a, rows)
    return rows


def _totals(tenant):
    totals = {}
    for model in (CostLineItem, CostDaily, CostDailySummary):
        agg = model.objects.filter(tenant=tenant).aggregate(
            billed=Sum("billed_cost"), effective=Sum("effective_cost"), listed=Sum("list_cost")
        )
        totals[model.__name__] = agg
    totals["line_items"] = CostDailySummary.objects.filter(tenant=tenant).aggregate(
        n=Sum("line_items")
    )["n"]
    return totals


def _by(model, tenant, column):
    return dict(
        model.objects.filter(tenant=tenant)
        .values_list(column)
        .annotate(s=Sum("billed_cost"))
        .values_list(column, "s")
    )


def test_a_new_rule_re_applies_history_and_rebuilds_rollups_with_totals_unchanged(
    world, dims, rule, history, eager, django_capture_on_commit_callbacks
):
    before = _totals(world.a)
    assert _by(CostDailySummary, world.a, "x_project_id") == {
        None: before["CostLineItem"]["billed"]
    }

    with django_capture_on_commit_callbacks(execute=True):
        created = rule("web team", [cond("tag", "in", "web", key="team")], project=dims.web)

    run = MappingRun.objects.get(tenant=world.a)
    assert eager == [run.pk]
    assert run.status == MappingRun.Status.SUCCEEDED, run.error
    assert run.trigger == MappingRun.Trigger.RULES_CHANGED
    assert created.name in run.reason
    assert run.progress == {
        "batches": 3,  # January, February, March: the months holding data
        "batches_done": 3,
        "day": "2026-03-05",
        "rows_changed": 4,
    }
    assert (run.rows_changed, run.days_refreshed) == (4, 4)
    web = sum(Decimal(f"{10 + n}.123456789") for n in range(len(DAYS)))
    for model in (CostLineItem, CostDaily, CostDailySummary):
        assert _by(model, world.a, "x_project_id") == {
            dims.web.pk: web,
            None: before["CostLineItem"]["billed"] - web,
        }, model.__name__
    assert _totals(world.a) == before  # exact Decimals, line counts included
    finished = AuditEvent.objects.filter(event_type="allocation.mapping_run_succeeded").get()
    assert finished.extra["rows_changed"] == 4


def test_changes_moves_and_deletions_re_apply_too(
    world, dims, rule, history, eager, django_capture_on_commit_callbacks
):
    before = _totals(world.a)
    with django_capture_on_commit_callbacks(execute=True):
        web = rule("web team", [cond("tag", "in", "web", key="team")], project=dims.web)
        rule("everything else", [], project=dims.infra)
    assert set(_by(CostLineItem, world.a, "x_project_id")) == {dims.web.pk, dims.infra.pk}

    with django_capture_on_commit_callbacks(execute=True):
        tag_rule_update(actor=None, rule=web, conditions=[cond("service", "in", "Storage")])
    storage = _by(CostLineItem, world.a, "x_project_id")[dims.web.pk]
    assert storage == sum(Decimal(f"{n}.5") for n in range(len(DAYS)))

    # A project moving to another business unit carries its rows along.
    with django_capture_on_commit_callbacks(execute=True):
        dimension_update(actor=None, dimension=dims.web, business_unit=dims.platform)
    assert set(_by(CostDailySummary, world.a, "x_business_unit_id")) == {dims.platform.pk}

    with django_capture_on_commit_callbacks(execute=True):
        tag_rule_delete(actor=None, rule=web)
    assert set(_by(CostDailySummary, world.a, "x_project_id")) == {dims.infra.pk}
    assert _totals(world.a) == before
    assert MappingRun.objects.filter(status=MappingRun.Status.SUCCEEDED).count() == 4


def test_aliases_re_apply_tag_rules(
    world, dims, rule, history, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule("prod", [cond("tag", "in", "prod", key="env")], environment=dims.prod)
    assert set(_by(CostLineItem, world.a, "x_environment_id")) == {None}  # "Prod" ≠ "prod"

    with django_capture_on_commit_callbacks(execute=True):
        tag_alias_create(
            actor=None, tenant=world.a, kind="value", key="env", alias="PROD", canonical="prod"
        )
    assert CostLineItem.objects.filter(x_environment_id=dims.prod.pk).count() == len(DAYS)


def test_a_pending_run_absorbs_later_changes(world, dims, rule, history):
    rule("a", [], project=dims.web)
    rule("b", [], environment=dims.prod)
    runs = list(MappingRun.objects.filter(tenant=world.a))
    assert len(runs) == 1 and runs[0].status == MappingRun.Status.PENDING
    assert runs[0].reason == "rule a added; rule b added"


def test_a_run_of_some_days_touches_only_those_days(world, dims, rule, history):
    rule("a", [], project=dims.web)
    MappingRun.objects.all().delete()
    run = mapping_run_request(
        actor=world.owner_a, tenant=world.a, first_day=DAYS[1], last_day=DAYS[2]
    )

    result = mapping_run_execute_task.apply(args=[run.pk]).get()

    assert result == {"run": run.pk, "status": "succeeded"}
    mapped = (
        CostDailySummary.objects.filter(tenant=world.a, x_project_id=dims.web.pk)
        .values_list("day")
        .annotate(n=Count("id"))
    )
    assert sorted(day for day, _n in mapped) == [DAYS[1], DAYS[2]]
    run.refresh_from_db()
    assert run.progress["batches"] == 2 and run.rows_changed == 6
    # Running the same run again does nothing (a redelivered task).
    assert mapping_run_execute_task.apply(args=[run.pk]).get() is None


def test_a_failed_run_is_recorded_and_leaves_the_data(world, dims, rule, history):
    from allocation.models import TagRule

    created = rule("a", [], project=dims.web)
    # A pattern PostgreSQL refuses, as a rule saved by some older version might hold.
    TagRule.objects.filter(pk=created.pk).update(
        conditions=[{"field": "service", "op": "regex", "value": "(", "ignore_case": False}]
    )
    run = MappingRun.objects.get(tenant=world.a)

    with pytest.raises(DatabaseError):
        mapping_run_execute_task.apply(args=[run.pk], throw=True)

    run.refresh_from_db()
    assert run.status == MappingRun.Status.FAILED
    assert "regular expression" in run.error
    assert not CostLineItem.objects.filter(x_project_id__isnull=False).exists()
    assert AuditEvent.objects.filter(event_type="allocation.mapping_run_failed").exists()


def test_limited_members_and_outsiders_cannot_request_runs(world, dims):
    from django.core.exceptions import PermissionDenied

    from core.services.memberships import membership_create, membership_scope_set
    from tests.factories import UserFactory

    lead = UserFactory()
    membership = membership_create(actor=None, tenant=world.a, user=lead, role="finance")
    membership_scope_set(
        actor=None, membership=membership, dimension_scope={"project": [dims.web.pk]}
    )
    for actor in (lead, world.viewer_a, world.owner_b):
        with pytest.raises(PermissionDenied):
            mapping_run_request(actor=actor, tenant=world.a)
    assert not MappingRun.objects.exists()


def test_a_run_left_running_by_a_dead_worker_is_marked_abandoned(world, dims, rule, history):
    from django.utils import timezone

    dead = MappingRun.objects.create(
        tenant=world.a,
        trigger=MappingRun.Trigger.MANUAL,
        status=MappingRun.Status.RUNNING,
        started_at=timezone.now(),
    )
    run = mapping_run_request(actor=world.owner_a, tenant=world.a)

    assert mapping_run_execute_task.apply(args=[run.pk]).get()["status"] == "succeeded"

    dead.refresh_from_db()
    assert (dead.status, dead.error) == (MappingRun.Status.FAILED, "abandoned: its worker stopped")
