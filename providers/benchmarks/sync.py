"""Discovery sync throughput: a first sync and unchanged re-syncs of ~20,000 resources.

The provider (``--provider``, any whose declaration names a simulator; Yandex Cloud by default)
and how to run and connect to its simulator come from the registry (``ProviderSpec.simulator``).
The simulator runs as a separate process (a real provider is remote: its JSON
encoding must not be charged to our CPU or share our GIL), with no simulated latency. Rates are
end to end: ``connection_sync`` from lease claim to the audit event, resources seen per second.

Each provider's rates are also set against a listing-only pass over the same simulator in the
same run (the adapter's ``discover()`` alone, no database): ``listing_ratio_first`` and
``listing_ratio_resync``; ``--provider all`` runs every simulated provider and reports the worst
provider's ratios.

``resync_writes`` are the rows PostgreSQL itself counted as inserted, updated or deleted in
``providers_resource`` and ``providers_resourceevent`` during the re-syncs (``pg_stat_user_tables``
after ``pg_stat_force_next_flush()``), not what the service claims. The same counters taken over
the first sync must equal its created count; the report says so, which checks the measurement.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection as db

from core.benchmarks import cpu_clock
from core.models import Tenant
from core.services.tenants import tenant_create
from providers.adapters.registry import provider_spec, provider_specs
from providers.models import SyncRun
from providers.services.connections import connection_create
from providers.services.sync import connection_sync

TARGET_FIRST_RPS = 5_000
TARGET_RESYNC_RPS = 20_000
# A sync against a listing-only pass over the same simulator in the same run (resources/s).
TARGET_LISTING_RATIO_FIRST = 0.7
TARGET_LISTING_RATIO_RESYNC = 0.9
WATCHED = ("providers_resource", "providers_resourceevent")
BOOKKEEPING = ("providers_syncrun", "providers_connection", "core_auditevent")
SIMULATOR_START_TIMEOUT = 120


def simulated_providers() -> list[str]:
    return [spec.key for spec in provider_specs() if spec.simulator is not None]


def add_arguments(parser):
    parser.add_argument(
        "--provider",
        choices=[*simulated_providers(), "all"],
        default=simulated_providers()[0],
        help='"all": every provider whose declaration names a simulator, one after the other',
    )
    parser.add_argument(
        "--folders", type=int, default=20, help="Scope units (folders, projects) to simulate"
    )
    parser.add_argument("--resources-per-folder", type=int, default=1000)
    parser.add_argument("--resyncs", type=int, default=3, help="Unchanged re-syncs (median)")
    parser.add_argument("--seed", type=int, default=1)


def run(report, *, provider: str | None = None, **options):
    """One provider, or with ``--provider all`` each simulated provider in turn; the summary
    then names the worst provider's ratios to its own listing-only pass."""
    if provider != "all":
        return run_one(report, provider=provider, **options)
    results = {}
    for key in simulated_providers():
        report(f"{key}:")
        results[key] = run_one(report, provider=key, **options)
    worst_first = min(results, key=lambda k: results[k]["listing_ratio_first"])
    worst_resync = min(results, key=lambda k: results[k]["listing_ratio_resync"])
    for key, figures in results.items():
        report(
            f"  {key}: first {figures['first_sync_rps']:,}/s = "
            f"{figures['listing_ratio_first']:.2f} x listing; re-sync "
            f"{figures['resync_rps']:,}/s = {figures['listing_ratio_resync']:.2f} x listing; "
            f"re-sync writes {figures['resync_writes']}"
        )
    return {
        "provider": "all",
        "providers": results,
        "worst_first_provider": worst_first,
        "worst_resync_provider": worst_resync,
        "listing_ratio_first": results[worst_first]["listing_ratio_first"],
        "listing_ratio_first_target": TARGET_LISTING_RATIO_FIRST,
        "listing_ratio_resync": results[worst_resync]["listing_ratio_resync"],
        "listing_ratio_resync_target": TARGET_LISTING_RATIO_RESYNC,
        "resync_writes": sum(f["resync_writes"] for f in results.values()),
    }


