"""Allocation's reads: dimension names, tag discovery, the tagging-policy compliance report and
rule previews.

Reports aggregate in PostgreSQL over querysets from ``for_user`` (wrapped as subqueries), so a
member limited to some dimension values gets the figures of their rows only, and tags are
normalised by the tenant's aliases (``allocation.tags``). Line-item counts and costs come from the
per-resource daily rollup (``CostDaily``: the line items' sums by day, resource and tag set).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils.translation import gettext as _

from allocation.conditions import Sql
from allocation.models import DIMENSION_MODELS, RequiredTag, TagRule, VirtualTag
from allocation.tags import Aliases
from core.access import dimension_scope_for, user_has_capability
from core.capabilities import Capability
from providers.costs.hooks import DimensionNames

TOP_VALUES = 100
TOP_OFFENDERS = 10
TREND_MONTHS = 6
ZERO = Decimal(0)


def dimension_names(tenant_id: int) -> DimensionNames:
    """Names of the tenant's dimension values and virtual tags (the providers hook)."""
    values = {
        key: dict(model.objects.filter(tenant_id=tenant_id).values_list("pk", "name"))
        for key, model in DIMENSION_MODELS.items()
    }
    tags = {
        str(pk): key
        for pk, key in VirtualTag.objects.filter(tenant_id=tenant_id).values_list("pk", "key")
    }
    return DimensionNames(values, tags)


def _require_costs(user, tenant) -> None:
    if user is not None and not user_has_capability(user, Capability.VIEW_COSTS, tenant):
        raise PermissionDenied(_("You cannot view the costs of this tenant."))


def _subquery(queryset) -> Sql:
    sql, params = queryset.query.sql_with_params()
    return Sql(sql, params)


def _fetch(sql: Sql) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql.text, sql.params)
        return cursor.fetchall()


def _scoped_daily(user, tenant, first: dt.date, last: dt.date, *columns):
    from providers.models import CostDaily

    rows = CostDaily.objects.all() if user is None else CostDaily.objects.for_user(user, "view")
    return rows.filter(tenant=tenant, day__gte=first, day__lte=last).values(*columns)


def _scoped_resources(user, tenant):
    from providers.models import Resource

    rows = Resource.objects.all() if user is None else Resource.objects.for_user(user, "view")
    return rows.filter(tenant=tenant, deleted_at__isnull=True)


@dataclass
class Coverage:
    line_items: int = 0
    cost: dict[str, Decimal] = field(default_factory=dict)
    resources: int = 0

    def add_cost(self, currency: str, items: int, cost: Decimal) -> None:
        self.line_items += int(items)
        self.cost[currency] = self.cost.get(currency, ZERO) + cost


@dataclass
class TagKeyStats(Coverage):
    key: str = ""
    values: int = 0
    spellings: list[str] = field(default_factory=list)


@dataclass
class TagDiscovery:
    first: dt.date
    last: dt.date
    total: Coverage
    keys: list[TagKeyStats]
    key: str | None = None  # set when listing one key's values
    values: list[dict] = field(default_factory=list)


