"""The shared-cost engine: pools of cost rows split over dimension values, per day, exactly.

``allocate_days(tenant, first, last)`` recomputes the tenant's ``cost_allocations`` for its local
days [first, last], after mapping and after the daily rollups of those days are current:

1. One pass over the line items (one ``CASE`` naming each row's first matching rule, the mapping
   engine's SQL) writes the ``pool`` rows: each pool's cost, negated, grouped by the columns of
   the daily summary, so subtracting them works for any breakdown of the summary. Estimated
   rows never join a pool (estimates are never mixed with billed costs silently).
2. For each rule, its basis (``allocation.bases``) gives each target's weight per day.
3. Each pool — per (rule, day, currency, provider, service, charge category, connection) — is
   split in Python with ``Decimal``: shares are whole minor units of the currency (CLDR's, via
   Babel: 2 for RUB and USD, 0 for JPY, 3 for KWD and BHD), found by the largest-remainder method
   over the exact proportions; what cannot be allocated — the rest below one minor unit, or all
   of it when no target has any basis that day — is written as the ``unallocated`` row. So for
   every pool, shares + unallocated = pool exactly, and every (day, currency) of
   ``cost_allocations`` sums to exactly zero: direct costs plus allocations equal the total.

Each of billed, effective, list cost and VAT is split that way (same proportions), so net/gross
views and conversions in the cost query work on allocated rows as on direct ones.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from babel.numbers import get_currency_precision
from django.db import connection, transaction

from allocation.bases import BasisRequest, get_basis, weights_for
from allocation.conditions import Sql
from allocation.mapping import CompiledRules, RuleSpec, compile_rules, needs_raw_keys
from allocation.tags import Aliases
from core.locks import LockKey

TABLE = "cost_allocations"
LINE_ITEMS = "providers_costlineitem"
RATIO_PLACES = 12  # ratios of one pool's shares are whole multiples of 1e-12 summing to 1
# The daily summary's columns a pool row keeps (providers.costs.rollups.DIMENSIONS, without
# x_estimated: estimates never join a pool).
POOL_COLUMNS = (
    "x_connection_id",
    "billing_currency",
    "provider_name",
    "service_name",
    "service_category",
    "sub_account_id",
    "sub_account_name",
    "region_id",
    "charge_category",
    "x_business_unit_id",
    "x_project_id",
    "x_feature_id",
    "x_environment_id",
    "x_cost_center_id",
)
# What a share keeps of its pool: the charge's identity (conversion and VAT depend on it).
SHARE_KEY = (
    "billing_currency",
    "provider_name",
    "service_name",
    "service_category",
    "charge_category",
    "x_connection_id",
)
MEASURES = ("billed_cost", "effective_cost", "list_cost", "vat_amount")
LINE_MEASURES = ("billed_cost", "effective_cost", "list_cost", "x_vat_amount")
DIMENSION_COLUMNS = (
    "x_business_unit_id",
    "x_project_id",
    "x_feature_id",
    "x_environment_id",
    "x_cost_center_id",
)
COPY_COLUMNS = (
    "tenant_id",
    "day",
    "rule_id",
    "kind",
    "target_id",
    "ratio",
    "basis",
    *SHARE_KEY,
    *DIMENSION_COLUMNS,
    *MEASURES,
)
ZERO = Decimal(0)


@lru_cache(maxsize=512)
def minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit (0.01 RUB, 1 JPY, 0.001 KWD), from CLDR via Babel."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


# --- exact splitting ------------------------------------------------------------------------------
def largest_remainder(total: int, weights: Sequence[Fraction | Decimal | int]) -> list[int]:
    """Split the whole number ``total`` (>= 0) in proportion to ``weights`` (>= 0, not all 0):
    each part is the floor of its exact quota, and the units left go one each to the largest
    fractional parts (ties to the earlier weight). The parts sum to ``total`` exactly."""
    fractions = [Fraction(w) for w in weights]
    whole = sum(fractions)
    quotas = [Fraction(total) * w / whole for w in fractions]
    parts = [q.numerator // q.denominator for q in quotas]
    left = total - sum(parts)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def split_amount(
    amount: Decimal, weights: Sequence[Decimal], currency: str
) -> tuple[list[Decimal], Decimal]:
    """``amount`` split in proportion to ``weights`` into whole minor units of ``currency``;
    returns (shares, rest) with sum(shares) + rest == amount exactly and |rest| < 1 unit. A
    negative amount (a credit) is split like its magnitude."""
    unit = minor_unit(currency)
    sign = -1 if amount < 0 else 1
    units = int((abs(amount) / unit).to_integral_value(rounding="ROUND_FLOOR"))
    parts = largest_remainder(units, weights)
    shares = [sign * part * unit for part in parts]
    return shares, amount - sum(shares, ZERO)


def ratios(weights: Sequence[Decimal]) -> list[Decimal]:
    """The weights as ratios that are multiples of 1e-12 summing to exactly 1."""
    scale = 10**RATIO_PLACES
    return [Decimal(p).scaleb(-RATIO_PLACES) for p in largest_remainder(scale, weights)]


# --- rules ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolRule:
    id: int
    name: str
    conditions: list[dict]
    dimension: str
    method: str
    targets: list[dict]
    metric: str = ""
    # Hierarchy completion: target id -> (business unit, project, feature) for a hierarchy level.
    levels: dict[int, tuple] = field(default_factory=dict)

    def target_ids(self) -> list[int]:
        return [int(t["id"]) for t in self.targets]


def pool_rules(tenant_id: int) -> list[PoolRule]:
    """The tenant's enabled shared-cost rules in order, targets resolved to dimension columns."""
    from allocation.models import AllocationRule, Feature, Project

    rules = list(
        AllocationRule.objects.filter(tenant_id=tenant_id, enabled=True).order_by("position", "id")
    )
    result = []
    for rule in rules:
        ids = rule.target_ids()
        levels: dict[int, tuple] = {}
        if rule.dimension == "project":
            for pk, bu in Project.objects.filter(pk__in=ids).values_list("pk", "business_unit_id"):
                levels[pk] = (bu, pk, None)
        elif rule.dimension == "feature":
            for pk, project, bu in Feature.objects.filter(pk__in=ids).values_list(
                "pk", "project_id", "project__business_unit_id"
            ):
                levels[pk] = (bu, project, pk)
        result.append(
            PoolRule(
                id=rule.pk,
                name=rule.name,
                conditions=list(rule.conditions or []),
                dimension=rule.dimension,
                method=rule.method,
                targets=list(rule.targets or []),
                metric=rule.metric,
                levels=levels,
            )
        )
    return result