def run_one(
    report,
    *,
    folders: int,
    resources_per_folder: int,
    resyncs: int,
    seed: int,
    provider: str | None = None,
    **_,
):
    spec = provider_spec(provider or simulated_providers()[0])
    report(
        f"  starting the {spec.name} simulator: {folders} {spec.scope_noun}s x "
        f"{resources_per_folder} resources"
    )
    with simulator(spec, folders, resources_per_folder, seed) as url:
        slug = f"bench-sync-{spec.key}".replace("_", "-")
        tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(
            actor=None, name=f"Bench sync {spec.name}", slug=slug, kind=Tenant.Kind.MSP
        )
        conn = connection_create(
            actor=None,
            tenant=tenant,
            provider=spec.key,
            name="Bench simulator",
            start_sync=False,
            **spec.simulator.connection(url),
        )
        # What the provider's answers cost alone: the adapter's listing with no database, the
        # ceiling a sync is compared with (median of as many passes as re-syncs).
        listing = [listing_pass(conn) for _ in range(max(resyncs, 1))]
        listing_rps = statistics.median(n / s for n, s in listing)
        report(
            f"  listing only (adapter.discover(), no database): {listing[0][0]} resources, "
            f"median {listing_rps:,.0f}/s over {len(listing)} passes"
        )
        with cpu_clock() as first_cpu:
            first, first_s, first_writes = measured_sync(conn.pk)
        first_rps = first.seen / first_s
        report(
            f"  first sync: {first.seen} resources in {first_s:.2f} s = {first_rps:,.0f}/s "
            f"(target {TARGET_FIRST_RPS:,}/s); created {first.created}, "
            f"{first.api_calls} API calls"
        )
        counted = first_writes[WATCHED[0]]
        consistent = counted["ins"] == first.created
        report(
            f"  measurement check: during the first sync PostgreSQL counted {counted['ins']} "
            f"inserts into {WATCHED[0]} (the run created {first.created}: "
            f"{'consistent' if consistent else 'INCONSISTENT'}) and {counted['upd']} updates "
            "(parent links)"
        )

        runs, seconds, writes = [], [], dict.fromkeys((*WATCHED, *BOOKKEEPING), 0)
        resync_cpu = []
        for _ in range(resyncs):
            with cpu_clock() as cpu:
                again, again_s, again_writes = measured_sync(conn.pk)
            resync_cpu.append(cpu)
            runs.append(again)
            seconds.append(again_s)
            for table, count in again_writes.items():
                writes[table] += sum(count.values())
            report(
                f"  re-sync: {again.seen} resources in {again_s:.2f} s = "
                f"{again.seen / again_s:,.0f}/s; unchanged {again.unchanged}, "
                f"created {again.created}, updated {again.updated}, deleted {again.deleted}"
            )
        resync_s = statistics.median(seconds)
        resync_rps = runs[0].seen / resync_s
        resync_writes = sum(writes[t] for t in WATCHED)
        report(
            f"  re-sync (median of {resyncs}): {resync_rps:,.0f}/s "
            f"(target {TARGET_RESYNC_RPS:,}/s); row writes to {', '.join(WATCHED)}: "
            f"{resync_writes} (target 0); bookkeeping rows "
            + ", ".join(f"{t} {writes[t]}" for t in BOOKKEEPING)
        )
        report(
            f"  vs listing: first sync {first_rps / listing_rps:.2f} "
            f"(target {TARGET_LISTING_RATIO_FIRST}), re-sync {resync_rps / listing_rps:.2f} "
            f"(target {TARGET_LISTING_RATIO_RESYNC})"
        )
    failed = [r for r in [first, *runs] if r.status != SyncRun.Status.SUCCEEDED]
    if failed:
        raise RuntimeError(f"a benchmark sync failed: {failed[0].error}")
    return {
        "provider": spec.key,
        "listing_rps": round(listing_rps),
        "listing_ratio_first": round(first_rps / listing_rps, 3),
        "listing_ratio_resync": round(resync_rps / listing_rps, 3),
        "resources": first.seen,
        "first_sync_s": round(first_s, 3),
        "first_sync_rps": round(first_rps),
        "first_sync_target_rps": TARGET_FIRST_RPS,
        "first_sync_ratio": round(first_rps / TARGET_FIRST_RPS, 3),
        "resync_s": round(resync_s, 3),
        "resync_rps": round(resync_rps),
        "resync_target_rps": TARGET_RESYNC_RPS,
        "resync_ratio": round(resync_rps / TARGET_RESYNC_RPS, 3),
        "resync_writes": resync_writes,
        # CPU per 1,000 resources (this process + its PostgreSQL backend): steadier than
        # rates on a shared machine. Re-syncs: the median run's.
        "first_sync_cpu_ms_per_1k": _cpu_per_1k(first_cpu, first.seen),
        "resync_cpu_ms_per_1k": statistics.median(
            _cpu_per_1k(cpu, run.seen) for cpu, run in zip(resync_cpu, runs, strict=True)
        ),
        "resync_bookkeeping_writes": {t: writes[t] for t in BOOKKEEPING},
        "first_sync_counted_inserts": counted["ins"],
        "measurement_consistent": consistent,
        "api_calls": first.api_calls,
        "resync_api_calls": runs[0].api_calls,
    }


