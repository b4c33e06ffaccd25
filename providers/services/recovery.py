"""Runs left behind by a worker that died, and tasks that are delivered twice.

Celery acknowledges provider tasks late (``acks_late``, ``reject_on_worker_lost``): a task whose
worker dies is delivered again, and a message can also arrive twice when the broker's visibility
timeout is shorter than the work. Meanwhile the dead worker's run stays marked running. Whether
anyone still works on a run is known exactly: the running process holds the run's lock
(``providers.run_locks``), which goes with its database session when it dies.

Decisions, made while holding the dead run's lock so that the reaper and a redelivered task never
both act on one run:

- A discovery or metrics ``SyncRun`` whose worker died is marked failed, "abandoned: …". Its
  committed batches stay (each batch is true on its own) and nothing was marked deleted (that
  happens only at the end). A redelivered sync task finds the run it already finished (by its
  task id) and returns it; if the earlier delivery died mid-run, that run is marked abandoned and
  a fresh sync runs.
- A synchronous import (an upload imported during the request, a cost-source pull) whose process
  died is marked failed: its transaction was rolled back, the previous data is intact, and the
  next pull retries the file.
- A queued upload whose worker died mid-import is queued again, once: the import is one
  transaction, so nothing of the first attempt is visible, and the stored copy is still there. If
  it dies a second time (a file that kills workers, e.g. by memory), it is marked abandoned and
  its stored copy deleted; the person uploads it again. A queued upload that no worker took up
  (a lost message) is queued again after ``UPLOAD_REQUEUE_AFTER`` and given up, with its copy
  deleted, after ``UPLOAD_GIVE_UP_AFTER``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import record_event
from core.locks import LockKey
from providers import run_locks
from providers.models import ImportRun, SyncRun

logger = logging.getLogger(__name__)

# Runs younger than this are left alone: the window between creating a run and taking its lock.
REAP_GRACE = timedelta(minutes=5)
UPLOAD_REQUEUE_AFTER = timedelta(minutes=30)
UPLOAD_GIVE_UP_AFTER = timedelta(days=1)
# Worker deaths a queued upload is allowed before it is given up.
MAX_UPLOAD_ATTEMPTS = 2
ABANDONED = "abandoned: the worker stopped before the run finished"


# --- sync runs ------------------------------------------------------------------------------
def sync_run_abandon_if_dead(run: SyncRun) -> bool:
    """Mark a running SyncRun failed if its worker is gone; True if it was (or already is)."""
    with run_locks.unless_alive(LockKey.SYNC_RUN, run.pk) as dead:
        if not dead:
            return False
        _sync_run_abandon(run)
        return True


@transaction.atomic
def _sync_run_abandon(run: SyncRun) -> None:
    now = timezone.now()
    changed = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        error=ABANDONED,
        finished_at=now,
        duration_ms=min(int((now - run.started_at).total_seconds() * 1000), 2**31 - 1),
    )
    if not changed:
        return
    logger.warning("sync run %s of connection %s abandoned", run.pk, run.connection_id)
    record_event(
        event_type="connection.sync_abandoned",
        tenant=run.tenant_id,
        target=run.connection,
        extra={"sync_run": run.pk, "kind": run.kind, "started_at": run.started_at},
    )


def redelivered_sync_run(task_id: str, kind: str) -> tuple[bool, SyncRun | None]:
    """(done, run) for a sync task about to start: done is True when this task's work is already
    done (the finished run is returned) or still being done by a live worker (None); False when
    the task must run (its earlier delivery, if any, died and its run is now abandoned)."""
    earlier = (
        SyncRun.objects.select_related("connection")
        .filter(task_id=task_id, kind=kind)
        .order_by("-pk")
        .first()
    )
    if earlier is None:
        return False, None
    if earlier.status != SyncRun.Status.RUNNING:
        logger.info("task %s was delivered again; its run %s is finished", task_id, earlier.pk)
        return True, earlier
    if sync_run_abandon_if_dead(earlier):
        return False, None
    logger.info("task %s was delivered again while run %s is still going", task_id, earlier.pk)
    return True, None


# --- import runs ----------------------------------------------------------------------------
def stored_path(run: ImportRun) -> Path | None:
    return Path(settings.MEDIA_ROOT) / run.stored_file if run.stored_file else None


def import_run_abandon(run: ImportRun, reason: str = ABANDONED) -> bool:
    """Mark a pending or running ImportRun failed (the caller holds its lock or knows it is not
    running) and delete a queued upload's stored copy; False if it had finished meanwhile."""
    with transaction.atomic():
        changed = ImportRun.objects.filter(
            pk=run.pk, status__in=[ImportRun.Status.PENDING, ImportRun.Status.RUNNING]
        ).update(
            status=ImportRun.Status.FAILED,
            error=reason,
            finished_at=timezone.now(),
            stored_file="",
        )
        if changed:
            record_event(
                event_type="costs.import_abandoned",
                tenant=run.tenant_id,
                target=run,
                extra={"source_key": run.source_key, "file": run.file_name, "error": reason},
            )
    path = stored_path(run)
    if changed and path is not None:
        path.unlink(missing_ok=True)
    if changed:
        logger.warning("import run %s abandoned: %s", run.pk, reason)
    return bool(changed)