def target_dimensions(rule: PoolRule, target: int | None) -> dict[str, int | None]:
    """The dimension columns a share to ``target`` carries (the hierarchy completed upwards)."""
    values: dict[str, int | None] = dict.fromkeys(DIMENSION_COLUMNS)
    if target is None:
        return values
    if rule.dimension in ("project", "feature"):
        bu, project, feature = rule.levels.get(target, (None, None, None))
        values.update(x_business_unit_id=bu, x_project_id=project, x_feature_id=feature)
        values[f"x_{rule.dimension}_id"] = target
    else:
        values[f"x_{rule.dimension}_id"] = target
    return values


def compiled_pools(tenant_id: int, rules: Sequence[PoolRule], raw_keys=None) -> CompiledRules:
    specs = [
        RuleSpec(id=r.id, name=r.name, position=n, conditions=r.conditions)
        for n, r in enumerate(rules, start=1)
    ]
    compiled = compile_rules(tenant_id, specs, aliases=Aliases.load(tenant_id), raw_keys=raw_keys)
    compiled.groups = {"pool": specs}
    return compiled


# --- the run over some days ---------------------------------------------------------------------
@dataclass
class AllocateResult:
    pool_rows: int = 0
    share_rows: int = 0
    unallocated_rows: int = 0

    @property
    def rows_written(self) -> int:
        return self.pool_rows + self.share_rows + self.unallocated_rows


