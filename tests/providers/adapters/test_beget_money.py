"""Beget balances and daily cost estimates against the simulator's own money, over real HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from providers.adapters.base import CostPeriod
from providers.adapters.beget.costs import (
    BASIS_PLAN,
    BASIS_PLAN_MINUS_SERVERS,
    BASIS_SERVER,
)
from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig
from providers.adapters.beget.simulator_account import MOSCOW

TODAY = dt.date(2026, 3, 15)


def _period(first: dt.date, last: dt.date) -> CostPeriod:
    start = dt.datetime.combine(first, dt.time.min, tzinfo=MOSCOW)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=MOSCOW)
    return CostPeriod(start.astimezone(dt.UTC), end.astimezone(dt.UTC))


def _clock():
    return dt.datetime.combine(TODAY, dt.time(12), tzinfo=MOSCOW).astimezone(dt.UTC)


@pytest.fixture
def dated_sim():
    config = SimulatorConfig(seed=9, servers=4, today=TODAY, account_days=60)
    with BegetSimulator(config) as sim:
        yield sim


def test_the_balance_and_days_to_block_are_beget_s_own(beget_sim, beget):
    [balance] = beget.balances()

    assert balance.amount == beget_sim.account.balance
    assert balance.currency == "RUB" and balance.kind == "main"
    assert balance.days_to_block == Decimal(beget_sim.account.days_to_block)
    assert balance.account_id == beget_sim.config.login
    assert balance.details["rate_day"] == "11.50"


def test_a_top_up_shows_in_the_next_reading(beget_sim, beget):
    before = beget.balances()[0].amount
    beget_sim.account.top_up(Decimal("1000.00"))
    assert beget.balances()[0].amount == before + Decimal("1000.00")


def test_daily_costs_equal_what_the_simulator_debited(dated_sim, make_beget):
    adapter = make_beget(dated_sim, clock=_clock)
    first, last = TODAY - dt.timedelta(days=30), TODAY

    rows = list(adapter.costs(_period(first, last)))

    assert sum(r.billed_cost for r in rows) == dated_sim.account.charged(first, last)
    assert all(isinstance(r.billed_cost, Decimal) and r.billing_currency == "RUB" for r in rows)
    # Per day and resource, exactly the simulator's charges.
    day = TODAY - dt.timedelta(days=3)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=MOSCOW)
    that_day = {r.resource_id: r.billed_cost for r in rows if r.charge_period_start == start}
    assert that_day == dated_sim.account.charges(day)
    plan = next(r for r in rows if r.resource_id == dated_sim.config.login)
    assert plan.extensions == {"x_estimate_basis": BASIS_PLAN}
    assert plan.charge_period_end - plan.charge_period_start == dt.timedelta(days=1)
    server = next(r for r in rows if r.resource_type == "vm")
    assert server.extensions == {"x_estimate_basis": BASIS_SERVER}
    assert adapter.cost_estimates


def test_no_costs_for_days_after_today_or_outside_the_period(dated_sim, make_beget):
    adapter = make_beget(dated_sim, clock=_clock)
    period = _period(TODAY - dt.timedelta(days=2), TODAY + dt.timedelta(days=5))

    rows = list(adapter.costs(period))

    days = {r.charge_period_start.astimezone(MOSCOW).date() for r in rows}
    assert days == {TODAY - dt.timedelta(days=n) for n in range(3)}
    assert all(r.charge_period_start in period for r in rows)


def test_a_server_created_mid_period_costs_from_its_first_day(dated_sim, make_beget):
    server = next(iter(dated_sim.account.servers.values()))
    server.created = dt.datetime.combine(TODAY - dt.timedelta(days=2), dt.time(23, 30))
    adapter = make_beget(dated_sim, clock=_clock)

    rows = list(adapter.costs(_period(TODAY - dt.timedelta(days=5), TODAY)))

    days = sorted(
        r.charge_period_start.astimezone(MOSCOW).date() for r in rows if r.resource_id == server.id
    )
    assert days == [TODAY - dt.timedelta(days=n) for n in (2, 1, 0)]


@pytest.mark.parametrize(
    ("mode", "counted_twice"), [("auto", False), ("plan", True), ("total", False)]
)
def test_a_rate_that_includes_the_servers_is_not_counted_twice(make_beget, mode, counted_twice):
    config = SimulatorConfig(seed=4, servers=3, today=TODAY, rate_includes_vps=True)
    with BegetSimulator(config) as sim:
        adapter = make_beget(sim, clock=_clock, scope={"plan_rate": mode})
        rows = list(adapter.costs(_period(TODAY, TODAY)))
        total = sum(r.billed_cost for r in rows)
        assert (total != sim.account.charged(TODAY, TODAY)) is counted_twice
        if not counted_twice:
            plan = next(r for r in rows if r.resource_id == sim.config.login)
            assert plan.billed_cost == sim.account.plan_rate_day
            assert plan.extensions["x_estimate_basis"] == BASIS_PLAN_MINUS_SERVERS


def test_auto_keeps_a_plan_only_rate_as_it_is(dated_sim, make_beget):
    adapter = make_beget(dated_sim, clock=_clock)  # plan_rate "auto", the rate is the plan's
    rows = list(adapter.costs(_period(TODAY, TODAY)))
    plan = next(r for r in rows if r.resource_id == dated_sim.config.login)
    assert plan.billed_cost == Decimal("11.50")


def test_costs_fail_rather_than_leave_out_servers_they_cannot_read(dated_sim, make_beget):
    from providers.adapters.base import ProviderAuthError, ProviderResponseError

    dated_sim.deny_service("vps")
    adapter = make_beget(dated_sim, clock=_clock)

    with pytest.raises(ProviderResponseError, match="cloud servers cannot be read") as caught:
        list(adapter.costs(_period(TODAY, TODAY)))
    assert not isinstance(caught.value, ProviderAuthError)
