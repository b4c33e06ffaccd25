"""The ImportRun lifecycle shared by every cost import (FOCUS files, Yandex daily exports, pulls).

The run exists before anything is read, so a failure always leaves a run with its reason; the
success, failure and skip paths each write exactly one audit event of the same types. A pull
that fails before reading a file records a failed run too (its own audit event covers it).
"""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event
from providers.models import ImportRun

MAX_FILE_NAME = ImportRun._meta.get_field("file_name").max_length


class ImportRejected(Exception):
    """The file (or some rows) failed validation under the run's policy; nothing was loaded."""


def apply_result(run: ImportRun, reader, result, started: float, status: str, error: str):
    run.status = status
    run.error = error
    run.rows_read = reader.rows_read if reader else 0
    run.rows_rejected = reader.rows_rejected if reader else 0
    run.rows_loaded = result.rows_loaded if result else 0
    run.rows_replaced = result.rows_replaced if result else 0
    run.totals = result.totals if result else {}
    if result is not None and result.period_start:
        run.period_start, run.period_end = result.period_start, result.period_end
    run.warnings = reader.warnings.as_dict() if reader else {}
    run.errors = reader.errors.as_dict() if reader else {}
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    if result is not None:
        run.progress = {
            "rows_loaded": result.rows_loaded,
            "rows_read": run.rows_read,
            "linked_resources": result.linked_resources,
        }


@transaction.atomic
def finish_failed(actor, run: ImportRun, reader, started: float, reason: str) -> ImportRun:
    apply_result(run, reader, None, started, ImportRun.Status.FAILED, reason)
    run.save()
    record_event(
        event_type="costs.import_failed",
        actor=actor,
        tenant=run.tenant_id,
        target=run,
        extra=audit_summary(run),
    )
    return run


@transaction.atomic
def finish_skipped(actor, run: ImportRun, duplicate: ImportRun) -> ImportRun:
    run.status = ImportRun.Status.SKIPPED
    run.error = _("Same file as import #%(id)s; nothing changed.") % {"id": duplicate.pk}
    run.finished_at = timezone.now()
    run.period_start, run.period_end = duplicate.period_start, duplicate.period_end
    run.save()
    record_event(
        event_type="costs.import_skipped",
        actor=actor,
        tenant=run.tenant_id,
        target=run,
        extra=audit_summary(run),
    )
    return run


def audit_summary(run: ImportRun) -> dict:
    return {
        "source": run.source,
        "source_key": run.source_key,
        "file": run.file_name,
        "sha256": run.file_sha256,
        "status": run.status,
        "rows_loaded": run.rows_loaded,
        "rows_rejected": run.rows_rejected,
        "rows_replaced": run.rows_replaced,
        "totals": run.totals,
        "error": run.error,
    }


def file_name_for(key: str) -> str:
    # Keys may be up to 1024 characters; the end of a key (the file's own name) says the most.
    return key if len(key) <= MAX_FILE_NAME else "…" + key[-(MAX_FILE_NAME - 1) :]


def failed_run(*, tenant_id, source, source_key, connection_id, file_name, reason) -> ImportRun:
    """A run for a pull that failed before reading a file (listing refused, download broken):
    visible beside the file imports, with the reason. The pull's audit event covers it."""
    now = timezone.now()
    return ImportRun.objects.create(
        tenant_id=tenant_id,
        source=source,
        source_key=source_key,
        connection_id=connection_id,
        file_name=file_name_for(file_name),
        status=ImportRun.Status.FAILED,
        error=reason,
        started_at=now,
        finished_at=now,
        duration_ms=0,
    )
