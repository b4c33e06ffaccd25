"""Mapping + shared-cost allocation + rollups, end to end, against hand-written SQL.

Seeds N line items (default 1,000,000) in one month, R mapping rules (default 100, as in
``bench mapping``) and S shared-cost rules (default 10: pools by service, by region and untagged
traffic, split by direct cost, evenly and by fixed percentages over 3-8 projects), then times:

- ``baseline``: the mapping as one hand-written ``UPDATE … SET col = CASE … END`` plus the month's
  rollups — what a person writing SQL by hand needs to see the mapped costs;
- ``ours``: the mapping engine (``apply_rules``), the same rollups, and the shared-cost engine
  (``allocate_days``: pool rows in one pass over the line items, each pool split exactly).

Both mappings must agree row for row, and the allocation must conserve every (day, currency).
``ratio`` = ours / baseline (so it prices the allocation on top of mapping and rollups);
``mapping_ratio`` = our mapping UPDATE / the hand-written one.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from django.db import connection, transaction

from allocation.benchmarks.mapping import (
    MONTH,
    SERVICES,
    _baseline,
    _reset,
    _rules,
    _seed,
    _snapshot,
)
from allocation.mapping import apply_rules, compile_rules
from allocation.models import AllocationRule, Project
from allocation.sharing import allocate_days
from allocation.tags import Aliases
from core.models import Tenant
from providers.costs import rollups


def add_arguments(parser):
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--shared-rules", type=int, default=10)


def run(report, *, rows: int, rules: int, shared_rules: int, **_):
    rng = random.Random(11)  # noqa: S311 (deterministic test data)
    tenant = Tenant.objects.create(name="Bench", slug="bench-allocate", time_zone="UTC")
    report(f"  seeding {rows:,} line items…")
    started = time.perf_counter()
    _seed(tenant, rows)
    report(f"    done in {time.perf_counter() - started:.1f}s")
    specs, vtag = _rules(tenant, rules, rng)
    _shared(tenant, shared_rules, rng)
    start = dt.datetime(MONTH.year, MONTH.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(MONTH.year, MONTH.month + 1, 1, tzinfo=dt.UTC)
    last_day = MONTH.replace(day=31)

    def refresh_rollups():
        rollups.refresh(tenant_id=tenant.pk, time_zone="UTC", first_day=MONTH, last_day=last_day)

    # Baseline: hand-written mapping, then the rollups.
    _reset(tenant)
    with transaction.atomic():
        began = time.perf_counter()
        hand_mapping_s = _baseline(tenant, specs, vtag, start, end)
        refresh_rollups()
        baseline_s = time.perf_counter() - began
    report(
        f"  baseline: hand-written UPDATE … CASE {hand_mapping_s:.2f}s + rollups = "
        f"{baseline_s:.2f}s"
    )
    hand = _snapshot(tenant)

    # Ours: the mapping engine, the rollups, the shared-cost engine; one transaction as an import.
    _reset(tenant)
    with transaction.atomic(), connection.cursor() as cursor:
        began = time.perf_counter()
        compiled = compile_rules(
            tenant.pk,
            specs,
            aliases=Aliases.load(tenant.pk),
            raw_keys=["env", "Env", "environment", "team"],
        )
        mapped = apply_rules(cursor, compiled, start=start, end=end)
        mapping_s = time.perf_counter() - began
        refresh_rollups()
        rollups_s = time.perf_counter() - began - mapping_s
        result = allocate_days(
            tenant_id=tenant.pk, time_zone="UTC", first_day=MONTH, last_day=last_day
        )
        ours_s = time.perf_counter() - began
        allocation_s = ours_s - mapping_s - rollups_s
    report(
        f"  ours: mapping {mapping_s:.2f}s ({mapped.rows_changed:,} rows) + rollups "
        f"{rollups_s:.2f}s + allocation {allocation_s:.2f}s = {ours_s:.2f}s"
    )
    report(
        f"    allocation wrote {result.pool_rows:,} pool, {result.share_rows:,} share and "
        f"{result.unallocated_rows:,} unallocated rows"
    )
    same = _snapshot(tenant) == hand
    report(f"  same mapping as the baseline: {same}")
    conserved, pooled = _conservation(tenant)
    report(f"  allocations sum to zero for every day and currency: {conserved}")
    report(f"  pooled (billed): {pooled} of the month's cost")
    return {
        "rows": rows,
        "rules": rules,
        "shared_rules": shared_rules,
        "seconds": round(ours_s, 3),
        "rows_per_s": round(rows / ours_s),
        "baseline_seconds": round(baseline_s, 3),
        "ratio": round(ours_s / baseline_s, 3),
        "mapping_seconds": round(mapping_s, 3),
        "hand_mapping_seconds": round(hand_mapping_s, 3),
        "mapping_ratio": round(mapping_s / hand_mapping_s, 3),
        "rollups_seconds": round(rollups_s, 3),
        "allocation_seconds": round(allocation_s, 3),
        "allocation_rows": result.rows_written,
        "same_as_baseline": same,
        "conserved": conserved,
    }


def _shared(tenant: Tenant, count: int, rng: random.Random) -> None:
    """Shared-cost rules over the seeded services, regions and untagged rows."""
    projects = list(Project.objects.filter(tenant=tenant).order_by("pk"))
    methods = ["direct_cost", "even", "fixed"]
    for n in range(count):
        if n % 5 == 4:
            conditions = [
                {"field": "tag", "key": "team", "op": "missing"},
                {"field": "region", "op": "in", "values": [f"ru-central1-{n % 3}"]},
            ]
        else:
            conditions = [{"field": "service", "op": "in", "values": [rng.choice(SERVICES)]}]
        method = methods[n % 3]
        chosen = rng.sample(projects, 3 + n % 6)
        if method == "fixed":
            base = 100 // len(chosen)
            percents = [base] * (len(chosen) - 1) + [100 - base * (len(chosen) - 1)]
            targets = [
                {"id": p.pk, "percent": str(x)} for p, x in zip(chosen, percents, strict=True)
            ]
        else:
            targets = [{"id": p.pk} for p in chosen]
        AllocationRule.objects.create(
            tenant=tenant,
            name=f"shared {n}",
            position=n + 1,
            conditions=conditions,
            dimension="project",
            method=method,
            targets=targets,
        )


def _conservation(tenant: Tenant) -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT day, billing_currency FROM cost_allocations "
            "WHERE tenant_id = %s GROUP BY 1, 2 HAVING sum(billed_cost) <> 0 "
            "OR sum(effective_cost) <> 0 OR sum(list_cost) <> 0 OR sum(vat_amount) <> 0) s",
            [tenant.pk],
        )
        broken = cursor.fetchone()[0]
        cursor.execute(
            "SELECT -sum(billed_cost) FROM cost_allocations WHERE tenant_id = %s AND kind = 'pool'",
            [tenant.pk],
        )
        pooled = cursor.fetchone()[0]
        cursor.execute(
            "SELECT sum(billed_cost) FROM providers_costlineitem WHERE tenant_id = %s",
            [tenant.pk],
        )
        total = cursor.fetchone()[0]
    share = f"{pooled / total:.1%}" if total else "—"
    return broken == 0, share