def tag_discovery(
    *, user, tenant, first: dt.date, last: dt.date, key: str | None = None
) -> TagDiscovery:
    """Tag keys (normalised) found on resources (labels) and cost rows (tags) between the
    tenant-local days [first, last], with the line items, cost and live resources carrying each;
    with ``key``, that key's values too (the most costly first)."""
    _require_costs(user, tenant)
    aliases = Aliases.load(tenant.pk)
    daily = _subquery(
        _scoped_daily(
            user, tenant, first, last, "tags", "billing_currency", "line_items", "billed_cost"
        )
    )
    resources = _subquery(_scoped_resources(user, tenant).values("labels"))
    pairs = aliases.pairs_sql("s.tags")
    label_pairs = aliases.pairs_sql("s.labels")

    total = Coverage()
    for currency, items, cost in _fetch(
        Sql(
            f"SELECT s.billing_currency, coalesce(sum(s.line_items), 0), "
            f"coalesce(sum(s.billed_cost), 0) FROM ({daily.text}) s GROUP BY 1",
            daily.params,
        )
    ):
        total.add_cost(currency, items, cost)
    total.resources = _fetch(Sql(f"SELECT count(*) FROM ({resources.text}) s", resources.params))[
        0
    ][0]

    stats: dict[str, TagKeyStats] = {}

    def entry(name: str) -> TagKeyStats:
        return stats.setdefault(name, TagKeyStats(key=name))

    for name, currency, items, cost in _fetch(
        Sql(
            f"SELECT n.key, s.billing_currency, sum(s.line_items), sum(s.billed_cost) "
            f"FROM ({daily.text}) s, LATERAL {pairs.text} n GROUP BY 1, 2",
            [*daily.params, *pairs.params],
        )
    ):
        entry(name).add_cost(currency, items, cost)
    for name, count in _fetch(
        Sql(
            f"SELECT n.key, count(*) FROM ({resources.text}) s, LATERAL {label_pairs.text} n "
            "GROUP BY 1",
            [*resources.params, *label_pairs.params],
        )
    ):
        entry(name).resources = count
    for name, count in _fetch(
        Sql(
            f"SELECT k, count(DISTINCT v) FROM ("
            f"SELECT n.key AS k, n.value AS v FROM ({daily.text}) s, LATERAL {pairs.text} n "
            f"UNION ALL SELECT n.key, n.value FROM ({resources.text}) s, LATERAL "
            f"{label_pairs.text} n) kv GROUP BY k",
            [*daily.params, *pairs.params, *resources.params, *label_pairs.params],
        )
    ):
        entry(name).values = count
    for (raw,) in _fetch(
        Sql(
            f"SELECT DISTINCT jsonb_object_keys(s.tags) FROM ({daily.text}) s "
            f"WHERE jsonb_typeof(s.tags) = 'object' UNION SELECT DISTINCT "
            f"jsonb_object_keys(s.labels) FROM ({resources.text}) s "
            f"WHERE jsonb_typeof(s.labels) = 'object'",
            [*daily.params, *resources.params],
        )
    ):
        if aliases.key(raw) in stats:
            stats[aliases.key(raw)].spellings.append(raw)
    for item in stats.values():
        item.spellings.sort()
    keys = sorted(stats.values(), key=lambda s: (-s.line_items, -s.resources, s.key))
    result = TagDiscovery(first, last, total, keys)
    if key:
        result.key = aliases.key(key)
        result.values = _values(daily, resources, pairs, label_pairs, result.key)
    return result


def _values(daily: Sql, resources: Sql, pairs: Sql, label_pairs: Sql, key: str) -> list[dict]:
    found: dict[str, dict] = {}

    def entry(value: str) -> dict:
        return found.setdefault(
            value, {"value": value, "line_items": 0, "cost": {}, "resources": 0}
        )

    for value, currency, items, cost in _fetch(
        Sql(
            f"SELECT n.value, s.billing_currency, sum(s.line_items), sum(s.billed_cost) "
            f"FROM ({daily.text}) s, LATERAL {pairs.text} n WHERE n.key = %s GROUP BY 1, 2",
            [*daily.params, *pairs.params, key],
        )
    ):
        row = entry(value)
        row["line_items"] += int(items)
        row["cost"][currency] = row["cost"].get(currency, ZERO) + cost
    for value, count in _fetch(
        Sql(
            f"SELECT n.value, count(*) FROM ({resources.text}) s, LATERAL {label_pairs.text} n "
            "WHERE n.key = %s GROUP BY 1",
            [*resources.params, *label_pairs.params, key],
        )
    ):
        entry(value)["resources"] = count

    def weight(row: dict):
        return (-sum(row["cost"].values(), ZERO), -row["resources"], row["value"])

    return sorted(found.values(), key=weight)[:TOP_VALUES]


# --- compliance ----------------------------------------------------------------------------
@dataclass
class KeyCompliance:
    key: str
    description: str
    missing: Coverage
    # [{"resource_id", "x_resource_id", "name", "currency", "cost", "line_items"}]
    offenders: list[dict]
    trend: list[dict]  # [{"month": "YYYY-MM", "cost": {cur: missing}, "total": {cur: total}}]

    def cost_share(self, total: Coverage) -> dict[str, Decimal]:
        return {
            currency: (self.missing.cost.get(currency, ZERO) / amount if amount else ZERO)
            for currency, amount in total.cost.items()
        }


