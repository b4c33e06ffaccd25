"""The cost query: costs grouped and filtered by any dimension, in the tenant's reporting currency,
net or gross of VAT. Used by the API (/api/v1/cost-query/), the portal and the benchmark.

Reads only the daily rollups: ``CostDailySummary`` (no resources, no tags: small) unless a resource
or tag dimension is grouped or filtered on, then ``CostDaily``. Days are the tenant's local days
(the rollups are built that way), ``start`` and ``end`` both inclusive.

**Conversion.** Amounts are stored in their billing currency. PostgreSQL groups the rollup rows by
the requested dimensions plus what decides how to convert them: provider, billing currency, whether
the row is a tax row, and a "rate day" — the day itself for rows in another currency (rates change
daily), otherwise the VAT period the day falls in (one value unless a VAT rule starts inside the
range). Python then converts that small result (a few rows per group) with one factor per
(currency, day) from ``providers.costs.currency`` and re-adds it per group. This is faster than
joining rates in SQL: the join would multiply a NUMERIC on every rollup row and needs the "latest
earlier rate, manual first" lookup per row, while the grouped result is tiny. All arithmetic is
``Decimal`` with 60 significant digits; results are rounded half-up to 18 decimal places only at
the end (the precision of the stored amounts).

**Net and gross** (``Tenant.cost_amounts``, or ``amounts=`` per query). The VAT rule is the
``VatRule`` in force for the row's provider and billing currency on its day; ``vat`` is the VAT
stored on each line item at import (``x_vat_amount``, computed from the rule then in force).

- Rows with ChargeCategory ``Tax`` are tax themselves: gross counts them in full, net leaves them
  out (0), and their BilledCost is part of ``vat``.
- Provider whose prices include VAT (Russian clouds in RUB): gross = billed; net = billed - vat.
- Provider whose prices exclude VAT: net = billed; gross = billed + vat.
- No VAT rule: billed either way.

Effective and list cost follow the same rule with the rule's rate r (* (1 + r) to add VAT,
/ (1 + r) to remove it), so gross - net = vat holds for billed cost on every row.

**Estimates** (``x_estimated``: costs computed from inventory x a price list, not billed) are
never summed with billed costs silently. ``estimates`` chooses: ``exclude`` (the default: billed
costs only), ``include`` (both) or ``only``; group by ``estimated`` to see them apart. Whatever
the choice, ``estimated_totals`` reports the estimated part of the matching costs, so a page
showing billed costs can say how much was estimated besides.

**Business dimensions** (business_unit, project, feature, environment, cost_center) are stored as
ids; grouped rows name them (``project``: the name, ``project_id``: the id) through the names the
allocation app registers (``providers.costs.hooks.register_dimension_names``). Virtual tags group
as ``vtag:<key>`` and filter as ``vtag=key:value``. A ``viewer`` limited to some dimension values
(``core.dimensions``) gets only the rows of those values: rows, totals and all.

**Shared costs** (``allocation=include``). The allocation app registers the relation holding its
daily shared-cost results (``providers.costs.hooks.register_allocated_costs``): rows shaped like
the daily summary whose amounts sum to zero per day and currency — a pool's rows taken away
(negative, where they were), each target's share, and the unallocated rest. With
``allocation=include`` they are added to the direct costs (``UNION ALL`` before grouping), so
every breakdown shows costs after allocation while totals stay exactly the same; each row and the
totals then also carry ``allocated_cost`` (the net billed amount allocation moved into the
group: direct = billed_cost - allocated_cost), and ``allocation_totals`` reports what was pooled,
allocated and left unallocated. Unallocated costs are always shown: grouped by one business
dimension, the row without a value is listed even when it is zero. Shares carry no resource or
tags; in resource and tag breakdowns they fall under "none".
"""

from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from providers.costs import hooks
from providers.costs.currency import MissingRates, conversion_factors
from providers.costs.vat import VatResolver

