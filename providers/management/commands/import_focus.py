"""``manage.py import_focus FILE --tenant SLUG``: import a FOCUS file in the foreground."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core import context
from core.models import Tenant
from providers.models import ImportRun
from providers.services.costs import cost_file_import

EXAMPLES_SHOWN = 5


class Command(BaseCommand):
    help = (
        "Import a FOCUS 1.0-1.2 file (CSV, CSV.gz or Parquet) into a tenant's costs, replacing "
        "the source's rows for the months the file covers. Shows progress, then a summary. Exits "
        "non-zero when the import fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="Tenant slug (or id)")
        parser.add_argument(
            "--source",
            default="focus-upload",
            help="Source name: a later file of the same source replaces its months "
            "(default: focus-upload)",
        )
        parser.add_argument(
            "--policy",
            choices=ImportRun.BadRowPolicy.values,
            default=ImportRun.BadRowPolicy.REJECT_FILE,
            help="reject_file (default): any bad row rejects the file; skip_rows: load the rest",
        )
        parser.add_argument(
            "--force", action="store_true", help="Import even if this file was already loaded"
        )

    def handle(self, *args, file: Path, tenant: str, source: str, policy: str, force: bool, **o):
        target = find_tenant(tenant)
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        size = file.stat().st_size
        self.stdout.write(
            f"Importing {file} ({size / 1e6:,.1f} MB) into tenant {target.slug} as source "
            f"{source!r} ({policy})…"
        )
        self._started = time.monotonic()
        self._last = 0.0
        self._live = self.stdout.isatty()
        try:
            # The operator at the shell is the system acting (actor None), recorded as "cli".
            with context.acting("cli"):
                run = cost_file_import(
                    actor=None,
                    tenant=target,
                    file=file,
                    file_name=file.name,
                    source_key=source,
                    policy=policy,
                    force=force,
                    progress=self._progress,
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if self._live:
            self.stdout.write("")
        self._summary(run)
        if run.status == ImportRun.Status.FAILED:
            raise CommandError(f"import failed: {run.error}")

    def _progress(self, run: ImportRun) -> None:
        now = time.monotonic()
        if now - self._last < 1 and self._live:
            return
        self._last = now
        p = run.progress
        elapsed = max(now - self._started, 1e-6)
        line = (
            f"  {p.get('rows_read', 0):>12,} rows read  {p.get('rows_loaded', 0):>12,} loaded  "
            f"{p.get('rows_read', 0) / elapsed:>10,.0f} rows/s"
        )
        if self._live:
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)

    def _summary(self, run: ImportRun) -> None:
        seconds = (run.duration_ms or 0) / 1000
        self.stdout.write(f"Import run {run.pk}: {run.status} (FOCUS {run.focus_version or '?'})")
        if run.status == ImportRun.Status.SKIPPED:
            self.stdout.write(f"  {run.error} Use --force to import it again.")
            return
        rate = f"{run.rows_read / seconds:,.0f} rows/s" if seconds else "n/a"
        self.stdout.write(
            f"  rows: {run.rows_read:,} read, {run.rows_loaded:,} loaded, "
            f"{run.rows_rejected:,} rejected, {run.rows_replaced:,} replaced "
            f"({seconds:.1f} s, {rate})"
        )
        if run.period_start and run.period_end:
            self.stdout.write(f"  period: {run.period_start:%Y-%m-%d} to {run.period_end:%Y-%m-%d}")
        for currency, sums in sorted(run.totals.items()):
            self.stdout.write(
                f"  {currency}: {sums.get('rows', 0):,} rows, BilledCost {sums['billed_cost']}, "
                f"EffectiveCost {sums['effective_cost']}, ListCost {sums.get('list_cost')}, "
                f"VAT {sums.get('vat_amount')}"
            )
        self._issues("warnings", run.warnings)
        self._issues("errors", run.errors)
        if run.status == ImportRun.Status.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS("Import succeeded."))

    def _issues(self, title: str, issues: dict) -> None:
        if not issues:
            return
        self.stdout.write(f"  {title}:")
        for kind, info in sorted(issues.items(), key=lambda item: -item[1].get("count", 0)):
            columns = ", ".join(str(c) for c in info.get("columns", {}) if c)
            where = f" ({columns})" if columns else ""
            self.stdout.write(f"    {kind}: {info.get('count', 0):,}{where}")
            for example in info.get("examples", [])[:EXAMPLES_SHOWN]:
                value = "" if example.get("value") is None else f" = {example['value']!r}"
                column = f" {example['column']}" if example.get("column") else ""
                self.stdout.write(
                    f"      line {example.get('line')}{column}{value}: {example.get('reason')}"
                )


def find_tenant(value: str) -> Tenant:
    lookup = {"pk": int(value)} if value.isdigit() else {"slug": value}
    tenant = Tenant.objects.filter(**lookup).first()
    if tenant is None:
        raise CommandError(f"No tenant {value!r}.")
    return tenant
