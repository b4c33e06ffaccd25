"""Balance selectors: how fast a prepaid balance burns, and when it runs out.

**Burn rate** (money per day) of one connection and currency, the first that answers of:

1. ``costs_7d`` / ``costs_30d``: the billed (never estimated) costs of the connection's line items
   in that currency over the last 7, else 30, full days (the tenant's days; today is partial),
   divided by the days that have data (a connection whose costs start 3 days ago burns its
   3-day average, not a seventh of it);
2. ``provider_costs_7d`` / ``provider_costs_30d``: the same over the tenant's costs of the
   provider when nothing links them to a connection (a FOCUS upload), if the tenant has only
   this connection of that provider (otherwise those costs cannot be attributed);
3. ``balance_7d`` / ``balance_30d``: the balance's own decreases over the window of collected
   snapshots (increases are top-ups and are left out), divided by the time it spans (at least
   12 hours of history).

**Days left** is the balance (every kind in that currency: bonus money is spent too) over the
burn rate, and ``runs_out_on`` the day it reaches zero; a balance at or below zero has 0 days
left; without a burn (nothing spent) it does not run out (None). The provider's own forecast
(``days_to_block``, Beget and Selectel report one) is kept beside ours, never mixed in.

The forecast is computed when balances are collected and stored on the connection
(``Connection.balance_forecast``), so the connection list, the portal and the API read it
without a query per connection; ``tenant_balance_overview`` adds a tenant's connections up.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Min, Sum

from providers.models import BalanceSnapshot, Connection, CostDailySummary

WINDOWS = (7, 30)
MIN_HISTORY = dt.timedelta(hours=12)
DAYS_PLACES = Decimal("0.1")
MONEY_PLACES = Decimal("0.01")


@dataclass
class Forecast:
    """One connection's balance in one currency, and when it runs out."""

    currency: str
    amount: Decimal
    as_of: dt.datetime
    daily_burn: Decimal | None = None
    burn_source: str | None = None
    days_left: Decimal | None = None
    runs_out_on: dt.date | None = None
    provider_days_to_block: Decimal | None = None
    by_kind: dict[str, Decimal] = field(default_factory=dict)

    def as_json(self) -> dict:
        def text(value):
            return None if value is None else str(value)

        return {
            "currency": self.currency,
            "amount": str(self.amount),
            "as_of": self.as_of.isoformat(),
            "daily_burn": text(self.daily_burn),
            "burn_source": self.burn_source,
            "days_left": text(self.days_left),
            "runs_out_on": text(self.runs_out_on),
            "provider_days_to_block": text(self.provider_days_to_block),
            "by_kind": {kind: str(amount) for kind, amount in self.by_kind.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> Forecast:
        def number(value):
            return None if value is None else Decimal(value)

        return cls(
            currency=data["currency"],
            amount=Decimal(data["amount"]),
            as_of=dt.datetime.fromisoformat(data["as_of"]),
            daily_burn=number(data.get("daily_burn")),
            burn_source=data.get("burn_source"),
            days_left=number(data.get("days_left")),
            runs_out_on=dt.date.fromisoformat(data["runs_out_on"])
            if data.get("runs_out_on")
            else None,
            provider_days_to_block=number(data.get("provider_days_to_block")),
            by_kind={k: Decimal(v) for k, v in (data.get("by_kind") or {}).items()},
        )


def tenant_today(tenant) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(tenant.time_zone)).date()


def connection_forecasts(
    connection: Connection, snapshots: Iterable, *, today: dt.date | None = None
) -> list[Forecast]:
    """Forecasts of one collection's snapshots (``BalanceSnapshot``s or ``BalanceRecord``s with
    ``amount``, ``currency``, ``kind``, ``days_to_block``, ``as_of``), one per currency."""
    today = today or tenant_today(connection.tenant)
    by_currency: dict[str, Forecast] = {}
    for snap in snapshots:
        forecast = by_currency.get(snap.currency)
        if forecast is None:
            forecast = by_currency[snap.currency] = Forecast(snap.currency, Decimal(0), snap.as_of)
        forecast.amount += snap.amount
        forecast.as_of = max(forecast.as_of, snap.as_of)
        forecast.by_kind[str(snap.kind)] = forecast.by_kind.get(str(snap.kind), 0) + snap.amount
        if snap.days_to_block is not None:
            known = forecast.provider_days_to_block
            days = Decimal(snap.days_to_block)
            forecast.provider_days_to_block = days if known is None else min(known, days)
    for forecast in by_currency.values():
        forecast.daily_burn, forecast.burn_source = daily_burn(connection, forecast.currency, today)
        _days_left(forecast, today)
    return sorted(by_currency.values(), key=lambda f: f.currency)


def _days_left(forecast: Forecast, today: dt.date) -> None:
    if forecast.amount <= 0:
        forecast.days_left, forecast.runs_out_on = Decimal(0), today
        return
    burn = forecast.daily_burn
    if not burn or burn <= 0:
        return
    days = forecast.amount / burn
    forecast.days_left = days.quantize(DAYS_PLACES, rounding=ROUND_HALF_UP)
    forecast.runs_out_on = today + dt.timedelta(days=int(days))


def daily_burn(connection: Connection, currency: str, today: dt.date):
    """(money per day, how it was found) or (None, None); see the module docstring."""
    costs = CostDailySummary.objects.filter(
        tenant_id=connection.tenant_id, billing_currency=currency, x_estimated=False
    )
    own = costs.filter(x_connection_id=connection.pk)
    for days in WINDOWS:
        burn = _cost_burn(own, today, days)
        if burn is not None:
            return burn, f"costs_{days}d"
    if _only_connection_of_its_provider(connection):
        from providers.adapters.registry import provider_spec

        unlinked = costs.filter(
            x_connection_id__isnull=True, provider_name=provider_spec(connection.provider).name
        )
        for days in WINDOWS:
            burn = _cost_burn(unlinked, today, days)
            if burn is not None:
                return burn, f"provider_costs_{days}d"
    for days in WINDOWS:
        burn = _delta_burn(connection, currency, days)
        if burn is not None:
            return burn, f"balance_{days}d"
    return None, None


def _cost_burn(rows, today: dt.date, days: int) -> Decimal | None:
    yesterday = today - dt.timedelta(days=1)
    found = rows.filter(day__gte=today - dt.timedelta(days=days), day__lte=yesterday).aggregate(
        total=Sum("billed_cost"), first=Min("day")
    )
    if found["first"] is None:
        return None
    span = (yesterday - found["first"]).days + 1
    return (found["total"] / span).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def _only_connection_of_its_provider(connection: Connection) -> bool:
    return not (
        Connection.objects.filter(tenant_id=connection.tenant_id, provider=connection.provider)
        .exclude(pk=connection.pk)
        .exists()
    )


def _delta_burn(connection: Connection, currency: str, days: int) -> Decimal | None:
    """Decreases of the balance's total over the collected snapshots of the window."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    totals = list(
        BalanceSnapshot.objects.filter(
            tenant_id=connection.tenant_id,
            connection_id=connection.pk,
            currency=currency,
            collected_at__gte=since,
        )
        .values("collected_at")
        .annotate(total=Sum("amount"))
        .order_by("collected_at")
        .values_list("collected_at", "total")
    )
    if len(totals) < 2 or totals[-1][0] - totals[0][0] < MIN_HISTORY:
        return None
    pairs = itertools.pairwise(total for _, total in totals)
    spent = sum((max(Decimal(0), before - after) for before, after in pairs), Decimal(0))
    elapsed = Decimal((totals[-1][0] - totals[0][0]).total_seconds()) / 86400
    return (spent / elapsed).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


# --- reading what the collections stored ------------------------------------------------------


@dataclass
class ConnectionBalance:
    connection: Connection
    forecasts: list[Forecast]
    collected_at: dt.datetime | None
    error: str


@dataclass
class CurrencyTotal:
    currency: str
    amount: Decimal
    daily_burn: Decimal
    days_left: Decimal | None
    runs_out_on: dt.date | None


@dataclass
class BalanceOverview:
    connections: list[ConnectionBalance]
    totals: list[CurrencyTotal]
    # The forecast that runs out first, with its connection (None: none runs out).
    earliest: tuple[Connection, Forecast] | None


def connection_balance(connection: Connection) -> ConnectionBalance:
    forecasts = [
        Forecast.from_json(data)
        for data in (connection.balance_forecast or {}).get("currencies", [])
    ]
    return ConnectionBalance(
        connection, forecasts, connection.balance_collected_at, connection.balance_error
    )


def tenant_balance_overview(connections: Iterable[Connection], *, today=None) -> BalanceOverview:
    """The connections' stored forecasts added up per currency (``connections`` already scoped
    to what the reader may see); no query beyond reading the connections."""
    rows = [connection_balance(c) for c in connections]
    rows = [row for row in rows if row.forecasts or row.error or row.collected_at]
    totals: dict[str, CurrencyTotal] = {}
    earliest = None
    for row in rows:
        for forecast in row.forecasts:
            total = totals.setdefault(
                forecast.currency,
                CurrencyTotal(forecast.currency, Decimal(0), Decimal(0), None, None),
            )
            total.amount += forecast.amount
            total.daily_burn += forecast.daily_burn or 0
            if forecast.runs_out_on is not None and (
                earliest is None or forecast.runs_out_on < earliest[1].runs_out_on
            ):
                earliest = (row.connection, forecast)
    for total in totals.values():
        if total.amount <= 0:
            total.days_left, total.runs_out_on = Decimal(0), today
        elif total.daily_burn > 0:
            days = total.amount / total.daily_burn
            total.days_left = days.quantize(DAYS_PLACES, rounding=ROUND_HALF_UP)
            if today is not None:
                total.runs_out_on = today + dt.timedelta(days=int(days))
    return BalanceOverview(rows, sorted(totals.values(), key=lambda t: t.currency), earliest)


def overview_json(overview: BalanceOverview) -> dict:
    def text(value):
        return None if value is None else str(value)

    return {
        "connections": [
            {
                "connection": row.connection.pk,
                "name": row.connection.name,
                "provider": row.connection.provider,
                "collected_at": text(row.collected_at and row.collected_at.isoformat()),
                "error": row.error,
                "balances": [f.as_json() for f in row.forecasts],
            }
            for row in overview.connections
        ],
        "totals": [
            {
                "currency": t.currency,
                "amount": str(t.amount),
                "daily_burn": str(t.daily_burn),
                "days_left": text(t.days_left),
                "runs_out_on": text(t.runs_out_on),
            }
            for t in overview.totals
        ],
        "earliest": None
        if overview.earliest is None
        else {
            "connection": overview.earliest[0].pk,
            "name": overview.earliest[0].name,
            **overview.earliest[1].as_json(),
        },
    }
