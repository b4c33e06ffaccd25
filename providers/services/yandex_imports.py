"""Import one Yandex Cloud daily export file: an ImportRun, the load, the policy, the audit.

The structure of ``providers.services.costs.cost_file_import``, with two differences: the file
replaces exactly its MSK day of the source (not whole months), and "already loaded" means the
same bytes as the latest successful import of the same file (a day rewritten X -> Y -> X must
load X again). ``yandex_export_import`` checks the capability; a pull (which checked it
for the whole pull) calls ``import_day`` for each file.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from providers.costs.sources.yandex_export import YandexExportReader, day_from_key, msk_day_range
from providers.costs.vat import VatResolver
from providers.models import ImportRun
from providers.selectors import import_run_unchanged_file
from providers.services import import_runs as runs
from providers.services.costs import file_digest

MAX_STORED_EXAMPLES = 20


@dataclass
class DayFile:
    tenant: object
    file_name: str
    day: dt.date
    source_key: str
    policy: str = ImportRun.BadRowPolicy.REJECT_FILE
    connection: object = None
    force: bool = False
    # Provider resource id -> Resource.pk; a pull loads it once for all its files.
    resource_ids: dict[str, int] | None = None
    progress: Callable[[ImportRun], None] | None = None


# --- the service ----------------------------------------------------------------------------
def yandex_export_import(
    *,
    actor,
    tenant,
    file: str | Path | BinaryIO,
    file_name: str,
    source_key: str,
    day: dt.date | None = None,
    policy: str = ImportRun.BadRowPolicy.REJECT_FILE,
    connection=None,
    force: bool = False,
    progress: Callable[[ImportRun], None] | None = None,
) -> ImportRun:
    """Import one Yandex Cloud daily billing export file, replacing that MSK day of
    ``source_key``. ``day`` defaults to the date in the file name (``…YYYYMMDD.csv``)."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant, action="add")
    day = day or day_from_key(file_name)
    if day is None:
        raise ValidationError({"day": _("Give the day: the file name has no YYYYMMDD date.")})
    if policy not in ImportRun.BadRowPolicy.values:
        raise ValidationError({"policy": _("Unknown bad-row policy: %(p)s") % {"p": policy}})
    if not source_key or len(source_key) > 200:
        raise ValidationError({"source_key": _("Give the source a name of 1-200 characters.")})
    if connection is not None and connection.tenant_id != tenant.pk:
        raise ValidationError({"connection": _("This object belongs to another tenant.")})
    job = DayFile(
        tenant=tenant,
        file_name=file_name,
        day=day,
        source_key=source_key,
        policy=policy,
        connection=connection,
        force=force,
        progress=progress,
    )
    if isinstance(file, str | Path):
        with Path(file).open("rb") as stream:
            return import_day(actor, job, stream)
    return import_day(actor, job, file)


def import_day(actor, job: DayFile, stream: BinaryIO) -> ImportRun:
    sha256, size = file_digest(stream)
    start, end = msk_day_range(job.day)
    run = ImportRun.objects.create(
        tenant=job.tenant,
        source=ImportRun.Source.YANDEX_BILLING,
        source_key=job.source_key,
        connection=job.connection,
        period_start=start,
        period_end=end,
        file_name=runs.file_name_for(job.file_name),
        file_sha256=sha256,
        file_size=size,
        policy=job.policy,
        status=ImportRun.Status.RUNNING,
        started_at=timezone.now(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    duplicate = None if job.force else import_run_unchanged_file(run)
    if duplicate is not None:
        return runs.finish_skipped(actor, run, duplicate)
    # Held while loading: a run whose process dies is recognised as abandoned.
    with run_locks.holding(LockKey.IMPORT_RUN, run.pk):
        return _load(actor, job, run, stream)


def _load(actor, job: DayFile, run: ImportRun, stream: BinaryIO) -> ImportRun:
    started = time.monotonic()
    writer = ProgressWriter(ImportRun._meta.db_table, run.pk)
    reader = None
    tenant = job.tenant
    try:
        reader = YandexExportReader(stream, day=job.day, max_examples=MAX_STORED_EXAMPLES)
        if not reader.header_ok:
            raise runs.ImportRejected(_("The file's header is not a Yandex Cloud billing export."))
        index = job.resource_ids
        target = loader.LoadTarget(
            tenant_id=tenant.pk,
            time_zone=tenant.time_zone,
            import_run_id=run.pk,
            source_key=run.source_key,
            connection_id=run.connection_id,
            resource_ids=index if index is not None else loader.resource_index(tenant.pk),
            vat=VatResolver.load(),
        )

        def tick(rows_loaded: int) -> None:
            run.progress = {"rows_loaded": rows_loaded, "rows_read": reader.rows_read}
            writer(run.progress)
            if job.progress:
                job.progress(run)

        day_range = (run.period_start, run.period_end)
        with transaction.atomic():
            result = loader.load(
                target,
                reader.fields,
                reader.rows(),
                # A daily file replaces its whole MSK day, even if it now has fewer rows, and a
                # header-only file is the provider saying "no charges": the day is cleared.
                replace=lambda first, last: day_range,
                clear_when_empty=day_range,
                progress=tick,
            )
            _check_policy(run, reader, result)
            runs.apply_result(run, reader, result, started, ImportRun.Status.SUCCEEDED, "")
            run.period_start, run.period_end = day_range
            run.save()
            record_event(
                event_type="costs.imported",
                actor=actor,
                tenant=tenant,
                target=run,
                extra=runs.audit_summary(run),
            )
        return run
    except (runs.ImportRejected, ValueError, OSError) as exc:
        return runs.finish_failed(actor, run, reader, started, str(exc))
    except DatabaseError as exc:
        # A value PostgreSQL refused mid-load: the transaction is gone, the old data is intact.
        reason = _("The database refused the data: %(e)s") % {"e": str(exc).splitlines()[0]}
        return runs.finish_failed(actor, run, reader, started, reason)
    except Exception as exc:
        runs.finish_failed(actor, run, reader, started, f"Internal error: {type(exc).__name__}")
        raise
    finally:
        writer.close()
        if reader is not None:
            reader.close()


def _check_policy(run: ImportRun, reader: YandexExportReader, result) -> None:
    if reader.unreadable:
        # Never load the readable half of a broken file, whatever the policy.
        raise runs.ImportRejected(_("The file is unreadable past some point; nothing was loaded."))
    if reader.rows_rejected and run.policy == ImportRun.BadRowPolicy.REJECT_FILE:
        raise runs.ImportRejected(
            _("%(n)d row(s) failed validation; the file was not loaded (policy: reject file).")
            % {"n": reader.rows_rejected}
        )
    if reader.rows_read and result.rows_loaded == 0:
        raise runs.ImportRejected(_("The file has no loadable rows."))
    if not reader.rows_read:
        reader.warnings.add("empty_file", None, None, None, "no rows: the day has no charges")
