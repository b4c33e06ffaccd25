"""Pulls of a provider's cost API (``CostSource.Kind.PROVIDER_API``) and imports of
provider-specific cost files (``PROVIDER_FILE``): ``CostRecord``s through the one cost loader.

**API pulls** (``cost_source_pull`` hands a source of this kind to ``ApiPull``): the connection's
adapter is asked for ``costs(period)`` day range by day range, whole days of the provider's
billing time zone, one calendar month (one ``ImportRun``, one transaction) at a time, from
``pulled_through - lookback_days`` (providers revise recent days; the first pull starts at the
source's ``start_date`` or the first day of last month) up to today. Each period's records replace
exactly that period of the source (a period the provider now reports empty is cleared), inside
the loader's transaction, after-rows-loaded hooks and rollups included. A failure stops the pull:
the months loaded before it stay, the failed month keeps its previous rows, and the next pull
starts again from ``pulled_through``. Records the adapter computes rather than reads
(``ProviderAdapter.cost_estimates``) are stored as estimates (``x_estimated``), and each
month's run reports how they compare with the balance's own decrease over the same span
(``providers.services.reconciliation``).

**File imports** (``provider_file_import``): one uploaded file, read by the parser its source's
``file_kind`` names (declared by the provider, ``ProviderSpec.cost_files``), replacing the source's
rows of the whole days the file covers. The same bytes imported again are skipped.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError
from core.locks import LockKey
from core.services.guards import require_capability
from providers import run_locks
from providers.adapters.base import CostPeriod, ProviderAuthError, ProviderError
from providers.adapters.registry import (
    UnsupportedProvider,
    cost_file_format,
    provider_spec,
)
from providers.costs import loader, records
from providers.costs.vat import VatResolver
from providers.models import Connection, CostSource, ImportRun
from providers.selectors import import_run_loaded_content
from providers.services import import_runs as runs
from providers.services import reconciliation
from providers.services.costs import file_digest

# --- API pulls -------------------------------------------------------------------------------


def pull_days(source: CostSource, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The days [first, last] this pull reads; None when there is nothing to read."""
    if source.pulled_through is not None:
        first = source.pulled_through - dt.timedelta(days=source.lookback_days)
    else:
        first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if source.start_date is not None:
        first = max(first, source.start_date)
    return (first, today) if first <= today else None