def utc_range(time_zone: str, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end.astimezone(dt.UTC)


def allocate_days(
    *, tenant_id: int, time_zone: str, first_day: dt.date, last_day: dt.date
) -> AllocateResult:
    """Recompute the tenant's shared-cost results for its local days [first_day, last_day], in
    the caller's transaction (or one of its own). Reads the line items and the daily rollups of
    those days, which must be current."""
    result = AllocateResult()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [int(LockKey.ALLOCATION), tenant_id])
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE tenant_id = %s AND day BETWEEN %s AND %s",
            [tenant_id, first_day, last_day],
        )
        rules = pool_rules(tenant_id)
        if not rules:
            return result
        raw_keys = None
        specs = [RuleSpec(id=r.id, name=r.name, position=0, conditions=r.conditions) for r in rules]
        if needs_raw_keys(tenant_id, specs, Aliases.load(tenant_id)):
            cursor.execute(
                "SELECT DISTINCT jsonb_object_keys(tags) FROM providers_costdaily "
                "WHERE tenant_id = %s AND day BETWEEN %s AND %s AND jsonb_typeof(tags) = 'object'",
                [tenant_id, first_day, last_day],
            )
            raw_keys = [key for (key,) in cursor.fetchall()]
        compiled = compiled_pools(tenant_id, rules, raw_keys)
        statement = pool_sql(compiled, tenant_id, time_zone, first_day, last_day)
        cursor.execute(statement.text, statement.params)
        result.pool_rows = cursor.rowcount
        if not result.pool_rows:
            return result
        pools = _pools(cursor, tenant_id, first_day, last_day)
        rows = []
        for rule in rules:
            if rule.id not in pools:
                continue
            basis = get_basis(rule.method)
            if basis is None:  # a basis registered by an app that is not installed any more
                lookup = lambda day, currency: {}  # noqa: E731 (everything stays unallocated)
            else:
                lookup = weights_for(
                    basis,
                    BasisRequest(
                        tenant_id=tenant_id,
                        rule_id=rule.id,
                        dimension=rule.dimension,
                        targets=rule.targets,
                        metric=rule.metric,
                        first_day=first_day,
                        last_day=last_day,
                    ),
                )
            for day, key, amounts in pools[rule.id]:
                rows += split_pool(tenant_id, rule, day, key, amounts, lookup(day, key[0]))
        result.share_rows = sum(1 for r in rows if r[3] == "share")
        result.unallocated_rows = len(rows) - result.share_rows
        _copy(cursor, rows)
    return result


def pool_sql(compiled: CompiledRules, tenant_id, time_zone, first_day, last_day) -> Sql:
    start, end = utc_range(time_zone, first_day, last_day)
    winner = compiled.winner_sql("pool", numbered=False)
    columns = ", ".join(POOL_COLUMNS)
    inner_columns = ", ".join(f"c.{c}" for c in (*POOL_COLUMNS, *LINE_MEASURES))
    negated = ", ".join(f"-coalesce(sum({m}), 0)" for m in LINE_MEASURES)
    # OFFSET 0 keeps the subquery as it is: the CASE is evaluated once per row, not once in the
    # filter and again in the grouping.
    text = (
        f"INSERT INTO {TABLE} (tenant_id, day, rule_id, kind, {columns}, {', '.join(MEASURES)}) "
        f"SELECT %s, day, rule_id, 'pool', {columns}, {negated} FROM ("
        f"SELECT (c.charge_period_start AT TIME ZONE %s)::date AS day, "
        f"{winner.text} AS rule_id, {inner_columns} FROM {LINE_ITEMS} c "
        "WHERE c.tenant_id = %s AND c.charge_period_start >= %s AND c.charge_period_start < %s "
        "AND NOT c.x_estimated OFFSET 0) s "
        f"WHERE rule_id <> 0 GROUP BY day, rule_id, {columns}"
    )
    return Sql(text, [tenant_id, time_zone, *winner.params, tenant_id, start, end])


def _pools(cursor, tenant_id, first_day, last_day) -> dict[int, list]:
    """{rule id: [(day, share key, [billed, effective, list, vat]), ...]} of the pool rows."""
    key = ", ".join(SHARE_KEY)
    summed = ", ".join(f"-sum({m})" for m in MEASURES)
    cursor.execute(
        f"SELECT rule_id, day, {key}, {summed} FROM {TABLE} "
        "WHERE tenant_id = %s AND day BETWEEN %s AND %s AND kind = 'pool' "
        f"GROUP BY rule_id, day, {key} ORDER BY rule_id, day, {key}",
        [tenant_id, first_day, last_day],
    )
    pools: dict[int, list] = {}
    width = len(SHARE_KEY)
    for row in cursor.fetchall():
        pools.setdefault(row[0], []).append((row[1], row[2 : 2 + width], list(row[2 + width :])))
    return pools


