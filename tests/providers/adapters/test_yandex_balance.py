"""Yandex Cloud billing account balance over real HTTP: the simulator's balance is what was
paid in minus what its billing export charged, so balance and costs agree."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.adapters.base import (
    BalanceKind,
    ProviderPermissionDenied,
    ProviderResponseError,
)
from providers.adapters.yandex.simulator_billing import BILLING_ACCOUNT, TOP_UP


def test_the_balance_of_every_visible_billing_account(sim, adapter):
    [record] = adapter.balances()

    spent = sim.billing.expected_totals()["RUB"]
    assert record.amount == TOP_UP - spent
    assert isinstance(record.amount, Decimal)
    assert (record.currency, record.kind, record.account_id) == (
        "RUB",
        BalanceKind.MAIN,
        BILLING_ACCOUNT[0],
    )
    assert record.details == {"name": BILLING_ACCOUNT[1], "active": True, "countryCode": "RU"}
    assert record.as_of.tzinfo is not None


def test_the_scopes_billing_account_is_read_directly(sim, make_adapter):
    adapter = make_adapter(sim, scope={"billing_account_id": BILLING_ACCOUNT[0]})
    sim.billing.top_up(Decimal("500.25"))

    [record] = adapter.balances()

    assert record.amount == TOP_UP + Decimal("500.25") - sim.billing.expected_totals()["RUB"]
    assert sim.stats.by_path["/billing/v1/billingAccounts"] == 0


def test_an_unknown_billing_account_is_a_response_error(sim, make_adapter):
    adapter = make_adapter(sim, scope={"billing_account_id": "dn2nosuchaccount"})

    with pytest.raises(ProviderResponseError) as caught:
        adapter.balances()
    assert caught.value.status == 404


def test_a_missing_billing_role_is_a_permission_gap_named_in_verify(sim, adapter):
    sim.deny_service("billing")

    with pytest.raises(ProviderPermissionDenied):
        adapter.balances()
    result = adapter.verify()
    assert {p.service: p.outcome for p in result.services}["billing"] == "denied"
    assert "Billing (permission denied — grant billing.accounts.viewer)" in result.message


def test_rate_limits_on_the_billing_api_are_retried(sim, adapter, sleeps):
    sim.inject("rate_limit", retry_after=2, times=1, path="/billing/")

    [record] = adapter.balances()

    assert record.amount == sim.billing.balance()
    assert 2.0 <= sleeps[-1] <= 2.2
