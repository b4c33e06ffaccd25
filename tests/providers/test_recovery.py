"""Runs left behind by dead workers are reaped, and a redelivered task does its run exactly once.

A live worker is played by a second database session holding the run's lock (as the process
running a run does); a dead one by nobody holding it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.locks import LockKey
from core.models import AuditEvent
from providers.models import ImportRun, SyncRun
from providers.run_locks import _key
from providers.services import recovery
from providers.services.recovery import ABANDONED, stuck_runs_reap
from providers.services.uploads import cost_upload_enqueue
from providers.tasks import connection_sync_task, cost_file_import_task, stuck_runs_reap_task
from tests.providers.costs.test_query import focus_bytes, focus_row

# One valid FOCUS row: what a queued upload holds.
UPLOAD = focus_bytes([focus_row(dt.date(2026, 3, 2), "Compute Cloud", "12.50")])


@contextlib.contextmanager
def live_worker(namespace: LockKey, run_id: int):
    """Another session holding the run's lock, as the process running it would."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [int(namespace), _key(run_id)])
        yield


def _sync_run(connection_, *, started_ago=timedelta(hours=1), **fields):
    return SyncRun.objects.create(
        tenant_id=connection_.tenant_id,
        connection=connection_,
        kind=SyncRun.Kind.DISCOVERY,
        trigger=SyncRun.Trigger.SCHEDULE,
        started_at=timezone.now() - started_ago,
        **fields,
    )