@dataclass
class Compliance:
    first: dt.date
    last: dt.date
    total: Coverage
    keys: list[KeyCompliance]


def tag_compliance(*, user, tenant, first: dt.date, last: dt.date) -> Compliance:
    """For each required tag key: the cost, line items and live resources missing it between
    the tenant-local days [first, last], the resources missing it that cost most, and the share
    of cost missing it month by month (the last TREND_MONTHS months up to ``last``)."""
    _require_costs(user, tenant)
    aliases = Aliases.load(tenant.pk)
    required = list(RequiredTag.objects.filter(tenant=tenant).order_by("key"))
    trend_first = _months_back(last, TREND_MONTHS)
    daily = _subquery(
        _scoped_daily(
            user,
            tenant,
            min(first, trend_first),
            last,
            "day",
            "tags",
            "billing_currency",
            "line_items",
            "billed_cost",
            "resource_id",
            "x_resource_id",
        )
    )
    resources = _subquery(_scoped_resources(user, tenant).values("labels"))
    keyed = _with_keys(daily, aliases, "tags")
    keyed_resources = _with_keys(resources, aliases, "labels")

    total = Coverage()
    missing = {r.key: Coverage() for r in required}
    keys = [aliases.key(r.key) for r in required]
    sums = ", ".join(
        "sum(s.line_items) FILTER (WHERE NOT coalesce(%s = ANY(s.keys), false)), "
        "sum(s.billed_cost) FILTER (WHERE NOT coalesce(%s = ANY(s.keys), false))"
        for _ in keys
    )
    period = Sql("s.day >= %s AND s.day <= %s", [first, last])
    select_sums = f", {sums}" if keys else ""
    for row in _fetch(
        Sql(
            f"SELECT s.billing_currency, sum(s.line_items), sum(s.billed_cost){select_sums} "
            f"FROM ({keyed.text}) s WHERE {period.text} GROUP BY 1",
            [*[k for key in keys for k in (key, key)], *keyed.params, *period.params],
        )
    ):
        currency, items, cost, *per_key = row
        total.add_cost(currency, items, cost)
        for i, rule in enumerate(required):
            missing[rule.key].add_cost(currency, per_key[2 * i] or 0, per_key[2 * i + 1] or ZERO)
    counts = _fetch(
        Sql(
            "SELECT count(*)"
            + "".join(
                ", count(*) FILTER (WHERE NOT coalesce(%s = ANY(s.keys), false))" for _ in keys
            )
            + f" FROM ({keyed_resources.text}) s",
            [*keys, *keyed_resources.params],
        )
    )[0]
    total.resources = counts[0]
    for i, rule in enumerate(required):
        missing[rule.key].resources = counts[i + 1]

    report = []
    for rule, key in zip(required, keys, strict=True):
        report.append(
            KeyCompliance(
                key=rule.key,
                description=rule.description,
                missing=missing[rule.key],
                offenders=_offenders(user, tenant, keyed, period, key),
                trend=_trend(keyed, key, trend_first, last),
            )
        )
    return Compliance(first, last, total, report)


def _with_keys(source: Sql, aliases: Aliases, column: str) -> Sql:
    """``source`` with ``keys``: each row's normalised tag keys that have a value."""
    pairs = aliases.pairs_sql(f"q.{column}")
    return Sql(
        f"SELECT q.*, (SELECT array_agg(n.key) FROM {pairs.text} n) AS keys FROM ({source.text}) q",
        [*pairs.params, *source.params],
    )