SUMMARY_TABLE = "providers_costdailysummary"
DAILY_TABLE = "providers_costdaily"
MEASURES = ("billed_cost", "effective_cost", "list_cost", "vat")
COUNT = "line_items"
GROSS, NET = "gross", "net"
MAX_DAYS = 3 * 366 + 1  # three years of the summary table
MAX_DETAIL_DAYS = 366  # resource and tag breakdowns read the much larger per-resource table
MAX_ROWS = 100_000
DEFAULT_LIMIT = 10_000
RESULT_PLACES = Decimal("1e-18")
TAX = "Tax"
EXCLUDE, INCLUDE, ONLY = "exclude", "include", "only"
ESTIMATES = (EXCLUDE, INCLUDE, ONLY)
ALLOCATION_CHOICES = (EXCLUDE, INCLUDE)
ALLOCATED = "allocated_cost"
_CONTEXT = decimal.Context(prec=60, rounding=ROUND_HALF_UP)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Dimension:
    name: str
    column: str  # SQL over the rollup table (constant text, never user input)
    kind: str = "text"  # text, int, bool, day, month
    detail: bool = False  # only CostDaily has it


_DIMENSIONS = [
    Dimension("day", "day", "day"),
    Dimension("month", "date_trunc('month', day)::date", "month"),
    Dimension("provider", "provider_name"),
    Dimension("service", "service_name"),
    Dimension("service_category", "service_category"),
    Dimension("region", "region_id"),
    Dimension("sub_account", "sub_account_id"),
    Dimension("sub_account_name", "sub_account_name"),
    Dimension("connection", "x_connection_id", "int"),
    Dimension("charge_category", "charge_category"),
    Dimension("billing_currency", "billing_currency"),
    Dimension("business_unit", "x_business_unit_id", "int"),
    Dimension("project", "x_project_id", "int"),
    Dimension("feature", "x_feature_id", "int"),
    Dimension("environment", "x_environment_id", "int"),
    Dimension("cost_center", "x_cost_center_id", "int"),
    Dimension("resource", "resource_id", detail=True),
    Dimension("estimated", "x_estimated", "bool"),
]
DIMENSIONS: dict[str, Dimension] = {d.name: d for d in _DIMENSIONS}
# The allocation dimensions also answer to their column names (x_business_unit_id, ...).
ALIASES = {d.column: d.name for d in _DIMENSIONS if d.column.startswith("x_")} | {
    "provider_name": "provider",
    "service_name": "service",
    "region_id": "region",
    "sub_account_id": "sub_account",
    "resource_id": "resource",
}
TAG_PREFIX = "tag:"
VTAG_PREFIX = "vtag:"
# Stored as ids of rows the allocation app names (see providers.costs.hooks.dimension_names).
NAMED = frozenset({"business_unit", "project", "feature", "environment", "cost_center"})
# (Estimates are chosen with ``estimates``, not filtered like a dimension.)
FILTERABLE = tuple(name for name in DIMENSIONS if name not in ("day", "month", "estimated"))


class QueryError(ValueError):
    """The query cannot be answered as asked; the message says why (shown to the user)."""

    def __init__(
        self, message: str, *, param: str | None = None, missing_rates=None, status: int = 400
    ):
        super().__init__(message)
        self.param = param
        self.missing_rates = missing_rates
        self.status = status


@dataclass
class CostQuery:
    tenant: object  # core.models.Tenant
    group_by: Sequence[str] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    tags: Sequence[tuple[str, str]] = ()  # tag key:value filters, all must match
    vtags: Sequence[tuple[str, str]] = ()  # virtual tag key:value filters, all must match
    currency: str | None = None  # default: the tenant's reporting currency
    amounts: str | None = None  # default: the tenant's setting
    order: str | None = None  # a dimension or measure, "-" for descending
    limit: int = DEFAULT_LIMIT
    estimates: str = EXCLUDE  # exclude (billed only), include, only
    # Who asks: a member limited to some dimension values sees only theirs. None: the system.
    viewer: object = None
    allocation: str = EXCLUDE  # include: shared costs split over their targets (see above)


