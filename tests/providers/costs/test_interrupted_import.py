"""A real import process killed mid-load (SIGKILL) leaves the previous data exactly as it was.

The sample establishes a month of data; a separate Python process (production settings, the
test database) then imports a large file for the same source and month, which replaces that
month. Once its progress shows rows loaded, the process is killed. Nothing of it may be visible:
the line items and both rollup tables hold exactly what they held before, and the next import of
the same source goes through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum

from providers.benchmarks.ingest import write_csv
from providers.models import CostDaily, CostDailySummary, CostLineItem, ImportRun
from providers.services.costs import cost_file_import

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT.parent / "shared" / "focus-sample" / "focus_sample.csv"
SOURCE_KEY = "focus-upload"
BIG_ROWS = 200_000  # a few seconds of loading: the kill lands mid-COPY
APP_NAME = "infrazen-killed-import"
TIMEOUT = 30

CHILD = """
import sys

import django

django.setup()

from core.models import Tenant
from providers.services.costs import cost_file_import

tenant = Tenant.objects.get(pk=int(sys.argv[1]))
cost_file_import(actor=None, tenant=tenant, file=sys.argv[2], source_key=sys.argv[3])
"""


def database_url() -> str:
    """The test database (not the configured one) as a URL for the import process."""
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


def wait_for(what: str, check: Callable[[], object], timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def snapshot(tenant) -> dict:
    """Everything a reader of the tenant's costs can see, as exact numbers."""
    items = CostLineItem.objects.filter(tenant=tenant).aggregate(
        rows=Count("id"),
        billed=Sum("billed_cost"),
        effective=Sum("effective_cost"),
        listed=Sum("list_cost"),
        runs=Count("x_import_run", distinct=True),
    )
    rollups = {
        model.__name__: model.objects.filter(tenant=tenant).aggregate(
            rows=Count("id"), billed=Sum("billed_cost"), items=Sum("line_items")
        )
        for model in (CostDaily, CostDailySummary)
    }
    return {"items": items, **rollups}


def start_import(tenant, path: Path, tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "infrazen.settings.base",
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": "interrupted-import-test",
        "INFRAZEN_VAR_DIR": str(tmp_path / "var"),  # nothing written to the project's var/
        "PGAPPNAME": APP_NAME,  # libpq: names the process's connections in pg_stat_activity
    }
    return subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", CHILD, str(tenant.pk), str(path), SOURCE_KEY],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "import.log").open("w"),
    )


def backends_of_the_import() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared FOCUS sample not present")
def test_a_killed_import_leaves_the_previous_data_untouched(world, tmp_path):
    first = cost_file_import(actor=world.operator_a, tenant=world.a, file=SAMPLE)
    assert first.status == ImportRun.Status.SUCCEEDED, first.error
    before = snapshot(world.a)
    assert before["items"]["rows"] == 1000

    # The same month as the sample (September 2024): had it committed, it would replace it.
    big = tmp_path / "big.csv"
    write_csv(big, BIG_ROWS, resources=2_000, year=2024, month=9)
    proc = start_import(world.a, big, tmp_path)
    try:

        def loading():
            run = ImportRun.objects.filter(tenant=world.a, file_name=str(big)).first()
            if proc.poll() is not None:
                log = (tmp_path / "import.log").read_text()[-2000:]
                raise AssertionError(f"the import ended before it was killed:\n{log}")
            return run if run and run.progress.get("rows_loaded", 0) > 0 else None

        killed = wait_for("the import to load rows", loading)
        # Mid-load, other sessions still read the previous data.
        assert snapshot(world.a) == before
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(TIMEOUT) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    loaded_when_killed = killed.progress["rows_loaded"]
    assert 0 < loaded_when_killed < BIG_ROWS

    wait_for("PostgreSQL to end the killed import's session", lambda: not backends_of_the_import())
    killed.refresh_from_db()
    assert killed.status == ImportRun.Status.RUNNING  # it never got to record an outcome
    assert not CostLineItem.objects.filter(x_import_run=killed).exists()
    assert snapshot(world.a) == before

    # The source is not stuck: the same file now imports in full and replaces the month.
    again = cost_file_import(actor=world.operator_a, tenant=world.a, file=big)
    assert again.status == ImportRun.Status.SUCCEEDED, again.error
    assert (again.rows_loaded, again.rows_replaced) == (BIG_ROWS, before["items"]["rows"])
    after = snapshot(world.a)
    assert after["items"]["rows"] == BIG_ROWS
    assert after["items"]["runs"] == 1
    for rollup in ("CostDaily", "CostDailySummary"):
        assert after[rollup]["items"] == BIG_ROWS
        assert after[rollup]["billed"] == after["items"]["billed"]
    assert after["items"]["billed"] == Decimal(again.totals["RUB"]["billed_cost"])