def _offenders(user, tenant, keyed: Sql, period: Sql, key: str) -> list[dict]:
    from providers.models import Resource

    rows = _fetch(
        Sql(
            f"SELECT s.resource_id, max(s.x_resource_id), s.billing_currency, "
            f"sum(s.billed_cost), sum(s.line_items) FROM ({keyed.text}) s "
            f"WHERE {period.text} AND NOT coalesce(%s = ANY(s.keys), false) "
            "GROUP BY s.resource_id, s.billing_currency ORDER BY 4 DESC, 1 LIMIT %s",
            [*keyed.params, *period.params, key, TOP_OFFENDERS],
        )
    )
    linked = {r[1] for r in rows if r[1] is not None}
    resources = Resource.objects.all() if user is None else Resource.objects.for_user(user, "view")
    names = dict(resources.filter(tenant=tenant, pk__in=linked).values_list("pk", "name"))
    return [
        {
            "resource_id": resource_id,
            "x_resource_id": link if link in names else None,
            "name": names.get(link, ""),
            "currency": currency,
            "cost": cost,
            "line_items": int(items),
        }
        for resource_id, link, currency, cost, items in rows
    ]


def _trend(keyed: Sql, key: str, first: dt.date, last: dt.date) -> list[dict]:
    months: dict[str, dict] = {}
    for month, currency, cost, total in _fetch(
        Sql(
            f"SELECT to_char(s.day, 'YYYY-MM'), s.billing_currency, "
            "coalesce(sum(s.billed_cost) FILTER "
            "(WHERE NOT coalesce(%s = ANY(s.keys), false)), 0), "
            f"sum(s.billed_cost) FROM ({keyed.text}) s WHERE s.day >= %s AND s.day <= %s "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            [key, *keyed.params, first, last],
        )
    ):
        entry = months.setdefault(month, {"month": month, "cost": {}, "total": {}})
        entry["cost"][currency] = cost
        entry["total"][currency] = total
    return list(months.values())


def _months_back(day: dt.date, months: int) -> dt.date:
    first = day.replace(day=1)
    for _n in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first


# --- previews ------------------------------------------------------------------------------
def tag_rule_preview(*, user, rule: TagRule, start: dt.datetime, end: dt.datetime):
    """The preview of an unsaved (or changed, unsaved) rule: see ``allocation.preview``. The
    rule is validated first (ValidationError naming the fields). For people who may change the
    rules: the figures cover every project's rows."""
    from allocation.mapping import spec_for
    from allocation.preview import NEW, preview_rule
    from allocation.services.rules import clean_rule

    tenant = rule.tenant
    if user is not None and (
        not user_has_capability(user, Capability.MANAGE_ALLOCATION, tenant)
        or dimension_scope_for(user, tenant, Capability.MANAGE_ALLOCATION) is not None
    ):
        raise PermissionDenied(_("You cannot change the mapping rules of this tenant."))
    if rule.pk is not None:
        rule._state.adding = False  # the proposed version of a saved rule
    if rule.position is None:
        last = TagRule.objects.filter(tenant=tenant).order_by("-position").first()
        rule.position = (last.position + 1) if last else 1
    clean_rule(rule)
    spec = spec_for(rule, rule_id=rule.pk or NEW)
    return preview_rule(tenant, spec, start=start, end=end)


# --- shared costs ---------------------------------------------------------------------------------
@dataclass
class SharedResult:
    """One rule's results over some days, per currency: what was pooled, each target's share
    and what stayed unallocated (always listed, zero or not). pooled = sum(shares) + unallocated
    exactly."""

    rule: object
    currency: str
    pooled: Decimal = Decimal(0)
    shares: list[tuple[str, Decimal]] = field(default_factory=list)  # (target name, amount)
    unallocated: Decimal = Decimal(0)


