"""Cost imports: a FOCUS file (or any FOCUS-shaped row source) into the tenant's cost data.

An import is recorded as an ImportRun before anything is read, so a failure always leaves a run
with its reason. The load itself is one transaction (see providers.costs.loader): either the new
rows replace the source's old rows for the period and the rollups are rebuilt, or nothing
changes. Re-importing a file already loaded for the same source is recognised by its SHA-256
and skipped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event
from core.capabilities import Capability
from core.locks import LockKey
from core.services.guards import require_capability
from providers import run_locks
from providers.costs import loader
from providers.costs.progress import ProgressWriter
from providers.costs.vat import VatResolver
from providers.focus import FocusReader, Kind
from providers.models import ImportRun
from providers.selectors import import_run_loaded_content
from providers.services.import_runs import (
    ImportRejected,
    apply_result,
    audit_summary,
    finish_failed,
    finish_skipped,
)

MAX_STORED_EXAMPLES = 20


def file_digest(stream: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    while block := stream.read(1 << 20):
        digest.update(block)
        size += len(block)
    stream.seek(0)
    return digest.hexdigest(), size


def cost_file_import(
    *,
    actor,
    tenant,
    file: str | Path | BinaryIO,
    file_name: str | None = None,
    source_key: str = "focus-upload",
    policy: str = ImportRun.BadRowPolicy.REJECT_FILE,
    source: str = ImportRun.Source.FOCUS_FILE,
    connection=None,
    force: bool = False,
    progress: Callable[[ImportRun], None] | None = None,
) -> ImportRun:
    """Import one FOCUS file (CSV, CSV.gz or Parquet) for ``tenant`` under ``source_key``.

    Rows replace the source's rows for the whole months the file covers. ``force`` re-imports
    a file even if the same bytes were already loaded for this source.
    """
    require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant, action="add")
    if policy not in ImportRun.BadRowPolicy.values:
        raise ValidationError({"policy": _("Unknown bad-row policy: %(p)s") % {"p": policy}})
    if not source_key or len(source_key) > 200:
        raise ValidationError({"source_key": _("Give the source a name of 1-200 characters.")})
    stream, owned = _open(file)
    try:
        sha256, size = file_digest(stream)
        run = ImportRun.objects.create(
            tenant=tenant,
            source=source,
            source_key=source_key,
            connection=connection,
            file_name=file_name or (str(file) if isinstance(file, str | Path) else ""),
            file_sha256=sha256,
            file_size=size,
            policy=policy,
            status=ImportRun.Status.RUNNING,
            started_at=timezone.now(),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        duplicate = import_run_loaded_content(run)
        if duplicate is not None and not force:
            return finish_skipped(actor, run, duplicate)
        return import_into_run(actor, tenant, run, stream, progress)
    finally:
        if owned:
            stream.close()


def _open(file) -> tuple[BinaryIO, bool]:
    if isinstance(file, str | Path):
        path = Path(file)
        if not path.is_file():
            raise ValidationError({"file": _("No such file: %(path)s") % {"path": path}})
        return path.open("rb"), True
    return file, False


def import_into_run(actor, tenant, run: ImportRun, stream, progress) -> ImportRun:
    """Load ``stream`` into an ImportRun that already exists (a queued upload's pending run, or
    the run ``cost_file_import`` just recorded). The run's lock is held meanwhile, so that a run
    whose process dies is recognised as abandoned (``providers.services.recovery``)."""
    with run_locks.holding(LockKey.IMPORT_RUN, run.pk):
        return _load_into_run(actor, tenant, run, stream, progress)


def _load_into_run(actor, tenant, run: ImportRun, stream, progress) -> ImportRun:
    started = time.monotonic()
    writer = ProgressWriter(ImportRun._meta.db_table, run.pk)
    reader = None
    try:
        reader = FocusReader(stream, max_examples=MAX_STORED_EXAMPLES)
        run.focus_version = reader.version or ""
        if not reader.header_ok:
            raise ImportRejected(_("The file's header is not loadable FOCUS."))
        target = loader.LoadTarget(
            tenant_id=tenant.pk,
            time_zone=tenant.time_zone,
            import_run_id=run.pk,
            source_key=run.source_key,
            connection_id=run.connection_id,
            resource_ids=loader.resource_index(tenant.pk),
            vat=VatResolver.load(),
        )

        def tick(rows_loaded: int) -> None:
            run.progress = {"rows_loaded": rows_loaded, "rows_read": reader.rows_read}
            writer(run.progress)
            if progress:
                progress(run)

        with transaction.atomic():
            # Rows come vetted a batch of columns at a time ("" for null, as the reader reads
            # every empty value as null) and go to COPY as CSV rendered from the columns.
            result = loader.load_batches(
                target,
                reader.text_fields,
                reader.text_batches(),
                replace=loader.whole_months,
                progress=tick,
            )
            _check_policy(run, reader, result)
            apply_result(run, reader, result, started, ImportRun.Status.SUCCEEDED, "")
            run.save()
            record_event(
                event_type="costs.imported",
                actor=actor,
                tenant=tenant,
                target=run,
                extra=audit_summary(run),
            )
        return run
    except (ImportRejected, ValueError, OSError) as exc:
        return finish_failed(actor, run, reader, started, str(exc))
    except DatabaseError as exc:
        # A value PostgreSQL refused mid-load: the transaction is gone, the old data is intact.
        reason = _("The database refused the data: %(e)s") % {"e": str(exc).splitlines()[0]}
        return finish_failed(actor, run, reader, started, reason)
    except Exception as exc:
        finish_failed(actor, run, reader, started, f"Internal error: {type(exc).__name__}")
        raise
    finally:
        writer.close()


# Damage to the file itself (not to single rows): whatever came before it may be only part of
# the data, so no policy loads it.
FILE_ERRORS = (Kind.UNREADABLE_FILE, Kind.BAD_ENCODING)


def _check_policy(run: ImportRun, reader: FocusReader, result: loader.LoadResult) -> None:
    damaged = [str(kind) for kind in FILE_ERRORS if reader.errors.count(kind)]
    if damaged:
        raise ImportRejected(
            _("The file is damaged (%(kinds)s); nothing was loaded.")
            % {"kinds": ", ".join(damaged)}
        )
    if reader.rows_rejected and run.policy == ImportRun.BadRowPolicy.REJECT_FILE:
        raise ImportRejected(
            _("%(n)d row(s) failed validation; the file was not loaded (policy: reject file).")
            % {"n": reader.rows_rejected}
        )
    if result.rows_loaded == 0:
        raise ImportRejected(_("The file has no loadable rows."))
