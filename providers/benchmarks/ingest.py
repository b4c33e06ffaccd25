"""Cost ingestion: a FOCUS file end to end against plain COPY, and the cost query over 10M rows.

1. Generates a FOCUS 1.2 CSV (default 1M rows: one month of Yandex Cloud usage at random hours
   over 20,000 resources, 32 services, 8 folders, tag sets, VAT and credit rows: about two rows
   per resource and day, so the per-resource daily rollup has ~490k groups) in a temp directory.
2. Imports it end to end with ``cost_file_import`` (digest, parse, validate, COPY, resource links,
   VAT, replacing the source's previous rows for the month, totals, rollup refresh, audit,
   commit). Before that, an earlier, smaller version of the same month's file is imported
   untimed, so the replace deletes real rows, as when a provider rewrites a month's file.
3. Loads the same file with plain ``COPY … FROM STDIN (FORMAT csv, HEADER)`` into a table
   created ``LIKE providers_costlineitem INCLUDING ALL``, partitioned the same way with the same
   monthly partition: identical columns, key and indexes (checked), plus one text column per
   custom x_ column of the file, and defaults for tenant, run and source (what the import adds).
   It runs before and after the import; the faster run counts. The ratio is import rows/s over
   COPY rows/s, wall-clock, each load after a CHECKPOINT so that none pays for another's dirty
   pages. CPU seconds of this process and of its PostgreSQL backend (from /proc, when the
   server is local) are printed too: on a shared machine they vary less than wall time.
4. Peak memory of the import: the process's peak RSS (``ru_maxrss``) is reset just before the
   import (``/proc/self/clear_refs``), so the figure is the import's own peak, Django included.
   ``peak_rss_mb`` in the last line (added by ``manage.py bench``) is the peak since then.
5. Seeds ``--query-rows`` line items (default 10M: a year of hourly rows for one tenant) with
   ``INSERT … SELECT generate_series``, refreshes the rollups, then times
   ``GET /api/v1/cost-query/?group_by=month,service`` as an operator (p50/p95 after warm-up),
   checks its answer against the equivalent SQL over the daily summary, and times that SQL too.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import os
import random
import re
import resource
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone

from core.benchmarks import percentile, summary, timed
from core.capabilities import Role
from core.models import Tenant
from core.services.memberships import membership_create
from core.services.tenants import tenant_create
from providers.costs import enrichment, hooks, loader, rollups
from providers.focus import FocusReader, spec
from providers.models import ImportRun, Resource
from providers.partitions import ensure_monthly_partitions
from providers.services.connections import connection_create
from providers.services.costs import cost_file_import

TARGET_RATIO = 0.8
TARGET_PEAK_RSS_MB = 300
TARGET_QUERY_P95_MS = 100.0
TABLE = "providers_costlineitem"
BASELINE = "bench_copy_baseline"
SOURCE_KEY = "bench:focus-month"
QUERY_PATH = "/api/v1/cost-query/"


def add_arguments(parser):
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows in the FOCUS file")
    parser.add_argument(
        "--query-rows", type=int, default=10_000_000, help="Line items seeded for the query"
    )
    parser.add_argument("--skip-query", action="store_true", help="Only the ingestion part")
    parser.add_argument("--resources", type=int, default=20_000, help="Resources in the file")
    parser.add_argument(
        "--linked", type=int, default=5_000, help="Of which registered as Resource rows"
    )
    parser.add_argument("--requests", type=int, default=200, help="Timed cost queries")
    parser.add_argument("--seed", type=int, default=1202)


def run(
    report,
    *,
    rows: int,
    query_rows: int,
    skip_query: bool,
    resources: int,
    linked: int,
    requests: int,
    seed: int,
    **_,
):
    figures: dict = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="infrazen-bench-ingest-") as tmp:
        path = Path(tmp) / "focus-month.csv"
        report(f"  generating {rows:,} FOCUS 1.2 rows ({resources:,} resources) into {path}")
        started = time.perf_counter()
        written = write_csv(path, rows, resources=resources, seed=seed)
        gen_s = time.perf_counter() - started
        file_mb = path.stat().st_size / 2**20
        report(
            f"  file: {file_mb:,.0f} MiB, {written:,} rows in {gen_s:.1f}s "
            f"({written / gen_s:,.0f} rows/s; not part of any figure below)"
        )
        sample = vet_sample(path, 20_000)
        report(
            f"  reader check on the first {sample['rows_read']:,} rows: "
            f"careful (slow-path) rows {sample['careful_rows']}, warnings {sample['warnings']}, "
            f"errors {sample['errors']}"
        )
        figures.update(file_mb=round(file_mb, 1), generate_s=round(gen_s, 2))

        world = _ingest_world(resources, linked)
        report(f"  registered {linked:,} of the {resources:,} resources as Resource rows")
        earlier = Path(tmp) / "focus-month-earlier.csv"
        earlier_rows = _head(path, earlier, max(1, rows // 10))
        started = time.perf_counter()
        previous = _import(world, earlier)
        report(
            f"  earlier version of the month ({earlier_rows:,} rows) imported untimed in "
            f"{time.perf_counter() - started:.1f}s: the timed import replaces it"
        )

        copy_sql = prepare_baseline(path, world["tenant"].pk, previous.pk)
        baselines = [copy_baseline(path, copy_sql)]
        report(f"  plain COPY (FORMAT csv) into {BASELINE}: {_clock_text(rows, baselines[0])}")

        checkpoint()
        imported = measured_import(world, path, report)
        run_ = imported["run"]
        if run_.status != ImportRun.Status.SUCCEEDED:
            raise RuntimeError(f"the import failed: {run_.error}")
        clock = imported["clock"]
        report(f"  cost_file_import: {_clock_text(run_.rows_loaded, clock)}")
        phases = imported["phases"]
        report("  import phases (s): " + ", ".join(f"{k} {v}" for k, v in phases.items()))
        if imported["stream_cpu"]:
            report(
                "  while rows streamed (from the first to the last progress report), CPU: "
                f"Python {imported['stream_cpu']['python_s']}s, PostgreSQL backend "
                f"{imported['stream_cpu']['db_s']}s"
            )
        report(
            f"  replaced {run_.rows_replaced:,} earlier rows; linked "
            f"{run_.progress.get('linked_resources', 0):,} rows to resources"
        )
        check = compare_with_baseline(world["tenant"].pk, run_.pk)
        report(f"  same data as the COPY baseline: {check['same']} ({check['detail']})")
        peak = imported["peak_rss_mb"]
        before = imported["rss_before_mb"]
        report(
            f"  import peak RSS {peak:.0f} MB (process RSS before it {before:.0f} MB; sampled "
            f"max {imported['sampled_max_mb']:.0f} MB) (target <= {TARGET_PEAK_RSS_MB} MB)"
        )

        # Again, so that noise shows; the faster run counts.
        baselines.append(copy_baseline(path, copy_sql))
        report(f"  plain COPY again: {_clock_text(rows, baselines[1])}")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {BASELINE}")

    baseline = min(baselines, key=lambda b: b["wall_s"])
    import_rps = run_.rows_loaded / clock["wall_s"]
    baseline_rps = rows / baseline["wall_s"]
    ratio = import_rps / baseline_rps
    report(
        f"  rows/s: import {import_rps:,.0f}, plain COPY {baseline_rps:,.0f} (faster of "
        f"{len(baselines)} runs): ratio {ratio:.2f} (target >= {TARGET_RATIO}); load average "
        f"{imported['load_before']:.1f} before the import, {os.getloadavg()[0]:.1f} now "
        f"({os.cpu_count()} CPUs, shared: wall times vary; CPU times are steadier)"
    )
    figures.update(
        rows_per_s=round(import_rps),
        baseline_rows_per_s=round(baseline_rps),
        ratio=round(ratio, 3),
        ratio_target=TARGET_RATIO,
        import_s=round(clock["wall_s"], 2),
        baseline_s=round(baseline["wall_s"], 2),
        baseline_runs_s=[round(b["wall_s"], 2) for b in baselines],
        import_python_cpu_s=clock["python_cpu_s"],
        import_db_cpu_s=clock["db_cpu_s"],
        baseline_db_cpu_s=baseline["db_cpu_s"],
        import_phases_s=phases,
        import_stream_cpu_s=imported["stream_cpu"],
        import_peak_rss_mb=round(peak, 1),
        import_rss_before_mb=round(imported["rss_before_mb"], 1),
        rss_measurement=imported["rss_measurement"],
        peak_rss_target_mb=TARGET_PEAK_RSS_MB,
        rows_replaced=run_.rows_replaced,
        linked_rows=run_.progress.get("linked_resources", 0),
        same_data_as_baseline=check["same"],
        load_average_1m=round(os.getloadavg()[0], 2),
    )
    if skip_query:
        figures.update(query_p95_ms=None, query_note="skipped (--skip-query)")
        return figures
    figures.update(query_benchmark(report, query_rows, requests))
    return figures


# -- the file -------------------------------------------------------------------------------------

HEADER = (
    "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingAccountType,"
    "BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,"
    "ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountId,"
    "CommitmentDiscountStatus,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,"
    "EffectiveCost,InvoiceId,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,"
    "PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,"
    "ResourceName,ResourceType,ServiceCategory,ServiceName,ServiceSubcategory,SkuId,SkuMeter,"
    "SkuPriceDetails,SkuPriceId,SubAccountId,SubAccountName,SubAccountType,Tags,x_CloudId,"
    "x_RowNumber,x_ServiceId"
)
PROVIDER = "Yandex Cloud"
# ServiceName, ServiceCategory, ServiceSubcategory, unit, list price (6 places), resource type
SERVICES = (
    ("Compute Cloud", "Compute", "Virtual Machines", "Hours", "1.280000", "vm"),
    ("Compute Cloud Disks", "Storage", "Block Storage", "GB-Months", "0.011400", "disk"),
    ("Object Storage", "Storage", "Object Storage", "GB-Months", "0.002100", "bucket"),
    ("Managed Service for PostgreSQL", "Databases", "Relational Databases", "Hours", "3.950000",
     "database_cluster"),
    ("Managed Service for MySQL", "Databases", "Relational Databases", "Hours", "3.610000",
     "database_cluster"),
    ("Managed Service for ClickHouse", "Databases", "Data Warehouses", "Hours", "5.120000",
     "database_cluster"),
    ("Managed Service for Valkey", "Databases", "Caching", "Hours", "2.040000",
     "database_cluster"),
    ("Managed Service for MongoDB", "Databases", "NoSQL Databases", "Hours", "4.330000",
     "database_cluster"),
    ("Managed Service for OpenSearch", "Analytics", "Search", "Hours", "3.200000",
     "database_cluster"),
    ("Managed Service for Apache Kafka", "Analytics", "Streaming Analytics", "Hours", "2.870000",
     "database_cluster"),
    ("Data Processing", "Analytics", "Data Processing", "Hours", "2.500000", "vm"),
    ("Managed Service for Kubernetes", "Compute", "Containers", "Hours", "2.250000",
     "k8s_cluster"),
    ("Serverless Containers", "Compute", "Containers", "GB-Hours", "0.048000", "vm"),
    ("Cloud Functions", "Compute", "Serverless Compute", "GB-Hours", "0.036000", "vm"),
    ("Virtual Private Cloud", "Networking", "Network Connectivity", "GB", "0.015000", "network"),
    ("Network Load Balancer", "Networking", "Network Routing", "Hours", "0.990000",
     "load_balancer"),
    ("Application Load Balancer", "Networking", "Application Networking", "Hours", "1.720000",
     "load_balancer"),
    ("Cloud CDN", "Networking", "Content Delivery", "GB", "0.850000", "bucket"),
    ("Cloud DNS", "Networking", "Network Infrastructure", "Requests", "0.000024", "network"),
    ("Public IP Addresses", "Networking", "Network Infrastructure", "Hours", "0.172800",
     "ip_address"),
    ("Smart Web Security", "Security", "Threat Detection and Response", "Requests", "0.000450",
     "load_balancer"),
    ("Lockbox", "Security", "Secret Management", "Hours", "0.006600", "folder"),
    ("Key Management Service", "Security", "Secret Management", "Requests", "0.000300", "folder"),
    ("Cloud Logging", "Management and Governance", "Observability", "GB", "0.450000", "folder"),
    ("Monitoring", "Management and Governance", "Observability", "Requests", "0.000120",
     "folder"),
    ("Audit Trails", "Management and Governance", "Compliance", "Requests", "0.000060",
     "folder"),
    ("Cloud Backup", "Storage", "Backup Storage", "GB-Months", "0.004700", "snapshot"),
    ("Container Registry", "Developer Tools", "Developer Platforms", "GB-Months", "0.003100",
     "bucket"),
    ("Message Queue", "Integration", "Messaging", "Requests", "0.000036", "folder"),
    ("API Gateway", "Integration", "API Management", "Requests", "0.000120", "folder"),
    ("DataSphere", "AI and Machine Learning", "Machine Learning", "Hours", "6.480000", "vm"),
    ("Foundation Models", "AI and Machine Learning", "Generative AI", "Tokens", "0.000400",
     "folder"),
)  # fmt: skip
# Weights: compute, disks and databases dominate a real bill's line count.
SERVICE_WEIGHTS = (30, 20, 8, 6, 3, 2, 2, 2, 1, 1, 1, 6, 2, 2, 4, 1, 1, 1, 1, 3, 1, 1, 1, 2, 1, 1,
                   1, 1, 1, 1, 1, 1)  # fmt: skip
FOLDERS = tuple((f"b1g{n:017d}", f"folder-{name}") for n, name in enumerate(
    ("prod", "staging", "dev", "data", "ml", "shared", "payments", "sandbox")))  # fmt: skip
ZONES = ("ru-central1-a", "ru-central1-b", "ru-central1-d")
TAG_KEYS = {
    "env": ("prod", "staging", "dev"),
    "team": ("payments", "data", "platform", "web", "mobile", "ml", "ops"),
    "cost-center": ("cc-1042", "cc-2077", "cc-3100", "cc-4200"),
    "app": ("checkout", "search", "billing", "etl", "api", "crm", "recs", "auth", "cms"),
}


def _quoted(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _plain(units: int, places: int) -> str:
    """An integer count of 10**-places as FOCUS plain decimal text."""
    sign, units = ("-", -units) if units < 0 else ("", units)
    whole, fraction = divmod(units, 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}"


def resource_id(n: int) -> str:
    return f"fhm{n:017d}"


def _resource_parts(rng: random.Random, n: int) -> tuple:
    """Everything about resource n that does not change from row to row."""
    service = rng.choices(range(len(SERVICES)), weights=SERVICE_WEIGHTS)[0]
    name, category, subcategory, unit, price, _type = SERVICES[service]
    folder_id, folder_name = FOLDERS[rng.randrange(len(FOLDERS))]
    tags = None
    if rng.random() < 0.85:
        keys = [k for k in TAG_KEYS if rng.random() < 0.7] or ["env"]
        tags = "{" + ",".join(f'"{k}":"{rng.choice(TAG_KEYS[k])}"' for k in keys) + "}"
    zone = rng.choice(ZONES) if category in ("Compute", "Databases") else ""
    sku = f"dn2sku{service:014d}"
    list_units = int(price.replace(".", ""))  # 6 places
    head = f"{zone},"  # AvailabilityZone; then BilledCost
    # ChargeCategory .. ChargeFrequency; then ChargePeriodEnd, ChargePeriodStart
    middle = f"Usage,,{_quoted(f'{name}, {unit}')},Usage-Based,"
    tail_a = ",,,"  # CommitmentDiscountId, CommitmentDiscountStatus; then ConsumedQuantity
    details = '"{""CoreCount"":2,""MemorySize"":4}"' if category == "Compute" else ""
    tail_b = ",Standard,"  # PricingCategory; then PricingQuantity
    tail_c = ",".join(
        (
            _quoted(unit),
            PROVIDER,
            PROVIDER,
            "ru-central1",
            "Russia Central 1",
            resource_id(n),
            _quoted(f"{name.lower().replace(' ', '-')}-{n}"),
            _quoted(subcategory),
            _quoted(category),
            _quoted(name),
            _quoted(subcategory),
            sku,
            _quoted(unit),
            details,
            f"{sku}-rub",
            folder_id,
            folder_name,
            "Folder",
            _quoted(tags) if tags else "",
            "b1gcloud000000000001",
        )
    )
    return (
        head,
        middle,
        tail_a,
        _quoted(unit),
        tail_b,
        tail_c,
        list_units,
        f"dn2svc{service:014d}",
    )


def generate_lines(
    count: int, *, resources: int = 20_000, seed: int = 1202, year: int = 2026, month: int = 1
) -> Iterator[str]:
    """CSV lines (header first) of a FOCUS 1.2 month: hourly usage of ``resources`` resources,
    one VAT (Tax) row after every 20 usage rows and a credit every 500 rows. Every cost is exact:
    ListCost = ListUnitPrice x PricingQuantity, contracted price = 90% of list."""
    rng = random.Random(seed)  # noqa: S311 (deterministic test data, not security)
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    hours = int((end - start).total_seconds() // 3600)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    instants = [(start + dt.timedelta(hours=h)).strftime(stamp) for h in range(hours + 1)]
    period = f"{end.strftime(stamp)},{start.strftime(stamp)}"
    common = f"dn2billing0000000001,InfraZen demo,Billing Account,RUB,{period},"
    invoice = f"INV-{start:%Y%m},{PROVIDER}"
    parts = [_resource_parts(rng, n) for n in range(resources)]
    other = (
        f",{PROVIDER},{PROVIDER},ru-central1,Russia Central 1,,,,Other,{{name}},Other (Other),"
        f",,,,{{folder_id}},{{folder_name}},Folder,,b1gcloud000000000001"
    )
    yield HEADER + "\n"
    randrange, random_ = rng.randrange, rng.random
    for n in range(count):
        h = randrange(hours)
        period_text = f"{instants[h + 1]},{instants[h]}"
        if n % 500 == 499 or n % 21 == 20:
            folder_id, folder_name = FOLDERS[n % len(FOLDERS)]
            tail = other.format(
                name="Grant" if n % 500 == 499 else "VAT",
                folder_id=folder_id,
                folder_name=folder_name,
            )
            if n % 500 == 499:
                amount = _plain(-randrange(1, 1_000_000), 2)
                kind = "Credit,,Monetary grant,One-Time"
            else:
                amount = _plain(randrange(1, 10_000_000) * 22, 6)
                kind = "Tax,,VAT 22%,Recurring"
            yield (
                f",{amount},{common}{kind},{period_text},,,,,{amount},,{amount},{invoice},"
                f"{amount},,,,{tail},{n},\n"
            )
            continue
        head, middle, tail_a, unit, tail_b, tail_c, list_units, service_id = parts[
            int(random_() * resources)
        ]
        quantity = randrange(1, 2_000_000)  # 4 places
        qty = _plain(quantity, 4)
        contracted = _plain(list_units * 9 * quantity, 11)  # 7 + 4 places
        yield (
            f"{head}{contracted},{common}{middle}{period_text}{tail_a}{qty},{unit},{contracted},"
            f"{_plain(list_units * 9, 7)},{contracted},{invoice},"
            f"{_plain(list_units * quantity, 10)},{_plain(list_units, 6)}{tail_b}{qty},{tail_c},"
            f"{n},{service_id}\n"
        )


def write_csv(path: Path, count: int, **kwargs) -> int:
    lines = generate_lines(count, **kwargs)
    with path.open("w", encoding="utf-8", newline="") as out:
        while batch := [line for _, line in zip(range(20_000), lines, strict=False)]:
            out.write("".join(batch))
    return count


def vet_sample(path: Path, rows: int) -> dict:
    """The reader's verdict on the first rows: the file must take the fast path, cleanly."""
    with FocusReader(path) as reader:
        for n, _ in enumerate(reader.text_rows(), 1):
            if n >= rows:
                break
        return {
            "rows_read": reader.rows_read,
            "careful_rows": reader.careful_rows,
            "warnings": dict(reader.warnings.counts),
            "errors": dict(reader.errors.counts),
        }