def allocation_results(*, user, tenant, first: dt.date, last: dt.date) -> list[SharedResult]:
    """The shared-cost results of the tenant's rules over [first, last] (billed cost, in each
    pool's currency), for someone who may view its costs and all of its dimension values."""
    from django.db.models import Sum

    from allocation.models import AllocatedCost, AllocationRule

    _require_costs(user, tenant)
    if dimension_scope_for(user, tenant, Capability.VIEW_COSTS) is not None:
        raise PermissionDenied(_("Shared-cost results cover every project of the tenant."))
    rules = {r.pk: r for r in AllocationRule.objects.filter(tenant=tenant)}
    rows = (
        AllocatedCost.objects.filter(tenant=tenant, day__gte=first, day__lte=last)
        .values_list("rule_id", "billing_currency", "kind", "target_id")
        .annotate(amount=Sum("billed_cost"))
        .order_by("rule_id", "billing_currency", "kind", "target_id")
    )
    names_by_kind = {
        kind: dict(model.objects.filter(tenant=tenant).values_list("pk", "name"))
        for kind, model in DIMENSION_MODELS.items()
    }
    results: dict[tuple, SharedResult] = {}
    for rule_id, currency, kind, target, amount in rows:
        rule = rules.get(rule_id)
        if rule is None:
            continue
        key = (rule.position, rule_id, currency)
        result = results.setdefault(key, SharedResult(rule, currency))
        if kind == "pool":
            result.pooled -= amount
        elif kind == "share":
            name = names_by_kind[rule.dimension].get(target, f"#{target}")
            result.shares.append((name, amount))
        else:
            result.unallocated += amount
    return [results[key] for key in sorted(results)]


# --- unit economics --------------------------------------------------------------------------
UNIT_PLACES = Decimal("0.000001")
GRANULARITIES = ("day", "month")


def _metric(tenant, metric):
    from allocation.models import BusinessMetric

    if isinstance(metric, BusinessMetric):
        if metric.tenant_id != tenant.pk:
            raise ValueError("metric of another tenant")
        return metric
    field_name = "pk" if isinstance(metric, int) else "name__iexact"
    return BusinessMetric.objects.get(tenant=tenant, **{field_name: metric})


def business_metric_values(tenant, metric, day: dt.date) -> dict[int | None, Decimal]:
    """The metric's values on ``day``: ``{dimension value id: value}`` for a metric kept per
    dimension (orders per project), ``{None: value}`` for a tenant-wide one; empty when nothing
    was recorded that day. ``metric`` is a BusinessMetric, its id or its name (any case).

    The basis for splitting a shared cost "in proportion to a business metric": each value's
    share is ``value / sum(values)``. A system read (no viewer): callers check access."""
    from allocation.models import BusinessMetricValue

    metric = _metric(tenant, metric)
    rows = BusinessMetricValue.objects.filter(tenant=tenant, metric=metric, day=day).values_list(
        "dimension_value_id", "value"
    )
    return dict(rows)


@dataclass
class UnitCostRow:
    period: str  # YYYY-MM-DD or YYYY-MM
    dimension_id: int | None
    dimension: str | None
    cost: Decimal
    units: Decimal
    cost_per_unit: Decimal | None  # None: no units that period
    change: Decimal | None  # relative change of cost_per_unit from the previous period

    def as_dict(self) -> dict:
        from providers.costs.query import amount_text

        def text(value):
            return None if value is None else str(value)

        return {
            "period": self.period,
            "dimension_id": self.dimension_id,
            "dimension": self.dimension,
            "cost": amount_text(self.cost),
            "units": format(self.units.normalize(), "f") if self.units else "0",
            "cost_per_unit": text(self.cost_per_unit),
            "change": text(self.change),
        }


@dataclass
class UnitCosts:
    metric: object
    currency: str
    granularity: str
    group_by: str | None
    start: dt.date
    end: dt.date
    rows: list[UnitCostRow]
    totals: list[UnitCostRow]  # per period, every dimension value together


class UnitCostError(ValueError):
    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


def _ratio(cost: Decimal, units: Decimal) -> Decimal | None:
    return (cost / units).quantize(UNIT_PLACES) if units else None


def _with_trend(rows: list[UnitCostRow]) -> list[UnitCostRow]:
    previous: dict = {}
    for row in rows:  # in period order
        before = previous.get(row.dimension_id)
        if before is not None and row.cost_per_unit is not None and before:
            row.change = ((row.cost_per_unit - before) / before).quantize(UNIT_PLACES)
        previous[row.dimension_id] = row.cost_per_unit
    return rows


