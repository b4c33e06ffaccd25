"""Daily Beget costs, computed from prices: Beget has no usage or charge history API.

Beget debits a prepaid balance every day (provider-apis.md §4: "Derive cost from the daily plan
rate and the VPS price_day"). So for each whole day of the billing time zone up to today:

- one row for the hosting plan: its daily rate, ``user_rate_current`` (a string, "11.50");
- one row per cloud server that existed that day (``date_create`` on or before it): its
  ``configuration.price_day``.

These are **estimates**, not what Beget billed: today's prices applied to past days, servers
removed since are unknown, and the hour of the debit is not documented. The adapter says so
(``cost_estimates``): rows are stored with ``x_estimated`` and kept out of billed totals unless a
query asks for estimates, and each pull compares them with the balance's own changes
(``providers.services.reconciliation``), which is what Beget really took.

Whether ``user_rate_current`` covers the plan only or plan + servers is not documented either
(the seed's origin project saw it match the servers' sum on a cloud-only account). With
``plan_rate="auto"`` the reading that agrees better with the plan's own price
(``user_rate_month`` / 30, or ``user_rate_year`` / 365 on a yearly plan) wins; a connection can
pin it ("plan" or "total"). Each row says which basis it used (``x_extensions.x_estimate_basis``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal

from providers.adapters.base import CostPeriod, CostRecord, ResourceRecord, ResourceType
from providers.adapters.beget import values as v
from providers.adapters.beget.discovery import BegetOptions

CURRENCY = "RUB"  # Beget bills in roubles (inferred: no currency field anywhere)
EXTENSIONS = ("x_estimate_basis",)
BASIS_PLAN = "user_rate_current"
BASIS_PLAN_MINUS_SERVERS = "user_rate_current minus servers' price_day"
BASIS_SERVER = "price_day"


def plan_rate(info: dict, servers_total: Decimal, mode: str) -> tuple[Decimal, str]:
    """(the plan's own daily rate, the basis) from getAccountInfo (see the module docstring)."""
    current = v.decimal(info.get("user_rate_current"), "user_rate_current", default=Decimal(0))
    as_total = (max(Decimal(0), current - servers_total), BASIS_PLAN_MINUS_SERVERS)
    if mode == "plan" or (mode == "auto" and servers_total <= 0):
        return current, BASIS_PLAN
    if mode == "total":
        return as_total
    if v.flag(info.get("user_is_year_plan")):
        year = v.decimal(info.get("user_rate_year"), "user_rate_year")
        reference = None if year is None else year / 365
    else:
        month = v.decimal(info.get("user_rate_month"), "user_rate_month")
        reference = None if month is None else month / 30
    if reference is None:
        return current, BASIS_PLAN
    if abs(as_total[0] - reference) < abs(current - reference):
        return as_total
    return current, BASIS_PLAN


def daily_costs(
    *,
    info: dict,
    account: ResourceRecord,
    servers: Sequence[ResourceRecord],
    period: CostPeriod,
    options: BegetOptions,
    today: dt.date,
) -> Iterator[CostRecord]:
    tz = options.tz
    prices = {}
    for server in servers:
        price = v.decimal(server.properties.get("price_day"), "price_day")
        if price is not None and price > 0:
            prices[server.provider_id] = price
    rate, basis = plan_rate(info, sum(prices.values(), Decimal(0)), options.plan_rate)
    plan = str(account.specs.get("plan") or "")
    login = account.provider_id
    day = period.start.astimezone(tz).date()
    while True:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        if start >= period.end or day > today:
            return
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        common = {
            "charge_period_start": start.astimezone(dt.UTC),
            "charge_period_end": end.astimezone(dt.UTC),
            "billing_currency": CURRENCY,
            "charge_category": "Usage",
            "charge_frequency": "Recurring",
            "sub_account_id": login,
            "sub_account_name": login,
            "billing_account_id": login,
            "billing_account_name": login,
            "pricing_quantity": Decimal(1),
            "pricing_unit": "Day",
            "consumed_quantity": Decimal(1),
            "consumed_unit": "Day",
        }
        if start.astimezone(dt.UTC) in period:
            if rate > 0:
                yield CostRecord(
                    **common,
                    billed_cost=rate,
                    effective_cost=rate,
                    list_cost=rate,
                    list_unit_price=rate,
                    charge_description=f"Hosting plan {plan}: one day (estimated from the rate)",
                    service_name="Hosting",
                    service_category="Web",
                    resource_id=login,
                    resource_name=login,
                    resource_type=ResourceType.ACCOUNT,
                    sku_id=plan or None,
                    extensions={"x_estimate_basis": basis},
                )
            for server in servers:
                price = prices.get(server.provider_id)
                created = server.created_at.astimezone(tz).date() if server.created_at else None
                if price is None or (created is not None and created > day):
                    continue
                yield CostRecord(
                    **common,
                    billed_cost=price,
                    effective_cost=price,
                    list_cost=price,
                    list_unit_price=price,
                    charge_description=(
                        f"Cloud server {server.specs.get('configuration') or ''}: one day "
                        "(estimated from price_day)"
                    ).replace("  ", " "),
                    service_name="Cloud servers",
                    service_category="Compute",
                    resource_id=server.provider_id,
                    resource_name=server.name,
                    resource_type=ResourceType.VM,
                    region_id=server.region,
                    sku_id=str(server.properties.get("configuration_id") or "") or None,
                    tags=dict(server.labels) or None,
                    extensions={"x_estimate_basis": BASIS_SERVER},
                )
        day += dt.timedelta(days=1)
