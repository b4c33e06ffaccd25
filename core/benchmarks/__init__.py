"""Benchmarks run by ``manage.py bench NAME``.

Each app may ship a ``benchmarks`` package; every module in it with ``run(report, **options)`` is
a benchmark named after the module. ``add_arguments(parser)`` is optional. ``run`` returns the
figures as a dict, which the command prints as the last line (JSON).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import resource
import statistics
import time
from collections.abc import Callable
from types import ModuleType

from django.apps import apps
from django.db import connection


def discover() -> dict[str, ModuleType]:
    found = {}
    for config in apps.get_app_configs():
        try:
            package = importlib.import_module(f"{config.name}.benchmarks")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            if hasattr(module, "run"):
                found[info.name] = module
    return found


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "mean_ms": round(statistics.fmean(samples), 2) if samples else 0.0,
    }


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of a local process, from /proc; None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def cpu_clock():
    """CPU seconds spent inside the block by this process and by its PostgreSQL backend.

    On a shared machine wall times move with the neighbours' load while CPU seconds barely do, so
    benchmarks print both. The backend figure is None when the server is not local."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    figures: dict[str, float | None] = {}
    python, db = time.process_time(), process_cpu_s(pid)
    try:
        yield figures
    finally:
        figures["python_cpu_s"] = round(time.process_time() - python, 3)
        after = process_cpu_s(pid)
        figures["db_cpu_s"] = None if db is None or after is None else round(after - db, 3)
