"""Property-based: mapping and shared-cost allocation never create or lose money.

For random cost rows (several days; RUB, USD, JPY with no minor digits, KWD and BHD with three;
amounts with up to 6 decimals, credits included), random mapping rules and random shared-cost
rules (any basis, pools that may overlap, targets that may have no basis), loaded through the
real import path (mapping, rollups, allocation), then re-allocated by a recorded run:

- every (day, currency) of ``cost_allocations`` sums to exactly 0 — direct plus allocated costs
  equal the total, in every measure;
- per pool, shares + unallocated = pool exactly, shares are whole minor units of the currency and
  the unallocated rest is below one minor unit unless no target had any basis;
- the ratios of a pool's shares sum to exactly 1;
- split by the rule's dimension, allocated (a value) + unallocated (none) = total per day and
  currency, and the line items' total is what was loaded (mapping changes no amount).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation.models import AllocatedCost, AllocationRun
from allocation.services.dimensions import dimension_create
from allocation.services.rules import tag_rule_create
from allocation.services.shared import allocation_rule_create, allocation_run_request
from allocation.sharing import minor_unit, split_amount
from allocation.tasks import allocation_run_execute_task
from providers.models import CostDailySummary, CostLineItem
from tests.allocation.conftest import cond, focus_row, load
from tests.factories import TenantFactory

CURRENCIES = ["RUB", "USD", "JPY", "KWD", "BHD"]
SERVICES = ["Compute", "Storage", "Managed Kubernetes", "Support", "Network"]
TEAMS = ["web", "data", "ml", None]
DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=n) for n in range(3)]
METHODS = ["even", "direct_cost", "fixed"]

amounts = st.decimals(
    min_value=Decimal("-50"), max_value=Decimal("5000"), places=6, allow_nan=False
)


# --- the splitting arithmetic alone ---------------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(
    amount=st.decimals(
        min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=8, allow_nan=False
    ),
    weights=st.lists(
        st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e6"), places=6),
        min_size=1,
        max_size=12,
    ),
    currency=st.sampled_from(CURRENCIES),
)
def test_split_amount_is_exact_and_fair(amount, weights, currency):
    shares, rest = split_amount(amount, weights, currency)
    unit = minor_unit(currency)
    assert sum(shares, Decimal(0)) + rest == amount
    assert abs(rest) < unit
    assert all(share % unit == 0 for share in shares)
    whole = sum(weights)
    allocatable = amount - rest
    for share, weight in zip(shares, weights, strict=True):
        # Largest remainder: each share is within one unit of its exact quota.
        assert abs(share - allocatable * weight / whole) < unit


# --- mapping + allocation on the real import path -------------------------------------------------
row = st.tuples(
    st.sampled_from(DAYS),
    st.sampled_from(SERVICES),
    amounts,
    st.sampled_from(CURRENCIES),
    st.sampled_from(TEAMS),
)
pool_rule = st.tuples(
    st.lists(st.sampled_from(SERVICES), min_size=1, max_size=2, unique=True),
    st.sampled_from(METHODS),
    st.sampled_from(["project", "cost_center"]),
    st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
    st.booleans(),  # pool only untagged rows
)


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(row, min_size=1, max_size=25),
    mapping=st.lists(
        st.tuples(st.sampled_from(["web", "data", "ml"]), st.integers(0, 2)), max_size=4
    ),
    pools=st.lists(pool_rule, min_size=1, max_size=3),
)
def test_mapping_and_allocation_conserve_totals(
    rows, mapping, pools, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(
        allocation_run_execute_task, "delay", lambda pk: allocation_run_execute_task.apply([pk])
    )
    tenant = TenantFactory(time_zone="UTC")
    bu = dimension_create(actor=None, kind="business_unit", tenant=tenant, name="BU")
    projects = [
        dimension_create(actor=None, kind="project", tenant=tenant, name=f"P{n}", business_unit=bu)
        for n in range(3)
    ]
    centers = [
        dimension_create(actor=None, kind="cost_center", tenant=tenant, name=f"C{n}")
        for n in range(3)
    ]
    for n, (team, project) in enumerate(mapping):
        tag_rule_create(
            actor=None,
            tenant=tenant,
            name=f"map {n}",
            conditions=[cond("tag", "in", team, key="team")],
            project=projects[project],
        )
    for n, (services, method, dimension, targets, untagged) in enumerate(pools):
        values = projects if dimension == "project" else centers
        chosen = [values[i].pk for i in targets]
        if method == "fixed":
            percents = _percents(len(chosen))
            target_list = [{"id": pk, "percent": p} for pk, p in zip(chosen, percents, strict=True)]
        else:
            target_list = [{"id": pk} for pk in chosen]
        conditions = [cond("service", "in", *services)]
        if untagged:
            conditions.append(cond("tag", "missing", key="team"))
        allocation_rule_create(
            actor=None,
            tenant=tenant,
            name=f"pool {n}",
            conditions=conditions,
            dimension=dimension,
            method=method,
            targets=target_list,
        )
    loaded = [
        focus_row(
            day,
            service,
            str(amount),
            currency=currency,
            tags={"team": team} if team else None,
            resource=f"r-{service}",
        )
        for day, service, amount, currency, team in rows
    ]
    load(tenant, loaded)
    _check(tenant, loaded, pools)
    # Re-allocating the history (a rule change, a manual run) gives the same, conserved, answer.
    before = _snapshot(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        run = allocation_run_request(actor=None, tenant=tenant)
    run.refresh_from_db()
    assert run.status == AllocationRun.Status.SUCCEEDED
    assert _snapshot(tenant) == before
    _check(tenant, loaded, pools)


def _percents(n: int) -> list[str]:
    base = Decimal(100) / n
    parts = [base.quantize(Decimal("0.001")) for _ in range(n - 1)]
    return [str(p) for p in parts] + [str(Decimal(100) - sum(parts))]


def _snapshot(tenant):
    return sorted(
        AllocatedCost.objects.filter(tenant=tenant).values_list(
            "day",
            "rule_id",
            "kind",
            "target_id",
            "billing_currency",
            "service_name",
            "billed_cost",
            "effective_cost",
            "list_cost",
            "vat_amount",
        )
    )


def _check(tenant, loaded, pools):
    expected: dict = defaultdict(Decimal)
    for r in loaded:
        expected[(r["charge_period_start"].date(), r["billing_currency"])] += r["billed_cost"]
    items = (
        CostLineItem.objects.filter(tenant=tenant)
        .values_list("billing_currency")
        .annotate(s=Sum("billed_cost"))
    )
    by_currency: dict = defaultdict(Decimal)
    for key, amount in expected.items():
        by_currency[key[1]] += amount
    assert dict(items.values_list("billing_currency", "s")) == dict(by_currency)
    allocations = list(AllocatedCost.objects.filter(tenant=tenant))
    # 1. Every (day, currency) sums to exactly zero, in every measure.
    sums: dict = defaultdict(lambda: [Decimal(0)] * 4)
    for a in allocations:
        s = sums[(a.day, a.billing_currency)]
        for i, m in enumerate(("billed_cost", "effective_cost", "list_cost", "vat_amount")):
            s[i] += getattr(a, m)
    assert all(v == [0, 0, 0, 0] for v in sums.values()), sums
    # 2. Per pool: shares + unallocated = pool; shares whole minor units; ratios sum to 1.
    pool_keys: dict = defaultdict(lambda: {"pool": Decimal(0), "share": [], "unallocated": []})
    for a in allocations:
        key = (
            a.rule_id,
            a.day,
            a.billing_currency,
            a.provider_name,
            a.service_name,
            a.service_category,
            a.charge_category,
            a.x_connection_id,
        )
        if a.kind == "pool":
            pool_keys[key]["pool"] -= a.billed_cost
        else:
            pool_keys[key][a.kind].append(a)
    for (_rule, _day, currency, *_), found in pool_keys.items():
        unit = minor_unit(currency)
        shares = found["share"]
        assert len(found["unallocated"]) == 1  # always there, even when zero
        rest = found["unallocated"][0].billed_cost
        assert sum((s.billed_cost for s in shares), Decimal(0)) + rest == found["pool"]
        assert all(s.billed_cost % unit == 0 for s in shares)
        if shares:
            assert abs(rest) < unit
            assert sum(s.ratio for s in shares) == 1
    # 3. Split by each rule's dimension: allocated + unallocated = total per day and currency.
    for dimension in {p[2] for p in pools}:
        column = f"x_{dimension}_id"
        with_value: dict = defaultdict(Decimal)
        without: dict = defaultdict(Decimal)
        summary = CostDailySummary.objects.filter(tenant=tenant).values_list(
            "day", "billing_currency", column, "billed_cost"
        )
        extra = AllocatedCost.objects.filter(tenant=tenant).values_list(
            "day", "billing_currency", column, "billed_cost"
        )
        for day, currency, value, amount in [*summary, *extra]:
            (with_value if value is not None else without)[(day, currency)] += amount
        for key, total in expected.items():
            assert with_value[key] + without[key] == total
