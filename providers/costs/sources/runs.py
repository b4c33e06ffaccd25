"""The ImportRun lifecycle for imports that do not go through ``cost_file_import``: a Yandex
daily export file, and a pull that failed before any file was read.

Same rules and audit event types as ``providers.services.costs``: the run exists before anything
is read, so a failure always leaves a run with its reason; a run whose file was already loaded
(same bytes as the latest successful import of that file) is skipped.
"""

from __future__ import annotations

from django.utils import timezone

from providers.models import ImportRun
from providers.services.import_runs import (  # noqa: F401  (re-exported for the source importers)
    ImportRejected,
    apply_result,
    audit_summary,
    finish_failed,
    finish_skipped,
)

MAX_FILE_NAME = ImportRun._meta.get_field("file_name").max_length


def file_name_for(key: str) -> str:
    # Keys may be up to 1024 characters; the end of a key (the file's own name) says the most.
    return key if len(key) <= MAX_FILE_NAME else "…" + key[-(MAX_FILE_NAME - 1) :]


def previous_load(run: ImportRun) -> ImportRun | None:
    """The latest successful import of the same file for the same source, if it had the same
    bytes. Only the latest counts: a day rewritten X -> Y -> X must load X again."""
    latest = (
        ImportRun.objects.filter(
            tenant_id=run.tenant_id,
            source_key=run.source_key,
            file_name=run.file_name,
            status=ImportRun.Status.SUCCEEDED,
        )
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-id")
        .first()
    )
    return latest if latest is not None and latest.file_sha256 == run.file_sha256 else None


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
