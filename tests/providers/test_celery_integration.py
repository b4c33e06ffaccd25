"""Real Celery workers and beat, over the Redis on 127.0.0.1:6379, against the test database.

Shows, with separate worker processes: a new connection is synced at once; the beat dispatcher
syncs it again when it is due; two workers asked to sync one connection at the same moment
produce one run, not two (the lease). Workers and beat run with the production settings module
(``infrazen.settings.base``), configured only through the environment like any deployment.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.models import Connection, SyncRun
from providers.services.connections import connection_create
from providers.tasks import connection_sync_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = ROOT / ".venv" / "bin" / "celery"
# A database of its own, flushed before and after; TEST_REDIS_URL lets parallel checkouts
# on one machine use different databases.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
DISPATCH_TASK = "providers: dispatch due syncs"
TIMEOUT = 30


def database_url() -> str:
    """The test database (not the configured one) as a URL for the worker processes."""
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
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Processes:
    """Celery subprocesses, each in its own process group, logging to a file."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "infrazen.settings.base",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": REDIS_URL,
            "SYNC_DISPATCH_INTERVAL_SECONDS": "2",
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "SECRET_KEY": "celery-integration-test",
            "INFRAZEN_VAR_DIR": str(tmp_path / "var"),  # nothing written to the project's var/
            "DATABASE_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def log(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str, *args: str, ready: str) -> None:
        with (self.tmp_path / f"{name}.log").open("w") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 (our own venv's celery)
                [str(CELERY), "-A", "infrazen", *args, "--loglevel", "INFO"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(f"{name} to start", lambda: self._ready(name, ready), timeout=60)

    def worker(self, name: str) -> None:
        self.start(
            name,
            "worker", "--hostname", f"{name}@%h", "--concurrency", "1", "--pool", "prefork",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            ready=" ready.",
        )  # fmt: skip

    def beat(self) -> None:
        self.start(
            "beat", "beat", "--max-interval", "1",
            "--pidfile", str(self.tmp_path / "beat.pid"),
            ready="beat: Starting...",
        )  # fmt: skip

    def _ready(self, name: str, mark: str) -> bool:
        if self.procs[name].poll() is not None:
            raise AssertionError(f"{name} exited:\n{self.log(name)[-3000:]}")
        return mark in self.log(name)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(deadline - time.monotonic(), 0.1))
            # Whatever is left of the group (prefork children) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture
def celery_processes(transactional_db, tmp_path) -> Iterator[Processes]:
    """Workers and beat; stopped before the test database is flushed, whatever happens."""
    from infrazen.celery import app

    _flush_redis()
    # This process publishes too (connection_create queues on commit): to the same Redis.
    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = REDIS_URL, {}
    app.close()  # drop pooled connections to the configured broker
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
        app.conf.broker_url, app.conf.broker_transport_options = saved
        app.close()
        _flush_redis()


@pytest.fixture
def simulator() -> Iterator[YandexCloudSimulator]:
    with YandexCloudSimulator(SimulatorConfig(seed=5, folders=1, resources_per_folder=20)) as sim:
        yield sim


def _create(tenant, sim, name, **kwargs):
    return connection_create(
        actor=None,
        tenant=tenant,
        provider="yandex_cloud",
        name=name,
        credentials={"oauth_token": sim.oauth_token},
        endpoints={"*": sim.url},
        **kwargs,
    )


def _runs(connection, **filters):
    return list(SyncRun.objects.filter(connection=connection, **filters).order_by("started_at"))


def _task_outcome(processes: Processes, task_id: str) -> tuple[str, str] | None:
    """(worker, returned value as logged) once a worker logged the task as succeeded."""
    done = re.compile(rf"\[{re.escape(task_id)}\] succeeded in [\d.]+s: (.*)$")
    for name in ("w1", "w2"):
        for line in processes.log(name).splitlines():
            match = done.search(line)
            if match:
                return name, match.group(1).strip()
    return None


def test_workers_and_beat_sync_new_and_due_connections_once_at_a_time(
    world, celery_processes, simulator
):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    processes = celery_processes
    processes.worker("w1")
    processes.worker("w2")

    # (a) A new connection is synced at once: connection_create queues the sync on commit, and
    # a worker runs it. Beat is not running yet, so only that trigger can produce this run.
    connection = _create(world.a, simulator, "Created")
    created = wait_for(
        "the first sync",
        lambda: _runs(connection, trigger="created", status=SyncRun.Status.SUCCEEDED),
    )
    assert created[0].created == simulator.expected_count()

    # (b) Beat's dispatcher syncs it again once it is due. The platform schedule row was written
    # at migrate time with the default interval; make it fire every 2 s, like the env asks, and
    # keep the other platform schedules out of this test.
    every_2s, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=DISPATCH_TASK).update(interval=every_2s, expire_seconds=1)
    PeriodicTask.objects.exclude(name=DISPATCH_TASK).update(enabled=False)
    Connection.objects.filter(pk=connection.pk).update(
        next_sync_at=timezone.now() - timedelta(seconds=1)
    )
    processes.beat()
    scheduled = wait_for(
        "a scheduled sync",
        lambda: _runs(connection, trigger="schedule", status=SyncRun.Status.SUCCEEDED),
    )
    assert scheduled[0].started_at > created[0].finished_at
    assert scheduled[0].unchanged == created[0].created  # nothing changed, nothing written
    connection.refresh_from_db()
    assert connection.next_sync_at > timezone.now()  # not due again for an interval

    # (c) Two workers asked to sync one connection at the same moment: one run. The simulator's
    # first answer is slow, so the first sync surely still holds the lease when the second starts.
    with transaction.atomic():  # not due: only the two tasks below may sync it
        contested = _create(world.a, simulator, "Contested", start_sync=False)
        Connection.objects.filter(pk=contested.pk).update(
            next_sync_at=timezone.now() + timedelta(hours=1)
        )
    simulator.inject("slow", delay=3, times=1)
    tasks = [
        connection_sync_task.apply_async(
            kwargs={"connection_id": contested.pk, "trigger": SyncRun.Trigger.MANUAL}
        )
        for _ in range(2)
    ]
    outcomes = [
        wait_for(f"task {task.id}", lambda t=task: _task_outcome(processes, t.id)) for task in tasks
    ]
    assert {worker for worker, _ in outcomes} == {"w1", "w2"}  # each worker took one
    assert sorted(result == "None" for _, result in outcomes) == [False, True]  # one skipped
    runs = _runs(contested)
    assert len(runs) == 1
    assert runs[0].status == SyncRun.Status.SUCCEEDED