def unit_costs(
    *,
    user,
    tenant,
    metric,
    start: dt.date,
    end: dt.date,
    granularity: str = "month",
    group_by: str | None = None,
    currency: str | None = None,
) -> UnitCosts:
    """Cost per unit of ``metric`` by day or month, optionally per value of a dimension, with
    each series' change from the previous period.

    Cost is billed cost from the cost query (the tenant's currency and net/gross setting; what
    ``user`` may see of it). Units: a metric kept per dimension divides each value's cost by
    that value's units, so it can be grouped by its own dimension only (or not at all: total
    cost / total units). A tenant-wide metric divides each group's cost by all the units (the
    cost per order that each project carries)."""
    from allocation.models import BusinessMetricValue
    from providers.costs.query import CostQuery, QueryError, run_cost_query

    _require_costs(user, tenant)
    if granularity not in GRANULARITIES:
        raise UnitCostError(_("granularity must be day or month."), "granularity")
    if group_by and group_by not in DIMENSION_MODELS:
        raise UnitCostError(
            _("group_by must be one of: %(keys)s.") % {"keys": ", ".join(DIMENSION_MODELS)},
            "group_by",
        )
    if metric.dimension and group_by and group_by != metric.dimension:
        raise UnitCostError(
            _("This metric is kept per %(dimension)s: group by it or by nothing.")
            % {"dimension": metric.get_dimension_display()},
            "group_by",
        )
    try:
        result = run_cost_query(
            CostQuery(
                tenant=tenant,
                group_by=[granularity, *([group_by] if group_by else [])],
                start=start,
                end=end,
                currency=currency,
                viewer=user,
            )
        )
    except QueryError as exc:
        raise UnitCostError(str(exc), exc.param or "start") from None

    def period(day: dt.date) -> str:
        return day.isoformat() if granularity == "day" else day.strftime("%Y-%m")

    visible = (
        BusinessMetricValue.objects.all()
        if user is None
        else BusinessMetricValue.objects.for_user(user, "view")
    )
    values = visible.filter(tenant=tenant, metric=metric, day__gte=start, day__lte=end)
    units: dict[tuple, Decimal] = {}
    total_units: dict[str, Decimal] = {}
    for day, dim_id, value in values.values_list("day", "dimension_value_id", "value"):
        key = period(day)
        units[(key, dim_id)] = units.get((key, dim_id), ZERO) + value
        total_units[key] = total_units.get(key, ZERO) + value

    costs: dict[tuple, Decimal] = {}
    names: dict = {}
    total_cost: dict[str, Decimal] = {}
    for row in result.rows:
        raw = row[granularity]
        key = raw if isinstance(raw, str) else period(raw)
        dim_id = row.get(f"{group_by}_id") if group_by else None
        if group_by:
            names[dim_id] = row[group_by]
        costs[(key, dim_id)] = costs.get((key, dim_id), ZERO) + row["billed_cost"]
        total_cost[key] = total_cost.get(key, ZERO) + row["billed_cost"]

    periods = sorted(set(total_cost) | set(total_units))
    rows = []
    if group_by:
        label = dict(
            DIMENSION_MODELS[group_by].objects.filter(tenant=tenant).values_list("pk", "name")
        )
        series = {dim for _p, dim in costs} | (
            {dim for _p, dim in units} if metric.dimension else set()
        )
        for key in periods:
            for dim_id in sorted(series, key=lambda d: (d is None, d or 0)):
                cost = costs.get((key, dim_id), ZERO)
                count = (
                    units.get((key, dim_id), ZERO)
                    if metric.dimension
                    else total_units.get(key, ZERO)
                )
                if not cost and not count:
                    continue
                rows.append(
                    UnitCostRow(
                        period=key,
                        dimension_id=dim_id,
                        dimension=names.get(dim_id) or label.get(dim_id),
                        cost=cost,
                        units=count,
                        cost_per_unit=_ratio(cost, count),
                        change=None,
                    )
                )
    totals = [
        UnitCostRow(
            period=key,
            dimension_id=None,
            dimension=None,
            cost=total_cost.get(key, ZERO),
            units=total_units.get(key, ZERO),
            cost_per_unit=_ratio(total_cost.get(key, ZERO), total_units.get(key, ZERO)),
            change=None,
        )
        for key in periods
    ]
    return UnitCosts(
        metric=metric,
        currency=result.currency,
        granularity=granularity,
        group_by=group_by,
        start=result.start,
        end=result.end,
        rows=_with_trend(rows),
        totals=_with_trend(totals),
    )


