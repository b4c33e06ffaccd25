"""``manage.py bench NAME``: run a benchmark in a throw-away database and print its figures.

The benchmark gets its own scratch database (``<name>_bench_<benchmark>``, created and migrated
here, dropped after unless ``--keep-db``), so measuring never touches real data — nor the test
database ``test_<name>``, which a test run may be using at the same moment. The last line
printed is one JSON object, so results can be compared run to run.
"""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core.benchmarks import discover, peak_rss_mb


class Command(BaseCommand):
    help = "Run a benchmark (e.g. `bench api`) and print a report ending with a JSON line."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="benchmark", required=True)
        for name, module in sorted(discover().items()):
            sub = subparsers.add_parser(name, help=(module.__doc__ or "").strip().split("\n")[0])
            sub.add_argument(
                "--keep-db", action="store_true", help="Reuse/keep the benchmark database."
            )
            if hasattr(module, "add_arguments"):
                module.add_arguments(sub)

    def handle(self, *args, benchmark: str, keep_db: bool = False, **options):
        module = discover().get(benchmark)
        if module is None:
            raise CommandError(f"Unknown benchmark {benchmark!r}")
        real_name = connection.settings_dict["NAME"]
        self.stdout.write(f"bench {benchmark}: preparing a scratch database next to {real_name}…")
        started = time.perf_counter()
        # Never the test database (test_<name>): a test run may be using it.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = scratch_name(real_name, benchmark)
        test_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, keepdb=keep_db
        )
        try:
            self.stdout.write(
                f"  database {test_name} ready in {time.perf_counter() - started:.1f}s"
            )
            figures = module.run(self._report, **options)
        finally:
            if not keep_db:
                connection.creation.destroy_test_db(real_name, verbosity=0)
        figures = {"bench": benchmark, **figures, "peak_rss_mb": peak_rss_mb()}
        self.stdout.write(json.dumps(figures, sort_keys=False))

    def _report(self, line: str = "") -> None:
        self.stdout.write(line)
        self.stdout.flush()


def scratch_name(database: str, benchmark: str) -> str:
    """The benchmark's own database, e.g. iz_main_bench_allocate (PostgreSQL: 63 bytes)."""
    return f"{database}_bench_{benchmark}"[:63]
