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