@pytest.fixture
def queued_tasks(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(
        cost_file_import_task, "apply_async", lambda kwargs, **_: sent.append(kwargs)
    )
    return sent


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def _enqueue(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return cost_upload_enqueue(
            actor=world.operator_a,
            tenant=world.a,
            file=io.BytesIO(UPLOAD),
            file_name="march.csv",
        )


def _age(run: ImportRun, *, started=None, created=None, **fields) -> ImportRun:
    if started is not None:
        fields["started_at"] = timezone.now() - started
    if created is not None:
        fields["created_at"] = timezone.now() - created
    ImportRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


# --- the reaper: sync runs ------------------------------------------------------------------
def test_a_sync_run_whose_worker_died_is_marked_abandoned(yc_connection):
    run = _sync_run(yc_connection)

    counts = stuck_runs_reap()

    run.refresh_from_db()
    assert counts["sync_runs_abandoned"] == 1
    assert run.status == SyncRun.Status.FAILED
    assert run.error == ABANDONED
    assert run.finished_at is not None and run.duration_ms >= 3600 * 1000
    event = AuditEvent.objects.get(event_type="connection.sync_abandoned")
    assert event.extra["sync_run"] == run.pk and event.tenant_id == yc_connection.tenant_id


def test_a_sync_run_whose_worker_is_alive_is_left_alone(yc_connection):
    run = _sync_run(yc_connection, started_ago=timedelta(hours=3))

    with live_worker(LockKey.SYNC_RUN, run.pk):
        counts = stuck_runs_reap()

    run.refresh_from_db()
    assert counts["sync_runs_abandoned"] == 0
    assert run.status == SyncRun.Status.RUNNING


def test_a_run_that_just_started_is_left_alone(yc_connection):
    run = _sync_run(yc_connection, started_ago=timedelta(seconds=10))

    stuck_runs_reap()

    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING


def test_a_finished_sync_holds_no_lock_and_is_never_reaped(yc_connection):
    from providers.services.sync import connection_sync

    run = connection_sync(connection_id=yc_connection.pk)

    assert stuck_runs_reap(now=timezone.now() + timedelta(hours=1))["sync_runs_abandoned"] == 0
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED


# --- the reaper: imports and queued uploads --------------------------------------------------
def test_an_import_whose_process_died_is_marked_abandoned(world):
    run = ImportRun.objects.create(
        tenant=world.a,
        source=ImportRun.Source.FOCUS_BUCKET,
        source_key="focus-bucket:1",
        status=ImportRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(hours=2),
    )

    counts = stuck_runs_reap()

    run.refresh_from_db()
    assert counts["imports_abandoned"] == 1
    assert run.status == ImportRun.Status.FAILED and run.error == ABANDONED
    assert AuditEvent.objects.filter(event_type="costs.import_abandoned").count() == 1


def test_an_upload_whose_worker_died_is_queued_again_once_and_then_imports(
    world, media, queued_tasks, django_capture_on_commit_callbacks
):
    run = _enqueue(world, django_capture_on_commit_callbacks)
    stored = media / run.stored_file
    assert stored.is_file()
    queued_tasks.clear()
    # A worker took it up and died mid-import: running, attempt 1, nobody holding it.
    run = _age(run, status=ImportRun.Status.RUNNING, started=timedelta(hours=1), attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        counts = stuck_runs_reap()

    run.refresh_from_db()
    assert counts["uploads_requeued"] == 1
    assert run.status == ImportRun.Status.PENDING
    assert stored.is_file()  # kept for the retry
    assert queued_tasks == [{"run_id": run.pk, "path": str(stored)}]
    result = cost_file_import_task.apply(kwargs=queued_tasks[0]).get()
    run.refresh_from_db()
    assert result["status"] == ImportRun.Status.SUCCEEDED
    assert (run.status, run.attempts, run.rows_loaded) == (ImportRun.Status.SUCCEEDED, 2, 1)
    assert not stored.exists() and run.stored_file == ""


def test_an_upload_whose_worker_died_twice_is_abandoned_and_its_file_removed(
    world, media, queued_tasks, django_capture_on_commit_callbacks
):
    run = _enqueue(world, django_capture_on_commit_callbacks)
    stored = media / run.stored_file
    run = _age(run, status=ImportRun.Status.RUNNING, started=timedelta(hours=1), attempts=2)

    counts = stuck_runs_reap()

    run.refresh_from_db()
    assert counts["imports_abandoned"] == 1
    assert run.status == ImportRun.Status.FAILED and run.error.startswith("abandoned")
    assert not stored.exists() and run.stored_file == ""


def test_an_upload_no_worker_took_up_is_queued_again_then_given_up(
    world, media, queued_tasks, django_capture_on_commit_callbacks
):
    run = _enqueue(world, django_capture_on_commit_callbacks)
    stored = media / run.stored_file
    queued_tasks.clear()
    run = _age(run, created=timedelta(hours=1))  # its message was lost

    with django_capture_on_commit_callbacks(execute=True):
        stuck_runs_reap()
        stuck_runs_reap()  # the next tick does not queue it a second time

    assert queued_tasks == [{"run_id": run.pk, "path": str(stored)}]
    run.refresh_from_db()
    assert run.status == ImportRun.Status.PENDING and run.progress["requeued"]

    run = _age(run, created=timedelta(days=2))
    counts = stuck_runs_reap()

    run.refresh_from_db()
    assert counts["imports_abandoned"] == 1
    assert run.status == ImportRun.Status.FAILED
    assert "no worker took the upload up" in run.error
    assert not stored.exists()


def test_the_reaper_is_scheduled_and_runs_as_a_task(yc_connection):
    task = PeriodicTask.objects.get(task="providers.stuck_runs_reap")
    assert task.enabled and task.interval.every == 300
    run = _sync_run(yc_connection)

    assert stuck_runs_reap_task.apply().get()["sync_runs_abandoned"] == 1

    assert AuditEvent.objects.get(event_type="connection.sync_abandoned").source == "task"
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED


# --- redelivered tasks ----------------------------------------------------------------------
def test_a_sync_task_delivered_twice_syncs_once(yc_connection):
    kwargs = {"connection_id": yc_connection.pk}

    first = connection_sync_task.apply(kwargs=kwargs, task_id="delivery-1").get()
    again = connection_sync_task.apply(kwargs=kwargs, task_id="delivery-1").get()

    assert again == first
    assert SyncRun.objects.filter(connection=yc_connection).count() == 1
    assert AuditEvent.objects.filter(event_type="connection.synced").count() == 1


def test_a_sync_task_delivered_while_its_first_delivery_runs_does_nothing(yc_connection):
    running = _sync_run(yc_connection, task_id="delivery-2")

    with live_worker(LockKey.SYNC_RUN, running.pk):
        result = connection_sync_task.apply(
            kwargs={"connection_id": yc_connection.pk}, task_id="delivery-2"
        ).get()

    assert result is None
    assert SyncRun.objects.filter(connection=yc_connection).count() == 1
    running.refresh_from_db()
    assert running.status == SyncRun.Status.RUNNING


def test_a_sync_task_redelivered_after_its_worker_died_finishes_the_sync(yc_connection):
    died = _sync_run(yc_connection, started_ago=timedelta(minutes=1), task_id="delivery-3")

    result = connection_sync_task.apply(
        kwargs={"connection_id": yc_connection.pk}, task_id="delivery-3"
    ).get()

    died.refresh_from_db()
    assert died.status == SyncRun.Status.FAILED and died.error == ABANDONED
    fresh = SyncRun.objects.get(pk=result["run"])
    assert fresh.status == SyncRun.Status.SUCCEEDED and fresh.task_id == "delivery-3"
    # Once finished, a further delivery of the same task does nothing.
    again = connection_sync_task.apply(
        kwargs={"connection_id": yc_connection.pk}, task_id="delivery-3"
    ).get()
    assert again == result
    assert SyncRun.objects.filter(connection=yc_connection).count() == 2


def test_an_upload_task_delivered_twice_imports_once(
    world, media, queued_tasks, django_capture_on_commit_callbacks
):
    run = _enqueue(world, django_capture_on_commit_callbacks)
    [kwargs] = queued_tasks

    first = cost_file_import_task.apply(kwargs=kwargs).get()
    again = cost_file_import_task.apply(kwargs=kwargs).get()

    assert first["status"] == ImportRun.Status.SUCCEEDED
    assert again is None
    assert (
        AuditEvent.objects.filter(event_type="costs.imported", target_id=str(run.pk)).count() == 1
    )
    run.refresh_from_db()
    assert run.attempts == 1


def test_an_upload_task_redelivered_after_its_worker_died_takes_the_run_over(
    world, media, queued_tasks, django_capture_on_commit_callbacks
):
    run = _enqueue(world, django_capture_on_commit_callbacks)
    [kwargs] = queued_tasks
    _age(run, status=ImportRun.Status.RUNNING, started=timedelta(minutes=2), attempts=1)

    result = cost_file_import_task.apply(kwargs=kwargs).get()

    run.refresh_from_db()
    assert result["status"] == ImportRun.Status.SUCCEEDED
    assert (run.status, run.attempts) == (ImportRun.Status.SUCCEEDED, 2)


def test_an_upload_task_delivered_while_a_worker_imports_it_does_nothing(
    world, media, queued_tasks, django_capture_on_commit_callbacks
):
    run = _enqueue(world, django_capture_on_commit_callbacks)
    [kwargs] = queued_tasks
    _age(run, status=ImportRun.Status.RUNNING, started=timedelta(minutes=2), attempts=1)

    with live_worker(LockKey.IMPORT_RUN, run.pk):
        result = cost_file_import_task.apply(kwargs=kwargs).get()

    run.refresh_from_db()
    assert result is None
    assert (run.status, run.attempts) == (ImportRun.Status.RUNNING, 1)
    assert (Path(settings.MEDIA_ROOT) / run.stored_file).is_file()


def test_abandoning_a_finished_run_changes_nothing(world):
    run = ImportRun.objects.create(
        tenant=world.a,
        source=ImportRun.Source.FOCUS_FILE,
        source_key="focus-upload",
        status=ImportRun.Status.SUCCEEDED,
    )

    assert recovery.import_run_abandon(run) is False
    run.refresh_from_db()
    assert run.status == ImportRun.Status.SUCCEEDED