def _head(source: Path, target: Path, rows: int) -> int:
    with source.open(encoding="utf-8", newline="") as src, target.open("w", newline="") as out:
        for _, line in zip(range(rows + 1), src, strict=False):
            out.write(line)
    return rows


# -- the import -----------------------------------------------------------------------------------


def _ingest_world(resources: int, linked: int) -> dict:
    tenant = tenant_create(actor=None, name="Bench ingest", slug="bench-ingest")
    conn = connection_create(
        actor=None,
        tenant=tenant,
        provider="yandex_cloud",
        name="Bench billing",
        credentials={"oauth_token": "bench"},
        start_sync=False,
    )
    rng = random.Random(7)  # noqa: S311 (deterministic test data, not security)
    now = timezone.now()
    chosen = sorted(rng.sample(range(resources), min(linked, resources)))
    Resource.objects.bulk_create(
        (
            Resource(
                tenant=tenant,
                connection=conn,
                provider="yandex_cloud",
                provider_id=resource_id(n),
                type="vm",
                name=f"resource-{n}",
                status="running",
                pricing_model="on_demand",
                first_seen_at=now,
                last_seen_at=now,
                content_hash="0" * 64,
            )
            for n in chosen
        ),
        batch_size=2000,
    )
    return {"tenant": tenant, "connection": conn}