@dataclass
class CostQueryResult:
    currency: str
    amounts: str
    group_by: list[str]
    start: dt.date
    end: dt.date
    source: str  # "summary" or "daily": which rollup answered
    rows: list[dict]
    totals: dict
    truncated: bool = False
    estimates: str = EXCLUDE
    # The estimated part of the matching costs, included in ``totals`` or not.
    estimated_totals: dict = field(default_factory=dict)
    allocation: str = EXCLUDE
    # With allocation=include: {"pooled", "allocated", "unallocated"} billed amounts.
    allocation_totals: dict = field(default_factory=dict)


def cost_tenant_for(user, value: str | int | None = None):
    """The tenant whose costs ``user`` asked for (id or slug), among those they may view.

    Without a value, the one tenant whose costs the user can view; several (or a superuser)
    make the parameter required.
    """
    from core.access import allowed_tenants
    from core.capabilities import Capability
    from core.models import Tenant

    allowed = allowed_tenants(user, Capability.VIEW_COSTS, action="view")
    tenants = Tenant.objects.all() if allowed is None else allowed
    if value in (None, ""):
        found = list(tenants.order_by("pk")[:2])
        if len(found) == 1:
            return found[0]
        if not found:
            raise QueryError(_("You cannot view the costs of any tenant."), status=403)
        raise QueryError(
            _("You can view the costs of several tenants: name one with “tenant” (id or slug)."),
            param="tenant",
        )
    text = str(value).strip()
    # isascii: str.isdigit() also takes "²", which int() refuses.
    lookup = {"pk": int(text)} if text.isascii() and text.isdigit() else {"slug": text}
    tenant = tenants.filter(**lookup).first()
    if tenant is None:
        raise QueryError(
            _("No tenant %(value)r among those whose costs you can view.") % {"value": text},
            param="tenant",
        )
    return tenant


