"""A worker killed mid-run (SIGKILL) leaves its run marked running; the reaper recognises it.

A separate Python process (production settings, the test database) runs a discovery sync against
a slow simulator, or imports a large FOCUS file; once its run exists it is killed. The run stays
"running" (the process never got to record an outcome) until the reaper finds that nobody holds
its lock any more and marks it abandoned.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.locks import LockKey
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.benchmarks.ingest import write_csv
from providers.models import ImportRun, SyncRun
from providers.services.connections import connection_create
from providers.services.recovery import ABANDONED, stuck_runs_reap

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "infrazen-killed-worker"
TIMEOUT = 30
CHILD_SYNC = """
import sys

import django

django.setup()

from providers.services.sync import connection_sync

connection_sync(connection_id=int(sys.argv[1]), trigger="manual")
"""
CHILD_IMPORT = """
import sys

import django

django.setup()

from core.models import Tenant
from providers.services.costs import cost_file_import

cost_file_import(actor=None, tenant=Tenant.objects.get(pk=int(sys.argv[1])), file=sys.argv[2])
"""


def database_url() -> str:
    """The test database (not the configured one) as a URL for the worker process."""
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


def start(code: str, args: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "infrazen.settings.base",
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": "killed-worker-test",
        "INFRAZEN_VAR_DIR": str(tmp_path / "var"),
        "PGAPPNAME": APP_NAME,
    }
    return subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "child.log").open("w"),
    )


def lock_held(namespace: LockKey, run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND objsubid = 2 AND granted",
            [int(namespace), run_id],
        )
        return cursor.fetchone()[0] > 0


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(TIMEOUT) == -signal.SIGKILL

    def gone():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]
            )
            return cursor.fetchone()[0] == 0

    wait_for("PostgreSQL to end the killed process's session", gone)


def running(model, proc: subprocess.Popen, tmp_path: Path, namespace: LockKey, **filters):
    def started():
        if proc.poll() is not None:
            log = (tmp_path / "child.log").read_text()[-2000:]
            raise AssertionError(f"the worker ended before it was killed:\n{log}")
        run = model.objects.filter(status="running", **filters).first()
        return run if run is not None and lock_held(namespace, run.pk) else None

    return wait_for("the worker to start its run", started)


def test_a_killed_sync_is_reaped_as_abandoned(world, tmp_path):
    slow = SimulatorConfig(seed=5, folders=4, resources_per_folder=40, latency_s=0.2)
    with YandexCloudSimulator(slow) as sim:
        conn = connection_create(
            actor=None,
            tenant=world.a,
            provider="yandex_cloud",
            name="Killed",
            credentials={"oauth_token": sim.oauth_token},
            endpoints={"*": sim.url},
            start_sync=False,
        )
        proc = start(CHILD_SYNC, [str(conn.pk)], tmp_path)
        try:
            run = running(SyncRun, proc, tmp_path, LockKey.SYNC_RUN, connection=conn)
            kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # it never recorded an outcome
    assert stuck_runs_reap()["sync_runs_abandoned"] == 0  # too young to judge yet

    counts = stuck_runs_reap(now=timezone.now() + dt.timedelta(minutes=10))

    run.refresh_from_db()
    assert counts["sync_runs_abandoned"] == 1
    assert (run.status, run.error) == (SyncRun.Status.FAILED, ABANDONED)


def test_a_killed_import_is_reaped_as_abandoned(world, tmp_path):
    big = tmp_path / "big.csv"
    write_csv(big, 200_000, resources=2_000, year=2026, month=4)
    proc = start(CHILD_IMPORT, [str(world.a.pk), str(big)], tmp_path)
    try:
        run = running(ImportRun, proc, tmp_path, LockKey.IMPORT_RUN, tenant=world.a)
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    counts = stuck_runs_reap(now=timezone.now() + dt.timedelta(minutes=10))

    run.refresh_from_db()
    assert counts["imports_abandoned"] == 1
    assert (run.status, run.error) == (ImportRun.Status.FAILED, ABANDONED)