def _import(world: dict, path: Path, **kwargs) -> ImportRun:
    return cost_file_import(
        actor=None,
        tenant=world["tenant"],
        file=path,
        source_key=SOURCE_KEY,
        connection=world["connection"],
        **kwargs,
    )


def checkpoint() -> None:
    """Flush dirty pages, so that a timed load does not pay for the previous one's."""
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (ru_maxrss / VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _release_free_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed memory mapped otherwise


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def _phase_clock(
    phases: dict, name: str, target, attribute: str, *, marks: dict | None = None
) -> Iterator[None]:
    """Time every call of ``target.attribute`` into phases[name] while the block runs (and note
    when the first call started in marks[name]). A missing attribute is not timed."""
    original = getattr(target, attribute, None)
    if original is None:
        yield
        return

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        if marks is not None:
            marks.setdefault(name, started)
        try:
            return original(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

    setattr(target, attribute, wrapper)
    try:
        yield
    finally:
        setattr(target, attribute, original)


def measured_import(world: dict, path: Path, report: Callable[[str], None]) -> dict:
    """Run the import in this process with its peak RSS reset first, and its phases timed."""
    marks: dict[str, float] = {}
    phases: dict[str, float] = {}
    cpu_marks: dict[str, tuple] = {}  # (this process, PostgreSQL backend) CPU seconds
    next_report = [0]

    def progress(run: ImportRun) -> None:
        loaded = run.progress.get("rows_loaded", 0)
        now = time.perf_counter()
        marks["last_chunk"] = now
        if "stream_cpu" not in cpu_marks:
            cpu_marks["stream_cpu"] = (time.process_time(), _process_cpu(clock.pid))
        cpu_marks["last_cpu"] = (time.process_time(), _process_cpu(clock.pid))
        if loaded >= next_report[0]:
            report(f"    … {loaded:,} rows loaded ({now - marks['start']:.1f}s)")
            next_report[0] = loaded + 250_000

    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            samples.append(_rss_mb())

    _release_free_memory()  # the bench's garbage (generator, earlier import) is not the import's
    rss_before = _rss_mb()
    exact = _reset_peak_rss()
    sampler = threading.Thread(target=sample, daemon=True)
    load_before = os.getloadavg()[0]
    sampler.start()
    clock = _Clock()
    marks["start"] = clock.wall
    try:
        with (
            _phase_clock(phases, "load", loader, "load", marks=marks),
            _phase_clock(phases, "load", loader, "load_batches", marks=marks),
            _phase_clock(phases, "statistics", loader, "_refresh_statistics"),
            _phase_clock(phases, "enrichment", enrichment, "enrich_import"),
            _phase_clock(phases, "hooks", hooks, "after_rows_loaded"),
            _phase_clock(phases, "totals", loader, "_totals"),
            _phase_clock(phases, "rollups", rollups, "refresh"),
            _phase_clock(phases, "commit", connection, "_commit"),
        ):
            run_ = _import(world, path, force=True, progress=progress)
    finally:
        end = time.perf_counter()
        done.set()
        sampler.join()
    timing = clock.stop()
    timing["wall_s"] = end - marks["start"]
    peak = _maxrss_mb()
    load_start = marks.get("load", marks["start"])
    last = marks.get("last_chunk", end)
    timed_after = sum(
        phases.get(name, 0.0) for name in ("statistics", "enrichment", "hooks", "totals", "rollups")
    )
    timed_after += phases.get("commit", 0.0)
    stream_cpu = None
    if "stream_cpu" in cpu_marks and None not in (*cpu_marks["stream_cpu"], *cpu_marks["last_cpu"]):
        (py0, db0), (py1, db1) = cpu_marks["stream_cpu"], cpu_marks["last_cpu"]
        stream_cpu = {"python_s": round(py1 - py0, 2), "db_s": round(db1 - db0, 2)}
    return {
        "run": run_,
        "clock": timing,
        "stream_cpu": stream_cpu,
        "load_before": load_before,
        "phases": {
            # file digest, ImportRun, duplicate check, header, resource index, VAT rules:
            "before_load": round(load_start - marks["start"], 2),
            # parse, validate, render, COPY (+ partition and early replace of old rows):
            "stream_rows": round(last - load_start, 2),
            "statistics": round(phases.get("statistics", 0.0), 2),
            "enrichment": round(phases.get("enrichment", 0.0), 2),
            "hooks": round(phases.get("hooks", 0.0), 2),
            "totals": round(phases.get("totals", 0.0), 2),
            "rollups": round(phases.get("rollups", 0.0), 2),
            "commit": round(phases.get("commit", 0.0), 2),
            # remaining replace, ImportRun save, audit event:
            "other": round(max(0.0, end - last - timed_after), 2),
        },
        "peak_rss_mb": peak,
        "rss_before_mb": rss_before,
        "sampled_max_mb": max(samples, default=rss_before),
        "rss_measurement": (
            "ru_maxrss of the bench process, reset to its current RSS just before the import "
            "(/proc/self/clear_refs): the import's own peak, Django and the bench included"
            if exact
            else "ru_maxrss of the bench process (could not reset it: an upper bound)"
        ),
    }


# -- the COPY baseline ----------------------------------------------------------------------------


def _index_shapes(table: str) -> list[str]:
    """Index definitions with the index and table names taken out, for comparison."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass",
            [table],
        )
        return sorted(
            re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+", r"\1", definition)
            for _, definition in cursor.fetchall()
        )


def prepare_baseline(path: Path, tenant_id: int, run_id: int) -> str:
    """An identically shaped and indexed table for plain COPY of the file; returns the COPY."""
    with path.open(encoding="utf-8", newline="") as stream:
        header = stream.readline().rstrip("\n").split(",")
    columns, extra = [], []
    for name in header:
        column, _exact = spec.match_column(name)
        field = column.field if column is not None else spec.extension_field(name)
        columns.append(field)
        if column is None:
            extra.append(field)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BASELINE}")
        cursor.execute(
            f"CREATE TABLE {BASELINE} (LIKE {TABLE} INCLUDING ALL"
            + "".join(f", {field} text" for field in extra)
            + ") PARTITION BY RANGE (charge_period_start)"
        )
        for column, value in (
            ("tenant_id", tenant_id),
            ("x_import_run_id", run_id),
            ("x_source_key", SOURCE_KEY),
        ):
            cursor.execute(f"ALTER TABLE {BASELINE} ALTER {column} SET DEFAULT %s", [value])
        cursor.execute(  # the same monthly partitions as the line-item table has now
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        for partition, bound in cursor.fetchall():
            cursor.execute(
                f"CREATE TABLE {partition.replace(TABLE, BASELINE)} PARTITION OF {BASELINE} {bound}"
            )
    if _index_shapes(BASELINE) != _index_shapes(TABLE):
        raise RuntimeError("the baseline table's indexes differ from the line-item table's")
    return f"COPY {BASELINE} ({', '.join(columns)}) FROM STDIN (FORMAT csv, HEADER)"


def copy_baseline(path: Path, sql: str) -> dict:
    """Plain COPY of the file into the (emptied) baseline table, after a checkpoint."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {BASELINE}")
    checkpoint()
    clock = _Clock()
    # Autocommit: the statement commits when it ends.
    with (
        connection.cursor() as cursor,
        path.open("rb") as stream,
        cursor.copy(sql) as copy,
    ):
        while block := stream.read(1 << 20):
            copy.write(block)
    return clock.stop()


class _Clock:
    """Wall time, this process's CPU time and the CPU time of its PostgreSQL backend (read
    from /proc when the server runs on this machine; None otherwise)."""

    def __init__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (self.pid,) = cursor.fetchone()
        self.db_cpu = _process_cpu(self.pid)
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def stop(self) -> dict:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        db_cpu = _process_cpu(self.pid)
        return {
            "wall_s": wall,
            "python_cpu_s": round(cpu, 2),
            "db_cpu_s": None
            if db_cpu is None or self.db_cpu is None
            else round(db_cpu - self.db_cpu, 2),
        }


def _process_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _clock_text(rows: int, clock: dict) -> str:
    db = "n/a" if clock["db_cpu_s"] is None else f"{clock['db_cpu_s']:.1f}s"
    return (
        f"{rows:,} rows in {clock['wall_s']:.1f}s = {rows / clock['wall_s']:,.0f} rows/s "
        f"(CPU: Python {clock['python_cpu_s']:.1f}s, PostgreSQL backend {db})"
    )


def compare_with_baseline(tenant_id: int, run_id: int) -> dict:
    """Row count and money of the imported month against what plain COPY stored."""
    sums = (
        "count(*), sum(billed_cost), sum(effective_cost), sum(list_cost), "
        "count(DISTINCT resource_id), count(tags)"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sums} FROM {BASELINE}")  # noqa: S608 (constant names)
        copied = cursor.fetchone()
        cursor.execute(
            f"SELECT {sums} FROM {TABLE} WHERE tenant_id = %s AND x_import_run_id = %s",  # noqa: S608
            [tenant_id, run_id],
        )
        imported = cursor.fetchone()
        cursor.execute(
            "SELECT sum(line_items), sum(billed_cost) FROM providers_costdailysummary "
            "WHERE tenant_id = %s",
            [tenant_id],
        )
        rolled = cursor.fetchone()
    same = copied == imported and rolled == (imported[0], imported[1])
    return {
        "same": same,
        "detail": f"{imported[0]:,} rows, BilledCost {imported[1]}; rollup {rolled[0]:,} "
        f"line items, {rolled[1]}",
    }


# -- the cost query over 10M line items -----------------------------------------------------------

QUERY_YEAR = 2025


def query_benchmark(report, query_rows: int, requests: int) -> dict:
    tenant = tenant_create(actor=None, name="Bench query", slug="bench-query")
    started = time.perf_counter()
    seed_line_items(tenant, query_rows, report)
    seed_s = time.perf_counter() - started
    report(f"  seeded {query_rows:,} line items in {seed_s:.0f}s")
    start = dt.datetime(QUERY_YEAR, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(QUERY_YEAR + 1, 1, 1, tzinfo=dt.UTC)
    started = time.perf_counter()
    first_day, last_day = rollups.local_days(start, end, tenant.time_zone)
    rollups.refresh(
        tenant_id=tenant.pk, time_zone=tenant.time_zone, first_day=first_day, last_day=last_day
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE providers_costdailysummary")
        cursor.execute("ANALYZE providers_costdaily")
        cursor.execute(
            "SELECT count(*), sum(line_items) FROM providers_costdailysummary WHERE tenant_id = %s",
            [tenant.pk],
        )
        summary_rows, rolled_items = cursor.fetchone()
    refresh_s = time.perf_counter() - started
    report(
        f"  rollups refreshed in {refresh_s:.0f}s: {summary_rows:,} daily summary rows holding "
        f"{rolled_items:,} line items"
    )
    figures: dict = {
        "query_rows": query_rows,
        "query_seed_s": round(seed_s, 1),
        "query_refresh_s": round(refresh_s, 1),
        "query_summary_rows": summary_rows,
    }
    params = {
        "group_by": "month,service",
        "start": f"{QUERY_YEAR}-01-01",
        "end": f"{QUERY_YEAR}-12-31",
        "tenant": tenant.pk,
    }

    sql = (
        "SELECT date_trunc('month', day)::date AS month, service_name, billing_currency, "
        "sum(billed_cost), sum(effective_cost), sum(vat_amount), sum(line_items) "
        "FROM providers_costdailysummary WHERE tenant_id = %s AND day >= %s AND day <= %s "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    args = [tenant.pk, params["start"], params["end"]]

    def run_sql() -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()

    sql_rows = run_sql()
    groups = len(sql_rows)
    for _ in range(20):
        run_sql()
    sql_samples = timed(run_sql, requests)
    sql_stats = summary(sql_samples)
    report(
        f"  SQL month x service over the daily summary ({groups} groups): "
        f"p50 {sql_stats['p50_ms']} ms, p95 {sql_stats['p95_ms']} ms"
    )
    figures.update(sql_p50_ms=sql_stats["p50_ms"], sql_p95_ms=sql_stats["p95_ms"])

    operator = get_user_model().objects.create(username="bench-operator", is_staff=True)
    membership_create(actor=None, tenant=tenant, user=operator, role=Role.OPERATOR)
    client = Client(SERVER_NAME="localhost")
    client.force_login(operator)
    try:
        resolve(QUERY_PATH)
    except Resolver404:
        note = f"{QUERY_PATH} does not exist yet (no URL route): no API figure"
        report(f"  API: {note}; query_p95_ms is null (see the SQL figure above)")
        figures.update(query_p50_ms=None, query_p95_ms=None, query_note=note)
        return figures
    with warnings.catch_warnings():  # whitenoise: no collected static files in a bench
        warnings.simplefilter("ignore", UserWarning)
        response = client.get(QUERY_PATH, params)
    if response.status_code != 200:
        note = f"{QUERY_PATH} answered {response.status_code}: {response.content[:300]!r}"
        report(f"  API: {note}; query_p95_ms is null (see the SQL figure above)")
        figures.update(query_p50_ms=None, query_p95_ms=None, query_note=note)
        return figures
    answer = response.json()
    billed = sum((row[3] for row in sql_rows), Decimal(0))
    consistent = (
        len(answer.get("rows", [])) == groups and Decimal(answer["totals"]["billed_cost"]) == billed
    )
    api_billed = answer["totals"]["billed_cost"]
    report(
        f"  API answer: {len(answer.get('rows', []))} rows, billed {api_billed}"
        f" {answer.get('currency')} ({answer.get('amounts')}, from {answer.get('source')}); SQL: "
        f"{groups} groups, billed {billed}: {'consistent' if consistent else 'DIFFERENT'}"
    )
    figures["query_consistent_with_sql"] = consistent
    for _ in range(20):
        client.get(QUERY_PATH, params)

    def call() -> None:
        answer = client.get(QUERY_PATH, params)
        if answer.status_code != 200:
            raise RuntimeError(f"{QUERY_PATH}: {answer.status_code} {answer.content[:200]!r}")

    api_samples = timed(call, requests)
    stats = summary(api_samples)
    report(
        f"  GET {QUERY_PATH}?group_by=month,service over {query_rows:,} line items: "
        f"p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, p99 {stats['p99_ms']} ms "
        f"(target p95 <= {TARGET_QUERY_P95_MS} ms)"
    )
    figures.update(
        query_p50_ms=stats["p50_ms"],
        query_p95_ms=stats["p95_ms"],
        query_p99_ms=stats["p99_ms"],
        query_mean_ms=round(statistics.fmean(api_samples), 2),
        query_max_ms=round(percentile(api_samples, 100), 2),
        query_target_ms=TARGET_QUERY_P95_MS,
    )
    return figures


SEED_SERVICES = [s[0] for s in SERVICES]
SEED_CATEGORIES = [s[1] for s in SERVICES]


def seed_line_items(tenant: Tenant, count: int, report) -> None:
    """``count`` line items over QUERY_YEAR, one row per resource and hour, written by SQL.

    Resources (count / hours of the year of them) each belong to one service, folder, region and
    tag set; rows are inserted hour by hour (time order, as loads arrive), one month per statement.
    """
    start = dt.datetime(QUERY_YEAR, 1, 1, tzinfo=dt.UTC)
    months = [dt.date(QUERY_YEAR, m, 1) for m in range(1, 13)]
    ensure_monthly_partitions(TABLE, months)
    run_ = ImportRun.objects.create(
        tenant=tenant,
        source=ImportRun.Source.FOCUS_FILE,
        source_key="bench:seed",
        status=ImportRun.Status.SUCCEEDED,
    )
    hours = (dt.datetime(QUERY_YEAR + 1, 1, 1, tzinfo=dt.UTC) - start) // dt.timedelta(hours=1)
    per_hour = -(-count // hours)
    insert = f"""
        INSERT INTO {TABLE} ("""
    insert += """
            tenant_id, x_import_run_id, x_source_key, billing_currency, provider_name,
            publisher_name, invoice_issuer_name, billing_account_id, billing_period_start,
            billing_period_end, charge_period_start, charge_period_end, charge_category,
            charge_frequency, service_name, service_category, sub_account_id, sub_account_name,
            region_id, resource_id, tags, billed_cost, effective_cost, list_cost,
            contracted_cost, x_vat_rate, x_vat_amount)
        SELECT %(tenant)s, %(run)s, 'bench:seed', 'RUB', 'Yandex Cloud', 'Yandex Cloud',
               'Yandex Cloud', 'dn2billing0000000001', date_trunc('month', ts),
               date_trunc('month', ts) + interval '1 month', ts, ts + interval '1 hour',
               CASE WHEN r %% 50 = 49 THEN 'Tax' ELSE 'Usage' END, 'Usage-Based',
               (%(services)s::text[])[1 + r %% %(n_services)s],
               (%(categories)s::text[])[1 + r %% %(n_services)s],
               'b1g' || lpad((r %% 8)::text, 17, '0'), 'folder-' || (r %% 8),
               'ru-central1', 'fhm' || lpad(r::text, 17, '0'),
               (ARRAY['{"env":"prod"}', '{"env":"dev","team":"data"}', NULL,
                      '{"env":"prod","team":"payments","app":"checkout"}'])[1 + r %% 4]::jsonb,
               cost, cost, round(cost / 0.9, 10), cost, 0.2000, round(cost / 6, 12)
          FROM (SELECT g %% %(per_hour)s AS r,
                       %(start)s::timestamptz + (g / %(per_hour)s) * interval '1 hour' AS ts,
                       ((g * 2654435761) %% 1000003)::numeric / 10000 AS cost
                  FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS g) AS s
    """
    params = {
        "tenant": tenant.pk,
        "run": run_.pk,
        "services": SEED_SERVICES,
        "categories": SEED_CATEGORIES,
        "n_services": len(SEED_SERVICES),
        "per_hour": per_hour,
        "start": start,
    }
    hour = 0
    for month in months:
        following = dt.datetime(
            month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC
        )
        last_hour = (following - start) // dt.timedelta(hours=1)
        low, high = hour * per_hour, min(count, last_hour * per_hour) - 1
        hour = last_hour
        if high < low:
            continue
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(insert, {**params, "low": low, "high": high})
        report(
            f"    … {month:%Y-%m}: {high - low + 1:,} rows in {time.perf_counter() - started:.1f}s"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