def listing_pass(conn) -> tuple[int, float]:
    """(resources listed, seconds): the adapter's ``discover()`` alone, nothing stored."""
    from providers.services.sync import adapter_for

    adapter = adapter_for(conn)
    started = time.perf_counter()
    count = sum(1 for _ in adapter.discover())
    return count, time.perf_counter() - started


def _cpu_per_1k(cpu: dict, resources: int) -> float:
    spent = cpu["python_cpu_s"] + (cpu["db_cpu_s"] or 0)
    return round(spent * 1_000_000 / max(resources, 1), 1)


def measured_sync(connection_id: int) -> tuple[SyncRun, float, dict[str, dict[str, int]]]:
    before = table_writes()
    started = time.perf_counter()
    run = connection_sync(connection_id=connection_id, trigger=SyncRun.Trigger.MANUAL)
    seconds = time.perf_counter() - started
    after = table_writes()
    delta = {
        table: {kind: after[table][kind] - before[table][kind] for kind in after[table]}
        for table in after
    }
    return run, seconds, delta


def table_writes() -> dict[str, dict[str, int]]:
    """Rows inserted, updated and deleted per table, as PostgreSQL's statistics count them.

    Each backend keeps its counts locally and publishes them at most once a second;
    ``pg_stat_force_next_flush()`` makes this backend publish as soon as it goes idle, i.e. right
    after that statement, so the next query (a new transaction: a fresh stats snapshot) sees every
    write the sync made on this connection.
    """
    tables = [*WATCHED, *BOOKKEEPING]
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
            "WHERE relname = ANY(%s)",
            [tables],
        )
        counts = {name: (ins, upd, dele) for name, ins, upd, dele in cursor.fetchall()}
    return {
        table: dict(zip(("ins", "upd", "del"), counts.get(table, (0, 0, 0)), strict=True))
        for table in tables
    }


@contextmanager
def simulator(spec, folders: int, per_folder: int, seed: int) -> Iterator[str]:
    """Run the provider's simulator in its own process on a free port; yields its base URL."""
    cmd = [
        sys.executable, "-m", spec.simulator.module, "--port", "0", "--seed", str(seed),
        *spec.simulator.scale_args(folders, per_folder),
    ]  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        cmd,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _await_url(proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _await_url(proc: subprocess.Popen) -> str:
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        # Keeps draining after the banner, so a chatty simulator can never block on a full pipe.
        for line in proc.stdout:
            match = re.search(r" on (http://\S+)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(SIMULATOR_START_TIMEOUT)
    if not found:
        raise RuntimeError(f"the simulator did not start (exit code {proc.poll()})")
    return found[0]
