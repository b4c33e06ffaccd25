"""``manage.py focus_yandex_sample -o FILE``: a deterministic Yandex Cloud month as a FOCUS export.

Runs in a scratch database (``<database>_focus_sample``, created, migrated and dropped here unless
``--keep-db``), so it never touches real data: the Yandex Cloud simulator's inventory is synced
and its billing export pulled into a tenant (``providers.costs.conformance``), then the month is
exported like ``export_focus`` does. CI feeds the file to the FinOps Foundation's validator.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core import context
from providers.costs import conformance
from providers.costs.export import EXPORT_VERSIONS, FORMATS, ExportError, focus_export


class Command(BaseCommand):
    help = (
        "Sync the Yandex Cloud simulator, pull its billing export for one month and export it as "
        "FOCUS, all in a scratch database; the file is deterministic (for validator runs)."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", required=True, type=Path, help="File to write")
        parser.add_argument("--period", default=conformance.DEFAULT_PERIOD, help="YYYY-MM (UTC)")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--focus-version", choices=EXPORT_VERSIONS, default="1.2")
        parser.add_argument("--seed", type=int, default=conformance.DEFAULT_SEED)
        parser.add_argument("--keep-db", action="store_true", help="Reuse/keep the scratch DB.")

    def handle(self, *args, output: Path, period: str, format: str, focus_version: str, seed: int,
               keep_db: bool, **options):  # fmt: skip
        started = time.monotonic()
        real_name = connection.settings_dict["NAME"]
        # Not the default test_<name>: a test run on the same server must keep its database.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{real_name}_focus_sample"
        self.stdout.write(f"Preparing a scratch database next to {real_name}…")
        scratch = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep_db)
        try:
            self.stdout.write(f"  {scratch} ready; syncing the simulator and pulling {period}…")
            with context.acting("cli"):
                summary = self._build(output, period, format, focus_version, seed)
        except (ExportError, OSError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if not keep_db:
                connection.creation.destroy_test_db(real_name, verbosity=0)
        for currency, sums in sorted(summary.totals.items()):
            self.stdout.write(f"  {currency}: BilledCost {sums['billed_cost']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {output}: FOCUS {focus_version}, {summary.rows} rows, {summary.columns} "
                f"columns, in {time.monotonic() - started:.1f} s."
            )
        )

    def _build(self, output: Path, period: str, fmt: str, version: str, seed: int):
        from core.models import Tenant
        from core.services.tenants import tenant_create

        tenant = tenant_create(
            actor=None, name="FOCUS sample", slug="focus-sample", kind=Tenant.Kind.CLIENT
        )
        with conformance.simulator(period, seed=seed) as sim:
            loaded = conformance.load_yandex_month(sim, tenant)
        self.stdout.write(f"  {loaded.resources} resources synced, {loaded.files} day files pulled")
        return focus_export(
            actor=None,
            tenant=tenant,
            period=period,
            fmt=fmt,
            target=output,
            version=version,
        )