def upload_requeue(run: ImportRun, why: str) -> None:
    """Put a queued upload back in the queue (its run pending again, the copy kept)."""
    with transaction.atomic():
        changed = ImportRun.objects.filter(
            pk=run.pk, status__in=[ImportRun.Status.PENDING, ImportRun.Status.RUNNING]
        ).update(
            status=ImportRun.Status.PENDING,
            progress={"queued": True, "requeued": why, "requeued_at": timezone.now().isoformat()},
        )
        if not changed:
            return
        record_event(
            event_type="costs.import_requeued",
            tenant=run.tenant_id,
            target=run,
            extra={"file": run.file_name, "attempts": run.attempts, "why": why},
        )
        path = str(stored_path(run))
        transaction.on_commit(lambda: _queue(run.pk, path))
    logger.warning("queued upload %s queued again: %s", run.pk, why)


def _queue(run_id: int, path: str) -> None:
    from providers.tasks import cost_file_import_task

    cost_file_import_task.apply_async(kwargs={"run_id": run_id, "path": path})


def _reap_import_run(run: ImportRun) -> str | None:
    with run_locks.unless_alive(LockKey.IMPORT_RUN, run.pk) as dead:
        if not dead:
            return None
        path = stored_path(run)
        retry = path is not None and run.attempts < MAX_UPLOAD_ATTEMPTS and path.is_file()
        if retry:
            upload_requeue(run, "the worker stopped during the import")
            return "requeued"
        import_run_abandon(run)
        return "abandoned"


def _reap_pending_upload(run: ImportRun, now) -> str | None:
    with run_locks.unless_alive(LockKey.IMPORT_RUN, run.pk) as free:
        if not free:
            return None  # a worker is taking it up right now
        if now - run.created_at > UPLOAD_GIVE_UP_AFTER:
            import_run_abandon(run, "abandoned: no worker took the upload up; upload it again")
            return "abandoned"
        requeued_at = (run.progress or {}).get("requeued_at")
        if requeued_at and now - datetime.fromisoformat(requeued_at) < UPLOAD_REQUEUE_AFTER:
            return None
        upload_requeue(run, "no worker took the upload up")
        return "requeued"


# --- the reaper -----------------------------------------------------------------------------
def stuck_runs_reap(*, now=None) -> dict[str, int]:
    """Find runs left behind by dead workers and settle them (see the module docstring).

    Scheduled (``providers.stuck_runs_reap``); there is no actor, and each settled run writes its
    own audit event in its tenant's chain."""
    now = now or timezone.now()
    counts = {"sync_runs_abandoned": 0, "imports_abandoned": 0, "uploads_requeued": 0}
    stale = now - REAP_GRACE
    for run in SyncRun.objects.select_related("connection").filter(
        status=SyncRun.Status.RUNNING, started_at__lt=stale
    ):
        if sync_run_abandon_if_dead(run):
            counts["sync_runs_abandoned"] += 1
    for run in ImportRun.objects.filter(status=ImportRun.Status.RUNNING, started_at__lt=stale):
        outcome = _reap_import_run(run)
        if outcome == "requeued":
            counts["uploads_requeued"] += 1
        elif outcome == "abandoned":
            counts["imports_abandoned"] += 1
    for run in ImportRun.objects.filter(
        status=ImportRun.Status.PENDING, created_at__lt=now - UPLOAD_REQUEUE_AFTER
    ):
        outcome = _reap_pending_upload(run, now)
        if outcome == "requeued":
            counts["uploads_requeued"] += 1
        elif outcome == "abandoned":
            counts["imports_abandoned"] += 1
    return counts
