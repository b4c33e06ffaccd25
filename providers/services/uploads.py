"""Uploaded FOCUS files: checked, stored, recorded as a pending ImportRun and imported by a worker.

The API, portal and admin call ``cost_upload_check`` (is this FOCUS at all? — answered at once,
before anything is stored) and then either import at once with the ``cost_file_import`` service
(small files, ``wait``) or ``cost_upload_enqueue``: the file is copied under
``MEDIA_ROOT/imports/<tenant id>/``, a *pending* ImportRun is recorded (with an audit event) and
the Celery task ``providers.cost_file_import`` runs ``cost_upload_execute`` after the commit. The
worker takes the run's lock and claims it with a conditional UPDATE, loads the file into that same
run through the import service's own steps, and deletes the stored copy. A task delivered again
does nothing if the run is finished or a live worker holds it, and takes over (once) a run whose
worker died mid-import (see ``providers.services.recovery``).
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from core.audit import record_event
from core.capabilities import Capability
from core.locks import LockKey
from core.services.guards import require_capability
from providers import run_locks
from providers.focus import FocusReader
from providers.focus import limits as input_limits
from providers.models import ImportRun
from providers.selectors import import_run_loaded_content

UPLOAD_DIR = "imports"
COPY_BLOCK = 1 << 20
# Files up to this size may be imported during the request (wait=true); larger ones are queued.
MAX_WAIT_BYTES = 20 * 1024 * 1024


def cost_upload_check(stream: BinaryIO) -> None:
    """Raise ValidationError when the file cannot be FOCUS (not CSV/Parquet, no FOCUS header,
    a mandatory column missing, over a size limit). Rows are not read: their problems are the
    import's to report; the header is read within the input limits (one bounded line)."""
    limits = input_limits.current()
    try:
        input_limits.check_file_size(stream.seek(0, io.SEEK_END), limits)
        stream.seek(0)
        reader = FocusReader(io.BufferedReader(_KeepOpen(stream)), max_examples=3, limits=limits)
    except input_limits.LimitExceeded as exc:
        stream.seek(0)
        raise ValidationError(_("The file was refused: %(e)s") % {"e": exc}) from exc
    except Exception as exc:  # the reader raises on files it cannot even open
        raise ValidationError(_("This is not a readable FOCUS file: %(e)s") % {"e": exc}) from exc
    try:
        if not reader.header_ok:
            reasons = [
                issue.reason for issues in reader.errors.examples.values() for issue in issues
            ]
            raise ValidationError(
                _("This is not a loadable FOCUS file: %(reasons)s.")
                % {"reasons": "; ".join(reasons[:5]) or _("no FOCUS header")}
            )
    finally:
        reader.close()
        stream.seek(0)


class _KeepOpen(io.RawIOBase):
    """Reads the caller's stream without ever closing it (the reader's buffers close theirs)."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def upload_path(tenant_id: int, name: str) -> Path:
    safe = get_valid_filename(Path(name or "upload").name)[:100] or "upload"
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / str(tenant_id) / f"{uuid.uuid4().hex}-{safe}"


def store_upload(tenant_id: int, stream: BinaryIO, name: str) -> tuple[Path, str, int]:
    """Copy the upload to disk in blocks; (path, sha256, size)."""
    path = upload_path(tenant_id, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    with path.open("wb") as out:
        while block := stream.read(COPY_BLOCK):
            digest.update(block)
            size += len(block)
            out.write(block)
    stream.seek(0)
    return path, digest.hexdigest(), size


def cost_upload_enqueue(
    *,
    actor,
    tenant,
    file: BinaryIO,
    file_name: str,
    source_key: str = "focus-upload",
    policy: str = ImportRun.BadRowPolicy.REJECT_FILE,
    force: bool = False,
) -> ImportRun:
    """Store the file and queue its import; returns the pending run."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant, action="add")
    if policy not in ImportRun.BadRowPolicy.values:
        raise ValidationError({"policy": _("Unknown bad-row policy: %(p)s") % {"p": policy}})
    if not source_key or len(source_key) > 200:
        raise ValidationError({"source_key": _("Give the source a name of 1-200 characters.")})
    cost_upload_check(file)
    path, sha256, size = store_upload(tenant.pk, file, file_name)
    try:
        with transaction.atomic():
            run = ImportRun.objects.create(
                tenant=tenant,
                source=ImportRun.Source.FOCUS_FILE,
                source_key=source_key,
                file_name=file_name[:500],
                file_sha256=sha256,
                file_size=size,
                policy=policy,
                status=ImportRun.Status.PENDING,
                created_by=actor if getattr(actor, "pk", None) else None,
                progress={"queued": True},
                stored_file=str(path.relative_to(settings.MEDIA_ROOT)),
            )
            record_event(
                event_type="costs.import_queued",
                actor=actor,
                tenant=tenant,
                target=run,
                extra={
                    "source_key": source_key,
                    "file": run.file_name,
                    "sha256": sha256,
                    "size": size,
                    "policy": policy,
                    "force": force,
                },
            )
            transaction.on_commit(lambda: _queue(run.pk, path, force))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return run


def _queue(run_id: int, path: Path, force: bool) -> None:
    from providers.tasks import cost_file_import_task

    cost_file_import_task.apply_async(kwargs={"run_id": run_id, "path": str(path), "force": force})


def cost_upload_execute(*, run_id: int, path: str | Path, force: bool = False) -> ImportRun | None:
    """Import a queued upload into its pending run (None: nothing to do — the run is finished, or
    a live worker is importing it)."""
    with run_locks.unless_alive(LockKey.IMPORT_RUN, run_id) as free:
        if not free:
            return None
        return _execute(run_id, Path(path), force)


def _execute(run_id: int, path: Path, force: bool) -> ImportRun | None:
    # These steps are the import service's own, applied to the run recorded at upload time.
    from providers.services.costs import import_into_run
    from providers.services.import_runs import finish_failed, finish_skipped
    from providers.services.recovery import MAX_UPLOAD_ATTEMPTS, import_run_abandon, stored_path

    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None or run.status not in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING):
        return None  # delivered again after it finished: done exactly once
    path = stored_path(run) or path
    if run.status == ImportRun.Status.RUNNING and run.attempts >= MAX_UPLOAD_ATTEMPTS:
        # Running, yet nobody holds its lock: its worker died, and not for the first time.
        import_run_abandon(
            run, _("abandoned: the worker stopped during the import again; upload the file again")
        )
        path.unlink(missing_ok=True)
        return ImportRun.objects.get(pk=run_id)
    # Pending, or running with its worker gone: take it (the import is one transaction, so
    # nothing of a dead attempt is visible).
    claimed = ImportRun.objects.filter(pk=run_id, status=run.status, attempts=run.attempts).update(
        status=ImportRun.Status.RUNNING,
        started_at=timezone.now(),
        progress={},
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    run = ImportRun.objects.select_related("tenant", "created_by").get(pk=run_id)
    actor = run.created_by
    try:
        if not path.is_file():
            reason = _("The uploaded file is gone (%(name)s); upload it again.") % {
                "name": run.file_name
            }
            return finish_failed(actor, run, None, time.monotonic(), reason)
        duplicate = import_run_loaded_content(run)
        if duplicate is not None and not force:
            return finish_skipped(actor, run, duplicate)
        with path.open("rb") as stream:
            return import_into_run(actor, run.tenant, run, stream, None)
    finally:
        path.unlink(missing_ok=True)
        ImportRun.objects.filter(pk=run_id).update(stored_file="")
