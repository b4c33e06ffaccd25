"""What a shared-cost pool may be split by: a small registry of basis providers.

A basis gives, for a rule and a range of days, each target's weight per day (and, when the basis
depends on the currency, per currency); the engine splits each pool in proportion to the weights
of its day. Weights are ``Decimal``; a negative weight counts as 0, and a day on which every
target weighs 0 leaves that day's pool unallocated (never guessed).

Built in: ``even``, ``fixed`` (percentages), ``direct_cost`` (each target's own cost that day, in
the pool's currency, pools excluded) and ``usage_metric`` (a daily resource metric summed over
the resources whose costs the target carries that day). Other apps add theirs from their
``AppConfig.ready`` — e.g. the business metrics (unit economics) register ``business_metric``::

    from allocation.bases import Basis, register_basis
    register_basis(Basis("business_metric", _("Business metric"), weights=..., needs_metric=True))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext_lazy

# (day, currency or None) -> {target id: weight}; None: the weights hold in every currency.
Weights = dict[tuple[dt.date, str | None], dict[int, Decimal]]


@dataclass(frozen=True)
class BasisRequest:
    tenant_id: int
    rule_id: int
    dimension: str  # business_unit, project, feature, environment, cost_center
    targets: Sequence[dict]  # [{"id": 12, "percent": Decimal|None}, ...] as the rule stores them
    metric: str
    first_day: dt.date
    last_day: dt.date

    @property
    def target_ids(self) -> list[int]:
        return [int(t["id"]) for t in self.targets]

    @property
    def column(self) -> str:
        return f"x_{self.dimension}_id"


@dataclass(frozen=True)
class Basis:
    key: str
    label: object
    weights: Callable[[BasisRequest], Weights | Callable]
    needs_metric: bool = False
    # A constant basis returns a callable day -> weights instead of a dict (even, fixed).
    help: object = ""
    # (rule) -> a message naming what is wrong with ``rule.metric``, or None: run when the rule
    # is validated, so a metric that cannot weigh anything is refused up front, not pooled.
    check_metric: Callable[[object], object] | None = None


_registry: dict[str, Basis] = {}


def register_basis(basis: Basis) -> Basis:
    _registry[basis.key] = basis
    return basis


def get_basis(key: str) -> Basis | None:
    return _registry.get(key)


def bases() -> dict[str, Basis]:
    return dict(_registry)


def weights_for(basis: Basis, request: BasisRequest):
    """A function (day, currency) -> {target: weight} over the request's days."""
    found = basis.weights(request)
    if callable(found):
        return found

    def lookup(day: dt.date, currency: str) -> dict[int, Decimal]:
        return found.get((day, currency)) or found.get((day, None)) or {}

    return lookup


# --- built-in bases ------------------------------------------------------------------------------
def _even(request: BasisRequest):
    weights = {target: Decimal(1) for target in request.target_ids}
    return lambda day, currency: weights


def _fixed(request: BasisRequest):
    weights = {int(t["id"]): Decimal(str(t["percent"])) for t in request.targets}
    return lambda day, currency: weights


def _direct_cost(request: BasisRequest) -> Weights:
    """Each target's billed cost of the day in each currency, from the daily summary, less the
    rows taken into pools (already written as negative ``pool`` rows for these days)."""
    column = request.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT day, billing_currency, {column}, sum(billed_cost) FROM (
              SELECT day, billing_currency, {column}, billed_cost FROM providers_costdailysummary
               WHERE tenant_id = %(tenant)s AND day BETWEEN %(first)s AND %(last)s
                 AND {column} = ANY(%(targets)s) AND NOT x_estimated
              UNION ALL
              SELECT day, billing_currency, {column}, billed_cost FROM cost_allocations
               WHERE tenant_id = %(tenant)s AND day BETWEEN %(first)s AND %(last)s
                 AND {column} = ANY(%(targets)s) AND kind = 'pool'
            ) s GROUP BY 1, 2, 3
            """,
            {
                "tenant": request.tenant_id,
                "first": request.first_day,
                "last": request.last_day,
                "targets": request.target_ids,
            },
        )
        found: Weights = {}
        for day, currency, target, amount in cursor.fetchall():
            found.setdefault((day, currency), {})[target] = amount
    return found


def _usage_metric(request: BasisRequest) -> Weights:
    """The daily average of ``metric`` summed over the resources whose cost rows carry the
    target that day (a node pool tagged team=web weighs its CPU for web)."""
    column = request.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT r.day, r.target, sum(m.avg)
              FROM (SELECT DISTINCT day, x_resource_id, {column} AS target
                      FROM providers_costdaily
                     WHERE tenant_id = %(tenant)s AND day BETWEEN %(first)s AND %(last)s
                       AND {column} = ANY(%(targets)s) AND x_resource_id IS NOT NULL) r
              JOIN providers_resourcemetricdaily m
                ON m.tenant_id = %(tenant)s AND m.resource_id = r.x_resource_id
               AND m.day = r.day AND m.metric = %(metric)s
             GROUP BY 1, 2
            """,
            {
                "tenant": request.tenant_id,
                "first": request.first_day,
                "last": request.last_day,
                "targets": request.target_ids,
                "metric": request.metric,
            },
        )
        found: Weights = {}
        for day, target, value in cursor.fetchall():
            # Floats from the metrics store, made exact Decimals once (repr round-trips).
            found.setdefault((day, None), {})[target] = Decimal(repr(float(value)))
    return found


EVEN = register_basis(Basis("even", gettext_lazy("Evenly"), _even))
FIXED = register_basis(Basis("fixed", gettext_lazy("Fixed percentages"), _fixed))
DIRECT_COST = register_basis(
    Basis("direct_cost", gettext_lazy("In proportion to direct cost"), _direct_cost)
)
USAGE_METRIC = register_basis(
    Basis(
        "usage_metric",
        gettext_lazy("In proportion to a usage metric"),
        _usage_metric,
        needs_metric=True,
    )
)