def month_chunks(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """[first, last] cut at month boundaries: [(first, end of its month), ..., (…, last)]."""
    chunks = []
    start = first
    while start <= last:
        following = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        end = min(last, following - dt.timedelta(days=1))
        chunks.append((start, end))
        start = end + dt.timedelta(days=1)
    return chunks


def days_period(first: dt.date, last: dt.date, tz: zoneinfo.ZoneInfo) -> CostPeriod:
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return CostPeriod(start, end.astimezone(dt.UTC))


class ApiPull:
    """One pull of a provider cost API source; ``pull`` is the ``cost_source_pulls.Pull`` whose
    bookkeeping (result, errors, status, audit event) it shares."""

    def __init__(self, pull, adapter_factory: Callable[[Connection], object] | None):
        self.pull = pull
        self.adapter_factory = adapter_factory

    def run(self):
        pull, source = self.pull, self.pull.source
        connection = source.connection
        if connection is None:
            return pull._listing_failed(
                ProviderError(_("A cost API source needs its connection; it has none."))
            )
        spec = provider_spec(connection.provider)
        tz = zoneinfo.ZoneInfo(spec.billing_time_zone)
        try:
            from providers.services.estimates import EstimateSource, estimates_only
            from providers.services.sync import adapter_for

            if self.adapter_factory is None and estimates_only(spec):
                # No cost API: inventory x the operators' price list, flagged as estimates.
                adapter = EstimateSource(connection)
            else:
                adapter = (self.adapter_factory or adapter_for)(connection)
        except (UnsupportedProvider, ValueError, DecryptionError) as exc:
            return pull._listing_failed(ProviderError(str(exc)))
        pull.client = adapter  # api_calls for the result
        days = pull_days(source, timezone.now().astimezone(tz).date())
        chunks = month_chunks(*days) if days else []
        pull.result.listed = len(chunks)
        index = loader.resource_index(source.tenant_id)
        for first, last in chunks:
            period = days_period(first, last, tz)
            run = self._run_for(first, last, period)
            pull.result.runs.append(run.pk)
            with run_locks.holding(LockKey.IMPORT_RUN, run.pk):
                ok = self._load(run, adapter, spec, period, index)
            if not ok:
                pull.result.failed += 1
                pull.errors.append(f"{first}..{last}: {run.error}")
                pull.auth_failed = pull.auth_failed or getattr(run, "_auth_failed", False)
                # Nothing read this time is a failed pull; months loaded before make it partial.
                pull.listing_failed = not pull.result.imported
                break
            pull.result.imported += 1
            CostSource.objects.filter(pk=source.pk).update(pulled_through=last)
            from providers.services.cost_source_pulls import PULL_LEASE

            PULL_LEASE.renew(source.pk, pull.token)
        return pull._finish()

    def _run_for(self, first, last, period: CostPeriod) -> ImportRun:
        source = self.pull.source
        return ImportRun.objects.create(
            tenant_id=source.tenant_id,
            source=ImportRun.Source.PROVIDER_API,
            source_key=source.source_key,
            connection_id=source.connection_id,
            period_start=period.start,
            period_end=period.end,
            file_name=f"{first.isoformat()}..{last.isoformat()}",
            status=ImportRun.Status.RUNNING,
            started_at=timezone.now(),
        )

    def _load(self, run: ImportRun, adapter, spec, period: CostPeriod, index) -> bool:
        source, actor = self.pull.source, self.pull.actor
        started = time.monotonic()
        counter = [0]
        target = loader.LoadTarget(
            tenant_id=source.tenant_id,
            time_zone=source.tenant.time_zone,
            import_run_id=run.pk,
            source_key=source.source_key,
            connection_id=source.connection_id,
            resource_ids=index,
            vat=VatResolver.load(),
            estimated=bool(getattr(adapter, "cost_estimates", False)),
        )
        extensions = tuple(getattr(adapter, "cost_extensions", ()))
        try:
            with transaction.atomic():
                rows = records.record_rows(
                    adapter.costs(period),
                    provider_name=spec.name,
                    period=period,
                    extensions=extensions,
                    counter=counter,
                )
                result = loader.load(
                    target,
                    records.record_fields(extensions),
                    rows,
                    replace=lambda first, last: (period.start, period.end),
                    clear_when_empty=(period.start, period.end),
                )
                runs.apply_result(run, None, result, started, ImportRun.Status.SUCCEEDED, "")
                run.rows_read = counter[0]
                run.period_start, run.period_end = period.start, period.end
                if target.estimated:
                    # Computed costs are checked against what the balance really lost.
                    found = reconciliation.reconcile_run(run, period)
                    if found is not None:
                        run.warnings = {**run.warnings, reconciliation.KEY: found}
                run.save()
                record_event(
                    event_type="costs.imported",
                    actor=actor,
                    tenant=source.tenant_id,
                    target=run,
                    extra=runs.audit_summary(run),
                )
            return True
        except ProviderAuthError as exc:
            run._auth_failed = True
            reason = str(exc)
        except (ProviderError, records.RecordError, NotImplementedError, ValueError) as exc:
            reason = str(exc)
        except DatabaseError as exc:
            reason = _("The database refused the data: %(e)s") % {"e": str(exc).splitlines()[0]}
        run.rows_read = counter[0]
        runs.finish_failed(actor, run, None, started, reason)
        run.rows_read = counter[0]
        ImportRun.objects.filter(pk=run.pk).update(rows_read=counter[0])
        return False


# --- provider cost files ---------------------------------------------------------------------


def provider_file_import(
    *,
    actor,
    source: CostSource,
    file: str | Path | BinaryIO,
    file_name: str,
    force: bool = False,
) -> ImportRun:
    """Import one provider cost file into ``source`` (a ``provider_file`` source) now."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, source.tenant, action="add")
    if source.kind != CostSource.Kind.PROVIDER_FILE:
        raise ValidationError({"source": _("This source does not take uploaded provider files.")})
    try:
        provider, fmt = cost_file_format(source.file_kind)
    except KeyError:
        raise ValidationError(
            {"file_kind": _("Unknown file format %(k)s.") % {"k": source.file_kind}}
        ) from None
    if fmt.suffixes and not file_name.lower().endswith(fmt.suffixes):
        raise ValidationError(
            {
                "file": _("%(label)s files end with %(suffixes)s.")
                % {"label": fmt.label, "suffixes": ", ".join(fmt.suffixes)}
            }
        )
    if isinstance(file, str | Path):
        with Path(file).open("rb") as stream:
            return _import_file(actor, source, provider, fmt, stream, file_name, force)
    return _import_file(actor, source, provider, fmt, file, file_name, force)


def _import_file(actor, source, provider, fmt, stream, file_name, force) -> ImportRun:
    spec = provider_spec(provider)
    sha256, size = file_digest(stream)
    run = ImportRun.objects.create(
        tenant=source.tenant,
        source=ImportRun.Source.PROVIDER_FILE,
        source_key=source.source_key,
        connection=source.connection,
        file_name=runs.file_name_for(file_name),
        file_sha256=sha256,
        file_size=size,
        policy=ImportRun.BadRowPolicy.REJECT_FILE,
        status=ImportRun.Status.RUNNING,
        started_at=timezone.now(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    duplicate = None if force else import_run_loaded_content(run)
    if duplicate is not None:
        return runs.finish_skipped(actor, run, duplicate)
    with run_locks.holding(LockKey.IMPORT_RUN, run.pk):
        return _load_file(actor, source, spec, fmt, run, stream, file_name)


def _load_file(actor, source, spec, fmt, run, stream, file_name) -> ImportRun:
    started = time.monotonic()
    tz = zoneinfo.ZoneInfo(spec.billing_time_zone)
    counter = [0]
    target = loader.LoadTarget(
        tenant_id=source.tenant_id,
        time_zone=source.tenant.time_zone,
        import_run_id=run.pk,
        source_key=source.source_key,
        connection_id=source.connection_id,
        resource_ids=loader.resource_index(source.tenant_id),
        vat=VatResolver.load(),
        estimated=fmt.estimated,
    )

    def whole_days(first: dt.datetime, last: dt.datetime):
        period = days_period(first.astimezone(tz).date(), last.astimezone(tz).date(), tz)
        return period.start, period.end

    try:
        stream.seek(0)
        with transaction.atomic():
            rows = records.record_rows(
                fmt.parse(stream, file_name), provider_name=spec.name, counter=counter
            )
            result = loader.load(target, records.record_fields(), rows, replace=whole_days)
            if not counter[0]:
                raise runs.ImportRejected(_("The file has no cost rows."))
            runs.apply_result(run, None, result, started, ImportRun.Status.SUCCEEDED, "")
            run.rows_read = counter[0]
            run.save()
            record_event(
                event_type="costs.imported",
                actor=actor,
                tenant=source.tenant_id,
                target=run,
                extra=runs.audit_summary(run),
            )
        return run
    except (runs.ImportRejected, ValueError, OSError) as exc:
        reason = str(exc)
    except DatabaseError as exc:
        reason = _("The database refused the data: %(e)s") % {"e": str(exc).splitlines()[0]}
    runs.finish_failed(actor, run, None, started, reason)
    ImportRun.objects.filter(pk=run.pk).update(rows_read=counter[0])
    run.rows_read = counter[0]
    return run