# --- chargeback / showback -------------------------------------------------------------------
def can_view_margin(user, tenant) -> bool:
    return user is None or user_has_capability(user, Capability.VIEW_MARGIN, tenant)


@dataclass
class ChargebackRow:
    dimension_id: int | None
    dimension: str
    direct: Decimal
    shared: Decimal
    provider_cost: Decimal
    amount: Decimal
    margin: Decimal


@dataclass
class Chargeback:
    tenant: object
    start: dt.date
    end: dt.date
    dimension: str | None
    currency: str
    price_book: object  # the PriceBook applied, or None (showback at provider cost)
    rows: list[ChargebackRow]
    total: ChargebackRow


def chargeback_report(
    *, user, tenant, start: dt.date, end: dt.date, dimension: str | None = None
) -> Chargeback:
    """Showback/chargeback per value of ``dimension`` (or the tenant as a whole): direct and
    shared cost (net of VAT), the customer amount under the price book valid for the whole
    period (none: at cost), and the margin — rounded to the minor unit with the largest
    remainder, so rows add up to the total. Needs ``view_costs``; callers show provider cost
    and margin to ``view_margin`` holders only (``can_view_margin``)."""
    from django.db.models import Q

    from allocation import chargeback as cb
    from allocation.models import PriceBook

    _require_costs(user, tenant)
    if dimension_scope_for(user, tenant, Capability.VIEW_COSTS) is not None:
        raise PermissionDenied(_("Chargeback covers the whole tenant: not for limited members."))
    if dimension and dimension not in DIMENSION_MODELS:
        raise UnitCostError(
            _("dimension must be one of: %(keys)s.") % {"keys": ", ".join(DIMENSION_MODELS)},
            "dimension",
        )
    book = (
        PriceBook.objects.filter(tenant=tenant, valid_from__lte=start)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=end))
        .first()
    )
    currency = book.currency if book else tenant.default_currency
    costs = cb.chargeback_costs(tenant, start, end, currency=currency, dimension=dimension)
    rules = list(book.rules.all()) if book else []
    default = book.default_markup if book else Decimal(0)
    groups: dict = {}
    for cost in costs:
        markup = cb.markup_for(rules, cost.key.provider, cost.key.service, default)
        key = (cost.key.dimension_id, cost.key.dimension)
        direct, shared, amount = groups.get(key, (ZERO, ZERO, ZERO))
        groups[key] = (
            direct + cost.direct,
            shared + cost.shared,
            amount + cost.total * (1 + markup),
        )
    keys = sorted(groups, key=lambda k: (k[0] is None, k[1]))
    unit = cb.minor_unit(currency)
    columns = [cb.largest_remainder([groups[k][i] for k in keys], unit) for i in range(3)]
    rows = []
    for index, key in enumerate(keys):
        direct, shared, amount = (columns[i][index] for i in range(3))
        rows.append(
            ChargebackRow(
                dimension_id=key[0],
                dimension=key[1],
                direct=direct,
                shared=shared,
                provider_cost=direct + shared,
                amount=amount,
                margin=amount - direct - shared,
            )
        )
    total = ChargebackRow(
        dimension_id=None,
        dimension="",
        direct=sum((r.direct for r in rows), ZERO),
        shared=sum((r.shared for r in rows), ZERO),
        provider_cost=sum((r.provider_cost for r in rows), ZERO),
        amount=sum((r.amount for r in rows), ZERO),
        margin=sum((r.margin for r in rows), ZERO),
    )
    return Chargeback(
        tenant=tenant,
        start=start,
        end=end,
        dimension=dimension,
        currency=currency,
        price_book=book,
        rows=rows,
        total=total,
    )


def invoices_for(user, queryset):
    """Invoices ``user`` may see: drafts only where they manage billing (a customer sees an
    invoice once it is issued)."""
    from django.db.models import Q

    from core.access import allowed_tenants

    billing = allowed_tenants(user, Capability.MANAGE_BILLING)
    if billing is None:
        return queryset
    return queryset.filter(~Q(status="draft") | Q(tenant__in=billing.values("pk")))