def amount_text(value: Decimal) -> str:
    """Exact, plain notation, at least two decimals: '123.45', '0.0000004', '-5.00'."""
    if value == 0:
        return "0.00"
    whole, _sep, fraction = format(value, "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def result_json(result: CostQueryResult, tenant) -> dict:
    """The API's answer: dimension values as JSON scalars, amounts as Decimal strings."""

    def encode(row: dict) -> dict:
        out = {}
        for key, value in row.items():
            if isinstance(value, Decimal):
                value = amount_text(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[key] = value
        return out

    return {
        "tenant": tenant.pk,
        "currency": result.currency,
        "amounts": result.amounts,
        "group_by": result.group_by,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "source": result.source,
        "rows": [encode(row) for row in result.rows],
        "totals": encode(result.totals),
        "truncated": result.truncated,
        "estimates": result.estimates,
        "estimated_totals": encode(result.estimated_totals),
        "allocation": result.allocation,
        **(
            {"allocation_totals": encode(result.allocation_totals)}
            if result.allocation == INCLUDE
            else {}
        ),
    }


def parse_group_by(value: str | Iterable[str] | None) -> list[str]:
    """'month,service' -> ['month', 'service']: validated, aliases resolved, repeats dropped."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for raw in items:
        name = raw.strip()
        if name:
            canonical = _dimension(name).name
            if canonical not in names:
                names.append(canonical)
    return names


def _dimension(name: str) -> Dimension:
    if name.startswith(TAG_PREFIX):
        key = name[len(TAG_PREFIX) :]
        if not key:
            raise QueryError(_("Name the tag key: tag:<key>, e.g. tag:env."), param="group_by")
        return Dimension(name, "", "tag", detail=True)
    if name.startswith(VTAG_PREFIX):
        if not name[len(VTAG_PREFIX) :]:
            raise QueryError(
                _("Name the virtual tag: vtag:<key>, e.g. vtag:team."), param="group_by"
            )
        return Dimension(name, "", "vtag", detail=True)
    dimension = DIMENSIONS.get(ALIASES.get(name, name))
    if dimension is None:
        raise QueryError(
            _("Unknown dimension %(name)r. Use any of: %(known)s, tag:<key> or vtag:<key>.")
            % {"name": name, "known": ", ".join(DIMENSIONS)},
            param="group_by",
        )
    return dimension


def default_period(tenant) -> tuple[dt.date, dt.date]:
    """The current calendar month in the tenant's time zone."""
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def run_cost_query(query: CostQuery) -> CostQueryResult:
    tenant = query.tenant
    dims = [_dimension(name) for name in query.group_by]
    currency = (query.currency or tenant.default_currency).upper()
    if not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        raise QueryError(_("currency must be an ISO 4217 code such as RUB."), param="currency")
    amounts = query.amounts or getattr(tenant, "cost_amounts", GROSS) or GROSS
    if amounts not in (GROSS, NET):
        raise QueryError(_("amounts must be “gross” or “net”."), param="amounts")
    if query.estimates not in ESTIMATES:
        raise QueryError(
            _("estimates must be “exclude” (billed costs only), “include” or “only”."),
            param="estimates",
        )
    if query.allocation not in ALLOCATION_CHOICES:
        raise QueryError(
            _("allocation must be “exclude” (direct costs) or “include” (shared costs split)."),
            param="allocation",
        )
    allocated_relation = hooks.allocated_costs() if query.allocation == INCLUDE else None
    if query.allocation == INCLUDE and allocated_relation is None:
        raise QueryError(_("Shared-cost allocation is not installed."), param="allocation")
    start, end = _period(query, tenant)
    filters = _filters(query.filters)
    detail = (
        any(d.detail for d in dims)
        or any(DIMENSIONS[name].detail for name in filters)
        or bool(query.tags)
        or bool(query.vtags)
    )
    span = (end - start).days + 1
    limit_days = MAX_DETAIL_DAYS if detail else MAX_DAYS
    if span > limit_days:
        raise QueryError(
            _("The range spans %(span)d days; at most %(max)d are allowed for this breakdown.")
            % {"span": span, "max": limit_days},
            param="end",
        )
    limit = query.limit if query.limit is not None else DEFAULT_LIMIT
    if not 1 <= limit <= MAX_ROWS:
        raise QueryError(
            _("limit must be between 1 and %(max)d.") % {"max": MAX_ROWS}, param="limit"
        )
    order = _order(query.order, [d.name for d in dims])
    names = (
        hooks.dimension_names(tenant.pk)
        if query.vtags or any(d.name in NAMED or d.kind == "vtag" for d in dims)
        else None
    )

    sql, params = _sql(
        table=DAILY_TABLE if detail else SUMMARY_TABLE,
        tenant_id=tenant.pk,
        dims=dims,
        start=start,
        end=end,
        filters=filters,
        tags=query.tags,
        currency=currency,
        vtags=_vtag_ids(query.vtags, names),
        vtag_ids={
            d.name: _vtag_id(d.name[len(VTAG_PREFIX) :], names) for d in dims if d.kind == "vtag"
        },
        scope=viewer_scope(query.viewer, tenant),
        allocated=allocated_relation,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    with_allocation = allocated_relation is not None
    groups, totals, estimated, moved = _convert(
        fetched, len(dims), currency, amounts, query.estimates, with_allocation
    )
    if with_allocation and len(dims) == 1 and dims[0].name in NAMED:
        # Unallocated costs are always shown, even when nothing is left without a value.
        groups.setdefault((None,), [ZERO, ZERO, ZERO, ZERO, 0, ZERO])
    rows = [_row(dims, key, values, names, with_allocation) for key, values in groups.items()]
    if order is None:
        rows.sort(key=lambda row: tuple(_sort_key(row[d.name]) for d in dims))
    else:
        name, descending = order
        rows.sort(key=lambda row: _sort_key(row[name]), reverse=descending)
    truncated = len(rows) > limit
    return CostQueryResult(
        currency=currency,
        amounts=amounts,
        group_by=[d.name for d in dims],
        start=start,
        end=end,
        source="daily" if detail else "summary",
        rows=rows[:limit],
        totals=_finish(totals, with_allocation),
        truncated=truncated,
        estimates=query.estimates,
        estimated_totals=_finish(estimated),
        allocation=query.allocation,
        allocation_totals={k: _round(v) for k, v in moved.items()} if with_allocation else {},
    )


def viewer_scope(viewer, tenant) -> dict[str, list[int]] | None:
    """The dimension values ``viewer`` is limited to on ``tenant`` (None: everything)."""
    from core.access import dimension_scope_for
    from core.capabilities import Capability

    return dimension_scope_for(viewer, tenant, Capability.VIEW_COSTS)


def scope_conditions(scope, alias: str = "") -> tuple[list[str], list]:
    """SQL conditions (and parameters) keeping only the cost rows of a limited viewer."""
    from providers.models.costs import DIMENSION_COLUMNS

    where, params = [], []
    for key, ids in (scope or {}).items():
        column = DIMENSION_COLUMNS.get(key)
        if column is not None:
            where.append(f"{alias}{column} = ANY(%s)")
            params.append(list(ids))
    return where, params


def _vtag_id(key: str, names) -> str:
    for vtag_id, vtag_key in names.virtual_tags.items():
        if vtag_key == key:
            return vtag_id
    raise QueryError(_("Unknown virtual tag %(key)r.") % {"key": key}, param="group_by")


def _vtag_ids(pairs, names) -> list[tuple[str, str]]:
    found = []
    for key, value in pairs:
        try:
            found.append((_vtag_id(key, names), value))
        except QueryError as exc:
            raise QueryError(str(exc), param="vtag") from None
    return found


# --- validation --------------------------------------------------------------------------------


def _period(query: CostQuery, tenant) -> tuple[dt.date, dt.date]:
    start, end = query.start, query.end
    if start is None and end is None:
        return default_period(tenant)
    if start is None or end is None:
        raise QueryError(
            _("Give both “start” and “end” (YYYY-MM-DD, inclusive), or neither for this month."),
            param="start" if start is None else "end",
        )
    if end < start:
        raise QueryError(_("“end” must not be before “start”."), param="end")
    return start, end


def _filters(raw: Mapping[str, Sequence[str]]) -> dict[str, list]:
    filters: dict[str, list] = {}
    for name, values in raw.items():
        dimension = _dimension(name)
        if dimension.kind in ("day", "month", "tag", "vtag"):
            raise QueryError(
                _(
                    "Filter days with start and end, tags with tag=key:value and virtual tags "
                    "with vtag=key:value."
                ),
                param=name,
            )
        if dimension.kind == "bool":
            raise QueryError(_("Choose estimates with estimates=exclude|include|only."), param=name)
        cleaned = []
        for value in values:
            if dimension.kind == "int":
                try:
                    cleaned.append(int(value))
                except (TypeError, ValueError):
                    raise QueryError(
                        _("%(name)s takes numeric ids (got %(value)r).")
                        % {"name": name, "value": value},
                        param=name,
                    ) from None
            else:
                cleaned.append(str(value))
        if cleaned:
            filters.setdefault(dimension.name, []).extend(cleaned)
    return filters


def _order(order: str | None, dims: list[str]) -> tuple[str, bool] | None:
    if not order:
        return None
    name = order.removeprefix("-")
    if name not in (*dims, *MEASURES, COUNT, ALLOCATED):
        raise QueryError(
            _("order takes a grouped dimension or a measure (%(m)s), with - for descending.")
            % {"m": ", ".join((*MEASURES, COUNT))},
            param="order",
        )
    return name, order.startswith("-")


# --- SQL ---------------------------------------------------------------------------------------


def _sql(
    *,
    table,
    tenant_id,
    dims,
    start,
    end,
    filters,
    tags,
    currency,
    vtags,
    vtag_ids,
    scope,
    allocated=None,
) -> tuple[str, list]:
    select: list[str] = []
    params: list = []
    for dimension in dims:
        if dimension.kind == "tag":
            select.append("tags ->> %s")
            params.append(dimension.name[len(TAG_PREFIX) :])
        elif dimension.kind == "vtag":
            select.append("x_virtual_tags ->> %s")
            params.append(vtag_ids[dimension.name])
        else:
            select.append(dimension.column)
    select += [
        "provider_name",
        "billing_currency",
        f"coalesce(charge_category = '{TAX}', false)",
        _rate_day_sql(start, end, currency, params),
        "x_estimated",
    ]
    if allocated is not None:
        select.append("kind")
        table = _with_allocations(table, allocated)
    where = ["tenant_id = %s", "day >= %s", "day <= %s"]
    where_params: list = [tenant_id, start, end]
    for name, values in filters.items():
        where.append(f"{DIMENSIONS[name].column} = ANY(%s)")
        where_params.append(values)
    for key, value in tags:
        where.append("tags @> jsonb_build_object(%s::text, %s::text)")
        where_params += [key, value]
    for vtag_id, value in vtags:
        where.append("x_virtual_tags @> jsonb_build_object(%s::text, %s::text)")
        where_params += [vtag_id, value]
    scoped, scoped_params = scope_conditions(scope)
    where += scoped
    where_params += scoped_params
    positions = ", ".join(str(i + 1) for i in range(len(select)))
    sql = (
        f"SELECT {', '.join(select)}, sum(billed_cost), sum(effective_cost), sum(list_cost), "
        f"sum(vat_amount), sum(line_items) FROM {table} "
        f"WHERE {' AND '.join(where)} GROUP BY {positions}"
    )
    return sql, params + where_params


def _rate_day_sql(start: dt.date, end: dt.date, currency: str, params: list) -> str:
    """Rows in the reporting currency need no rate: one bucket per VAT period instead of per day."""
    boundaries = sorted(
        {
            rule_start
            for rule_start in _vat_rule_starts()
            if start < rule_start <= end  # a rule starting inside the range splits it
        },
        reverse=True,
    )
    epoch = "%s::date"
    epoch_params: list = [start]
    if boundaries:
        cases = " ".join("WHEN day >= %s THEN %s::date" for _ in boundaries)
        epoch = f"CASE {cases} ELSE %s::date END"
        epoch_params = [value for b in boundaries for value in (b, b)] + [start]
    params += [currency, *epoch_params]
    return f"CASE WHEN billing_currency = %s THEN {epoch} ELSE day END"


def _vat_rule_starts() -> list[dt.date]:
    from providers.models import VatRule

    return list(VatRule.objects.values_list("valid_from", flat=True).distinct())


# --- conversion ---------------------------------------------------------------------------------


def _convert(
    fetched,
    n_dims: int,
    currency: str,
    amounts: str,
    estimates: str = EXCLUDE,
    allocation: bool = False,
):
    """Groups, totals and estimated totals as [billed, effective, list, vat, line items] (plus
    the allocated billed amount with ``allocation``), and what allocation moved by kind."""
    needed = {(row[n_dims + 1], row[n_dims + 3]) for row in fetched if row[n_dims + 1] != currency}
    try:
        factors = conversion_factors(needed, currency)
    except MissingRates as exc:
        raise QueryError(exc.message, param="currency", missing_rates=exc.as_dict()) from exc
    vat = VatResolver.load() if fetched else None
    rules: dict = {}
    groups: dict[tuple, list] = {}
    width = 6 if allocation else 5
    measures_at = n_dims + (6 if allocation else 5)
    totals = [ZERO, ZERO, ZERO, ZERO, 0, ZERO][:width]
    estimated_totals = [ZERO, ZERO, ZERO, ZERO, 0]
    moved = {"pooled": ZERO, "allocated": ZERO, "unallocated": ZERO}
    with decimal.localcontext(_CONTEXT):
        for row in fetched:
            key = row[:n_dims]
            provider, billing_currency, is_tax, rate_day, is_estimate = row[n_dims : n_dims + 5]
            kind = row[n_dims + 5] if allocation else None
            billed, effective, listed, vat_amount, items = row[measures_at:]
            rule_key = (provider, billing_currency, rate_day)
            if rule_key not in rules:
                rules[rule_key] = vat.rule_for(provider, billing_currency, rate_day.isoformat())
            values = _vat_view(
                amounts, is_tax, rules[rule_key], billed, effective, listed, vat_amount
            )
            if billing_currency != currency:
                factor = factors[(billing_currency, rate_day)]
                values = [value * factor for value in values]
            if is_estimate:
                for i, value in enumerate(values):
                    estimated_totals[i] += value
                estimated_totals[4] += items
            if (is_estimate and estimates == EXCLUDE) or (not is_estimate and estimates == ONLY):
                continue
            group = groups.get(key)
            if group is None:
                group = groups[key] = [ZERO, ZERO, ZERO, ZERO, 0, ZERO][:width]
            for i, value in enumerate(values):
                group[i] += value
                totals[i] += value
            group[4] += items
            totals[4] += items
            if kind is not None:
                group[5] += values[0]
                totals[5] += values[0]
                if kind == "pool":
                    moved["pooled"] -= values[0]
                elif kind == "share":
                    moved["allocated"] += values[0]
                else:
                    moved["unallocated"] += values[0]
    return groups, totals, estimated_totals, moved


def _with_allocations(table: str, allocated: str) -> str:
    """The rollup table with the shared-cost rows appended (same columns; ``kind`` NULL for
    direct costs). Filters on the result reach both branches (PostgreSQL pushes them down)."""
    columns = [
        "tenant_id",
        "day",
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
        "billed_cost",
        "effective_cost",
        "list_cost",
        "vat_amount",
    ]
    direct = [*columns, "x_estimated", "line_items", "NULL::text AS kind"]
    shared = [*columns, "false AS x_estimated", "0::bigint AS line_items", "kind"]
    if table == DAILY_TABLE:
        direct += ["resource_id", "tags", "x_virtual_tags"]
        shared += ["NULL::text AS resource_id", "NULL::jsonb AS tags", "NULL::jsonb"]
    return (
        f"(SELECT {', '.join(direct)} FROM {table} UNION ALL "
        f"SELECT {', '.join(shared)} FROM {allocated}) AS costs"
    )


def _vat_view(amounts, is_tax, rule, billed, effective, listed, vat_amount) -> list[Decimal]:
    """(billed, effective, list, vat) of one row group, gross or net (see the module doc)."""
    if is_tax:
        if amounts == GROSS:
            return [billed, effective, listed, billed]
        return [ZERO, ZERO, ZERO, billed]
    if rule is None:
        return [billed, effective, listed, vat_amount]
    rate, included = rule
    if amounts == GROSS and not included:
        scale = 1 + rate
        return [billed + vat_amount, effective * scale, listed * scale, vat_amount]
    if amounts == NET and included:
        scale = 1 + rate
        return [billed - vat_amount, effective / scale, listed / scale, vat_amount]
    return [billed, effective, listed, vat_amount]


def _round(value: Decimal) -> Decimal:
    with decimal.localcontext(_CONTEXT):
        return value.quantize(RESULT_PLACES)


def _finish(values: list, allocation: bool = False) -> dict:
    result = {name: _round(values[i]) for i, name in enumerate(MEASURES)}
    result[COUNT] = int(values[4])
    if allocation:
        result[ALLOCATED] = _round(values[5])
    return result


def _row(dims: list[Dimension], key: tuple, values: list, names, allocation=False) -> dict:
    row = {}
    for dimension, value in zip(dims, key, strict=True):
        if dimension.kind == "month" and value is not None:
            value = value.strftime("%Y-%m")
        if dimension.name in NAMED:
            row[f"{dimension.name}_id"] = value
            if value is not None:
                known = names.values.get(dimension.name, {})
                value = known.get(value) or f"#{value}"
        row[dimension.name] = value
    row.update(_finish(values, allocation))
    return row


def _sort_key(value):
    # None last; values of one dimension share a type.
    return (value is None, value if value is not None else 0)