def split_pool(tenant_id, rule: PoolRule, day, key, amounts, weights: dict) -> list[tuple]:
    """The share rows and the unallocated row of one pool (a row per COPY_COLUMNS)."""
    currency = key[0]
    targets = [t for t in rule.target_ids() if weights.get(t, ZERO) > 0] if weights else []
    if targets:
        basis = [weights[t] for t in targets]
        shares, rests = [], []
        for amount in amounts:
            parts, rest = split_amount(amount, basis, currency)
            shares.append(parts)
            rests.append(rest)
        ratio = ratios(basis)
    else:
        shares, rests, ratio = [[] for _ in amounts], list(amounts), []
    rows = []
    for i, target in enumerate(targets):
        dims = target_dimensions(rule, target)
        rows.append(
            (
                tenant_id,
                day,
                rule.id,
                "share",
                target,
                ratio[i],
                basis[i],
                *key,
                *(dims[c] for c in DIMENSION_COLUMNS),
                *(parts[i] for parts in shares),
            )
        )
    # Always written, even when zero: "unallocated" is part of every pool's answer.
    rows.append(
        (tenant_id, day, rule.id, "unallocated", None, None, None, *key, *([None] * 5), *rests)
    )
    return rows


def _copy(cursor, rows: list[tuple]) -> None:
    if not rows:
        return
    with cursor.copy(f"COPY {TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# --- FOCUS 1.3 split cost allocation -----------------------------------------------------
def split_relation(tenant_id: int, start: dt.datetime, end: dt.datetime):
    """(SQL, params) of a relation naming, for each line item with ChargePeriodStart in
    [start, end) that a pool split, one row per share: (line_id, rule_id, method, dimension,
    target_id, ratio, basis). The line item's day, rule (the first matching one, as when the
    pools were built) and share key find the shares of its pool; the ratios of one line item's
    shares sum to exactly 1. None when the tenant has no shared-cost rules."""
    from core.models import Tenant

    rules = pool_rules(tenant_id)
    if not rules:
        return None
    time_zone = Tenant.objects.values_list("time_zone", flat=True).get(pk=tenant_id)
    specs = [RuleSpec(id=r.id, name=r.name, position=0, conditions=r.conditions) for r in rules]
    raw_keys = None
    if needs_raw_keys(tenant_id, specs, Aliases.load(tenant_id)):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT jsonb_object_keys(tags) FROM {LINE_ITEMS} WHERE tenant_id = %s "
                "AND charge_period_start >= %s AND charge_period_start < %s "
                "AND jsonb_typeof(tags) = 'object'",
                [tenant_id, start, end],
            )
            raw_keys = [key for (key,) in cursor.fetchall()]
    winner = compiled_pools(tenant_id, rules, raw_keys).winner_sql("pool", numbered=False)
    key_columns = ", ".join(f"c.{c}" for c in SHARE_KEY)
    matches = " AND ".join(f"a.{c} IS NOT DISTINCT FROM p.{c}" for c in SHARE_KEY)
    text = (
        "SELECT p.id AS line_id, a.rule_id, r.method, r.dimension, a.target_id, a.ratio, a.basis "
        f"FROM (SELECT c.id, (c.charge_period_start AT TIME ZONE %s)::date AS day, "
        f"{winner.text} AS rule_id, {key_columns} FROM {LINE_ITEMS} c "
        "WHERE c.tenant_id = %s AND c.charge_period_start >= %s AND c.charge_period_start < %s "
        "AND NOT c.x_estimated OFFSET 0) p "
        f"JOIN {TABLE} a ON a.tenant_id = %s AND a.day = p.day AND a.rule_id = p.rule_id "
        f"AND a.kind = 'share' AND {matches} "
        "JOIN allocation_allocationrule r ON r.id = a.rule_id "
        "WHERE p.rule_id <> 0"
    )
    return text, [time_zone, *winner.params, tenant_id, start, end, tenant_id]
