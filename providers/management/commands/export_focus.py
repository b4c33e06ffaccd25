"""``manage.py export_focus --tenant SLUG --period YYYY-MM [--version 1.3] -o FILE``: a FOCUS export
(1.2 by default)."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from core import context
from providers.costs.export import (
    DEFAULT_VERSION,
    EXPORT_VERSIONS,
    FORMATS,
    ExportError,
    focus_export,
)
from providers.management.commands.import_focus import find_tenant


class Command(BaseCommand):
    help = (
        "Export a tenant's costs for one month (ChargePeriodStart, UTC) as a FOCUS 1.2 (or 1.3) "
        "file that passes focus_check. Shows progress, then a summary."
    )

    def add_base_argument(self, parser, *args, **kwargs):
        # --version is the FOCUS version here, not Django's (which `manage.py version` prints).
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug (or id)")
        parser.add_argument("--period", required=True, help="Month as YYYY-MM")
        parser.add_argument("--format", choices=FORMATS, help="Default: from the file name, or csv")
        parser.add_argument("-o", "--output", required=True, type=Path, help="File to write")
        parser.add_argument(
            "--escape-formulas",
            action="store_true",
            help="CSV for spreadsheets: quote cells starting with =, +, -, @ (default: exact "
            "values, as FOCUS tools need)",
        )
        parser.add_argument(
            "--version",
            "--focus-version",
            dest="focus_version",
            choices=EXPORT_VERSIONS,
            default=DEFAULT_VERSION,
            help=f"FOCUS version to write (default {DEFAULT_VERSION})",
        )

    def handle(self, *args, tenant: str, period: str, format: str | None, output: Path,
               focus_version: str, **o):  # fmt: skip
        target = find_tenant(tenant)
        fmt = format or ("parquet" if output.suffix.lower() == ".parquet" else "csv")
        self.stdout.write(
            f"Exporting tenant {target.slug}, {period}, as FOCUS {focus_version} {fmt} to {output}…"
        )
        self._live = self.stdout.isatty()
        self._started = time.monotonic()
        try:
            with context.acting("cli"):
                summary = focus_export(
                    actor=None,
                    tenant=target,
                    period=period,
                    fmt=fmt,
                    target=output,
                    progress=self._progress,
                    escape_formulas=o["escape_formulas"],
                    version=focus_version,
                )
        except (ExportError, PermissionDenied, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if self._live:
            self.stdout.write("")
        rate = f"{summary.rows / summary.seconds:,.0f} rows/s" if summary.seconds else "n/a"
        self.stdout.write(
            f"  {summary.rows:,} rows, {summary.columns} columns, {summary.bytes / 1e6:,.1f} MB "
            f"in {summary.seconds:.1f} s ({rate})"
        )
        for currency, sums in sorted(summary.totals.items()):
            self.stdout.write(
                f"  {currency}: BilledCost {sums['billed_cost']}, EffectiveCost "
                f"{sums['effective_cost']}, ListCost {sums['list_cost']}"
            )
        if not summary.rows:
            self.stdout.write(self.style.WARNING("  No cost rows in this period: header only."))
        self.stdout.write(self.style.SUCCESS(f"Wrote {output}."))

    def _progress(self, done: int, total: int) -> None:
        share = f" ({done / total:.0%})" if total else ""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        line = f"  {done:>12,} of {total:,} rows{share}  {done / elapsed:>10,.0f} rows/s"
        if self._live:
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)
