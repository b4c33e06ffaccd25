"""Prepaid balances: collected over real HTTP from the Yandex Cloud simulator into a time series,
burn rate from recent billed costs (else from the balance's own decreases), days until each runs
out per connection and tenant; shown in the admin, the portal and the API."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from providers.adapters.base import (
    BalanceKind,
    BalanceRecord,
    ProviderAdapter,
    VerifyResult,
)
from providers.adapters.yandex.simulator_billing import (
    BILLING_ACCOUNT,
    BILLING_BUCKET,
    BILLING_PREFIX,
)
from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.balances import tenant_balance_overview
from providers.models import BalanceSnapshot, Connection
from providers.services.balances import connection_balances_collect
from providers.services.cost_source_pulls import cost_source_pull
from providers.tasks import balances_dispatch_task, connection_balances_collect_task
from tests.factories import ConnectionFactory, CostSourceFactory

pytestmark = pytest.mark.django_db

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def _today() -> dt.date:
    return dt.datetime.now(MSK).date()


def _collect(connection, **options):
    return connection_balances_collect(connection_id=connection.pk, trigger="manual", **options)


def _forecast(connection) -> dict:
    connection.refresh_from_db()
    [forecast] = connection.balance_forecast["currencies"]
    return forecast


@pytest.fixture
def queued(monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(
        connection_balances_collect_task,
        "apply_async",
        lambda kwargs, **options: calls.append(kwargs),
    )
    return calls


# --- collection ------------------------------------------------------------------------------
def test_a_collection_stores_the_balance_and_forecasts_from_recent_costs(
    world, yc_sim, yc_connection
):
    yc_sim.billing.days = 10
    CostSourceFactory(
        actor=world.operator_a,
        tenant=world.a,
        connection=yc_connection,
        endpoint_url=yc_sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials={
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
    )
    pulled = cost_source_pull(source_id=yc_connection.cost_sources.get().pk, trigger="manual")
    assert pulled.status == "succeeded", pulled.error

    result = _collect(yc_connection)

    assert result.ok and result.balances == 1
    snapshot = BalanceSnapshot.objects.get(connection=yc_connection)
    balance = yc_sim.billing.balance()
    assert (snapshot.amount, snapshot.currency, snapshot.kind) == (balance, "RUB", "main")
    assert snapshot.account_id == BILLING_ACCOUNT[0] and snapshot.tenant_id == world.a.pk
    today = _today()
    last_week = [today - dt.timedelta(days=n) for n in range(7, 0, -1)]
    burn = (yc_sim.billing.expected_totals(last_week)["RUB"] / 7).quantize(Decimal("0.01"))
    forecast = _forecast(yc_connection)
    assert forecast["amount"] == str(balance)
    assert (forecast["daily_burn"], forecast["burn_source"]) == (str(burn), "costs_7d")
    days = balance / burn
    assert forecast["days_left"] == str(days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    assert forecast["runs_out_on"] == str(today + dt.timedelta(days=int(days)))
    assert yc_connection.balance_collected_at == snapshot.collected_at
    event = AuditEvent.objects.get(event_type="connection.balances_collected")
    assert event.extra["balances"] == 1 and event.extra["forecast"][0]["amount"] == str(balance)


def test_without_costs_the_burn_comes_from_the_balances_decreases(world, yc_sim, yc_connection):
    now = timezone.now()
    for hours_ago, amount in ((48, "1000"), (24, "900"), (12, "1500")):  # 1500: a top-up
        at = now - dt.timedelta(hours=hours_ago)
        BalanceSnapshot.objects.create(
            tenant=world.a,
            connection=yc_connection,
            account_id=BILLING_ACCOUNT[0],
            kind="main",
            currency="RUB",
            amount=Decimal(amount),
            as_of=at,
            collected_at=at,
        )
    yc_sim.billing.paid_in = Decimal("1400") + yc_sim.billing.expected_totals()["RUB"]

    _collect(yc_connection)

    forecast = _forecast(yc_connection)
    assert Decimal(forecast["amount"]) == Decimal("1400")
    # 100 spent by yesterday, 100 more since the top-up: 200 over two days (the top-up is not
    # spending).
    assert forecast["burn_source"] == "balance_7d"
    assert Decimal(forecast["daily_burn"]) == Decimal("100.00")
    assert Decimal(forecast["days_left"]) == Decimal("14.0")


def test_the_providers_own_forecast_is_kept_beside_ours(world):
    connection = ConnectionFactory(tenant=world.a)
    now = timezone.now()

    class Hosting(ProviderAdapter):
        provider = "Yandex Cloud"
        api_calls = 0

        def verify(self):
            return VerifyResult("ok")

        def _discover(self):
            return iter(())

        def _metrics(self, targets, window):
            return iter(())

        def balances(self):
            return [
                BalanceRecord(
                    amount=Decimal("1339.57"), currency="RUB", as_of=now, days_to_block=Decimal(116)
                ),
                BalanceRecord(
                    amount=Decimal("10"), currency="RUB", as_of=now, kind=BalanceKind.BONUS
                ),
            ]

    _collect(connection, adapter_factory=lambda c: Hosting())

    forecast = _forecast(connection)
    assert forecast["amount"] == "1349.57"
    assert forecast["by_kind"] == {"main": "1339.57", "bonus": "10"}
    assert forecast["provider_days_to_block"] == "116"
    assert forecast["days_left"] is None  # nothing spent yet: ours says it does not run out


def test_a_failed_collection_keeps_the_last_forecast_and_says_why(world, yc_sim, yc_connection):
    _collect(yc_connection)
    before = _forecast(yc_connection)
    yc_sim.deny_service("billing")

    result = _collect(yc_connection)

    assert not result.ok and "HTTP 403" in result.error
    yc_connection.refresh_from_db()
    assert "HTTP 403" in yc_connection.balance_error
    assert _forecast(yc_connection) == before
    assert BalanceSnapshot.objects.filter(connection=yc_connection).count() == 1
    assert AuditEvent.objects.filter(event_type="connection.balances_failed").count() == 1
    yc_sim.grant_service("billing")
    _collect(yc_connection)
    yc_connection.refresh_from_db()
    assert yc_connection.balance_error == ""


def test_only_connections_whose_provider_reports_balances_are_collected(
    world, yc_connection, queued
):
    beget = ConnectionFactory(tenant=world.a, provider="beget")  # no adapter yet
    disabled = ConnectionFactory(tenant=world.a)
    Connection.objects.filter(pk=disabled.pk).update(status=Connection.Status.DISABLED)

    assert _collect(beget) is None
    assert balances_dispatch_task() == [yc_connection.pk]
    assert queued == [{"connection_id": yc_connection.pk, "trigger": "schedule"}]


def test_the_sync_task_reads_the_balance_after_a_successful_sync(world, yc_sim, yc_connection):
    from providers.tasks import connection_sync_task

    connection_sync_task.apply(kwargs={"connection_id": yc_connection.pk, "trigger": "manual"})

    snapshot = BalanceSnapshot.objects.get(connection=yc_connection)
    assert snapshot.amount == yc_sim.billing.balance()
    event = AuditEvent.objects.get(event_type="connection.balances_collected")
    assert event.extra["trigger"] == "sync"


def test_a_failed_sync_reads_no_balance(world, yc_sim):
    from providers.tasks import connection_sync_task

    refused = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        credentials={"oauth_token": "y0_not-a-token-the-simulator-issued"},
        endpoints={"*": yc_sim.url},
    )

    connection_sync_task.apply(kwargs={"connection_id": refused.pk, "trigger": "manual"})

    refused.refresh_from_db()
    assert refused.status == Connection.Status.AUTH_FAILED
    assert not BalanceSnapshot.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="connection.balances").exists()


def test_collection_is_on_the_platform_schedule(db):
    from django_celery_beat.models import PeriodicTask

    from core.schedules import ensure_platform_schedules

    ensure_platform_schedules()

    task = PeriodicTask.objects.get(task="providers.balances_dispatch")
    assert task.enabled and task.interval.every == 3600


# --- the tenant's view -----------------------------------------------------------------------
def _stored(connection, amount: str, burn: str | None, days: str | None, runs_out: str | None):
    forecast = {
        "currency": "RUB",
        "amount": amount,
        "as_of": timezone.now().isoformat(),
        "daily_burn": burn,
        "burn_source": "costs_7d" if burn else None,
        "days_left": days,
        "runs_out_on": runs_out,
        "provider_days_to_block": None,
        "by_kind": {"main": amount},
    }
    Connection.objects.filter(pk=connection.pk).update(
        balance_forecast={"currencies": [forecast]}, balance_collected_at=timezone.now()
    )


def test_the_tenant_overview_adds_connections_up_and_names_the_first_to_run_out(world):
    cloud = ConnectionFactory(tenant=world.a, name="Cloud")
    hosting = ConnectionFactory(tenant=world.a, name="Hosting", provider="beget")
    idle = ConnectionFactory(tenant=world.a, name="Idle")
    _stored(cloud, "3000.00", "100.00", "30.0", "2026-03-01")
    _stored(hosting, "100.00", "10.00", "10.0", "2026-02-10")
    _stored(idle, "50.00", None, None, None)

    overview = tenant_balance_overview(
        Connection.objects.filter(tenant=world.a), today=dt.date(2026, 1, 31)
    )

    [total] = overview.totals
    assert (total.amount, total.daily_burn) == (Decimal("3150.00"), Decimal("110.00"))
    assert total.days_left == Decimal("28.6") and total.runs_out_on == dt.date(2026, 2, 28)
    assert overview.earliest[0] == hosting


def test_the_api_lists_the_series_and_sums_it_up_for_the_tenant_only(world, api_as, yc_connection):
    _collect(yc_connection)
    other = ConnectionFactory(tenant=world.b, name="Beta")
    _stored(other, "1.00", "1.00", "1.0", "2026-01-01")

    client = api_as(world.owner_a)
    series = client.get("/api/v1/balances/").json()["results"]
    summary = client.get("/api/v1/balances/summary/")

    assert [row["connection"] for row in series] == [yc_connection.pk]
    assert series[0]["amount"] == format(BalanceSnapshot.objects.get().amount, "f")
    assert summary.status_code == 200
    body = summary.json()
    assert body["tenant"] == world.a.pk
    assert [c["connection"] for c in body["connections"]] == [yc_connection.pk]
    assert body["totals"][0]["currency"] == "RUB"
    foreign = client.get("/api/v1/balances/summary/", {"tenant": world.b.pk})
    assert foreign.status_code == 400 and "Beta" not in foreign.content.decode()


def test_the_portal_page_shows_amounts_days_left_and_the_first_to_run_out(world, client):
    cloud = ConnectionFactory(tenant=world.a, name="Cloud")
    _stored(cloud, "3000.00", "100.00", "30.0", "2026-03-01")
    client.force_login(world.owner_a, backend="django.contrib.auth.backends.ModelBackend")

    page = client.get(reverse("portal:balances"), HTTP_ACCEPT_LANGUAGE="en")

    html = page.content.decode()
    assert page.status_code == 200
    assert "RUB\xa03,000.00" in html or "₽3,000.00" in html
    assert "30.0 days" in html and "Cloud runs out first" in html
    nav = client.get(reverse("portal:dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("portal:balances") in nav
    russian = client.get(reverse("portal:balances"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "3\xa0000,00\xa0₽" in russian and "Первым закончится баланс" in russian


def test_the_admin_shows_the_balance_in_the_list_and_on_the_page(world, client, yc_connection):
    _stored(yc_connection, "3000.00", "100.00", "30.0", "2026-03-01")
    client.force_login(world.operator_a)

    listing = client.get(reverse("admin:providers_connection_changelist")).content.decode()
    page = client.get(
        reverse("admin:providers_connection_change", args=[yc_connection.pk])
    ).content.decode()

    assert "30.0 days (to 2026-03-01)" in listing
    assert "costs_7d" in page and "Balance history of this connection" in page
