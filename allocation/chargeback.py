"""Chargeback arithmetic: costs per line → customer amounts, margins and VAT, rounded to the
currency's minor unit so that every total is exact.

**The costs.** ``chargeback_costs`` is the one seam between costs and chargeback: per
(provider, service[, dimension value]) it returns the *direct* cost (what the cost query puts
on those rows, net of VAT, in the invoice currency) and the *shared* cost allocated to it.
Shared costs are the shared-cost allocation's daily results (AllocationRule, cost_allocations),
read through the cost query's ``allocation=include``: a pool's cost leaves the lines it was
billed on (a negative shared amount there) and reaches its targets' lines.

**Rounding.** Amounts are computed exactly (Decimal) per line, then rounded with the largest
remainder method: each line is rounded down to the minor unit and the units left to reach the
rounded exact total go to the lines with the largest remainders (ties: the earlier line). So
lines always sum to the total, and each line is within one minor unit of its exact value.
Per line and in total: customer amount = provider cost + margin, and total = amount + VAT.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
_CONTEXT = decimal.Context(prec=60, rounding=ROUND_HALF_UP)
# ISO 4217 minor units that are not 2 (the currencies our providers bill in use 2).
MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "KWD": 3, "BHD": 3, "OMR": 3}


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def largest_remainder(values: list[Decimal], unit: Decimal) -> list[Decimal]:
    """Round ``values`` to multiples of ``unit`` so that they sum to the rounded exact sum."""
    if not values:
        return []
    with decimal.localcontext(_CONTEXT):
        target = sum(values, ZERO).quantize(unit, rounding=ROUND_HALF_UP)
        floors = [v.quantize(unit, rounding=ROUND_FLOOR) for v in values]
        left = int((target - sum(floors, ZERO)) / unit)
        order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += unit
    return floors


# --- costs (the seam) ------------------------------------------------------------------------
@dataclass(frozen=True)
class CostKey:
    provider: str
    service: str
    dimension_id: int | None = None
    dimension: str = ""


@dataclass
class DimensionCost:
    key: CostKey
    direct: Decimal
    shared: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.direct + self.shared


def chargeback_costs(
    tenant, start: dt.date, end: dt.date, *, currency: str, dimension: str | None = None
) -> list[DimensionCost]:
    """Direct + shared cost per provider, service and, with ``dimension``, dimension value,
    net of VAT, billed costs only (estimates are not invoiced), in ``currency``. A system read:
    the whole tenant, whoever asks (callers check access).

    Shared costs are the cost query's ``allocation=include`` (the daily ``cost_allocations``
    results): a row's ``allocated_cost`` is what allocation moved into it (a target's shares and
    the unallocated rest, less the pools taken away where they were billed), already net and
    converted like the direct cost; direct = billed_cost - allocated_cost. One query, so direct
    and shared come from the same rows and their sum is the allocated billed total exactly
    (which equals the direct total: allocation moves costs, never adds any)."""
    from providers.costs import hooks
    from providers.costs.query import ALLOCATED, EXCLUDE, INCLUDE, CostQuery, run_cost_query

    group_by = ["provider", "service", *([dimension] if dimension else [])]
    with_allocation = hooks.allocated_costs() is not None
    result = run_cost_query(
        CostQuery(
            tenant=tenant,
            group_by=group_by,
            start=start,
            end=end,
            currency=currency,
            amounts="net",
            limit=100_000,
            allocation=INCLUDE if with_allocation else EXCLUDE,
        )
    )
    found = {}
    for row in result.rows:
        key = CostKey(
            provider=row["provider"] or "",
            service=row["service"] or "",
            dimension_id=row.get(f"{dimension}_id") if dimension else None,
            dimension=(row.get(dimension) or "") if dimension else "",
        )
        shared = row.get(ALLOCATED) or ZERO
        found[key] = DimensionCost(key=key, direct=row["billed_cost"] - shared, shared=shared)
    return sorted(
        found.values(),
        key=lambda c: (c.key.dimension, c.key.dimension_id or 0, c.key.provider, c.key.service),
    )


# --- lines -----------------------------------------------------------------------------------
@dataclass
class Line:
    kind: str
    description: str
    exact_cost: Decimal
    exact_amount: Decimal
    markup: Decimal = ZERO
    provider_name: str = ""
    service_name: str = ""
    dimension_value_id: int | None = None
    dimension_value: str = ""
    provider_cost: Decimal = ZERO
    amount: Decimal = ZERO
    margin: Decimal = ZERO
    vat_amount: Decimal = ZERO
    total: Decimal = ZERO


@dataclass
class Totals:
    provider_cost: Decimal = ZERO
    amount: Decimal = ZERO
    margin: Decimal = ZERO
    vat_amount: Decimal = ZERO
    total: Decimal = ZERO
    lines: list[Line] = field(default_factory=list)


def markup_for(rules: list, provider: str, service: str, default: Decimal) -> Decimal:
    """The most specific rule: provider and service, then provider, then the default."""
    best, rank = default, -1
    for rule in rules:
        if rule.provider_name and rule.provider_name.lower() != provider.lower():
            continue
        if rule.service_name and rule.service_name.lower() != service.lower():
            continue
        specificity = bool(rule.provider_name) + 2 * bool(rule.service_name)
        if specificity > rank:
            best, rank = rule.markup, specificity
    return best


def usage_lines(costs: list[DimensionCost], rules: list, default: Decimal) -> list[Line]:
    lines = []
    for cost in costs:
        if not cost.direct and not cost.shared:
            continue
        markup = markup_for(rules, cost.key.provider, cost.key.service, default)
        for kind, amount in (("usage", cost.direct), ("shared", cost.shared)):
            if not amount:
                continue
            parts = [cost.key.dimension, cost.key.provider, cost.key.service]
            description = " · ".join(p for p in parts if p)
            if kind == "shared":
                description += " (shared)"
            with decimal.localcontext(_CONTEXT):
                customer = amount * (1 + markup)
            lines.append(
                Line(
                    kind=kind,
                    description=description or "—",
                    exact_cost=amount,
                    exact_amount=customer,
                    markup=markup,
                    provider_name=cost.key.provider,
                    service_name=cost.key.service,
                    dimension_value_id=cost.key.dimension_id,
                    dimension_value=cost.key.dimension,
                )
            )
    return lines


def charge_lines(charges) -> list[Line]:
    """Fixed fees and custom lines: no provider cost, so all of it is margin."""
    return [
        Line(
            kind=charge.kind,
            description=charge.description,
            exact_cost=ZERO,
            exact_amount=Decimal(charge.amount),
        )
        for charge in charges
    ]


def finish(lines: list[Line], *, currency: str, vat_rate: Decimal) -> Totals:
    """Round every column with the largest remainder method and derive margin and totals."""
    unit = minor_unit(currency)
    costs = largest_remainder([line.exact_cost for line in lines], unit)
    amounts = largest_remainder([line.exact_amount for line in lines], unit)
    with decimal.localcontext(_CONTEXT):
        # VAT on the rounded net amounts: the invoice's VAT is its net total times the rate.
        vats = largest_remainder([a * vat_rate for a in amounts], unit)
    totals = Totals(lines=lines)
    for line, cost, amount, vat in zip(lines, costs, amounts, vats, strict=True):
        line.provider_cost, line.amount, line.vat_amount = cost, amount, vat
        line.margin = amount - cost
        line.total = amount + vat
        totals.provider_cost += cost
        totals.amount += amount
        totals.margin += line.margin
        totals.vat_amount += vat
        totals.total += line.total
    return totals
