"""``manage.py focus_check FILE``: check a FOCUS file against our conformance rules."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from providers.focus.checker import check_focus
from providers.focus.issues import DEFAULT_MAX_EXAMPLES
from providers.focus.spec import VERSIONS


class Command(BaseCommand):
    help = (
        "Check a FOCUS CSV, CSV.gz or Parquet file (FOCUS 1.0-1.3) and print a report. "
        "Exits non-zero when a rule fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Also fail on format deviations the importer repairs (dates without T/Z, NULL "
            "placeholders, number text, header spelling).",
        )
        parser.add_argument(
            "--max-examples",
            type=int,
            default=DEFAULT_MAX_EXAMPLES,
            help="Examples kept per rule (every finding is still counted).",
        )
        parser.add_argument(
            "--focus-version",
            choices=VERSIONS,
            help="Check against this FOCUS version instead of the one the columns indicate.",
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the report as JSON."
        )

    def handle(self, *args, file, strict, max_examples, focus_version, as_json, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        report = check_focus(file, strict=strict, max_examples=max_examples, version=focus_version)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(report.format_text())
        if not report.passed:
            failed = ", ".join(result.rule.id for result in report.errors)
            raise CommandError(f"{file}: FOCUS check failed ({failed})")
