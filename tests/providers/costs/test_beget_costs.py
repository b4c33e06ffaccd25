"""Beget's daily cost estimates through the cost API pull and the one loader, flagged as
estimates, and reconciled with the balance's own decrease on each run; balances collected with
Beget's days to block. Real HTTP against the Beget simulator, real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.db.models import Sum

from providers.adapters.beget.adapter import BegetAdapter
from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig
from providers.models import BalanceSnapshot, CostLineItem, CostSource, ImportRun
from providers.services.balances import connection_balances_collect
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.cost_sources import cost_source_create
from providers.services.reconciliation import KEY
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def sim():
    with BegetSimulator(SimulatorConfig(seed=21, servers=3, account_days=120)) as s:
        yield s


@pytest.fixture
def connection(world, sim):
    return ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="beget",
        name="Hosting",
        credentials=sim.credentials,
        endpoints={"*": sim.url},
    )


@pytest.fixture
def source(world, connection):
    return cost_source_create(
        actor=world.owner_a,
        tenant=world.a,
        kind=CostSource.Kind.PROVIDER_API,
        name="Beget costs",
        connection=connection,
        start_pull=False,
    )


def _adapter(connection):
    from providers.services.connections import connection_credentials

    return BegetAdapter(
        connection_credentials(connection),
        endpoints=connection.endpoints,
        http_options={"sleep": lambda s: None, "rng": random.Random(0)},
    )


def _pull(source):
    return cost_source_pull(source_id=source.pk, trigger="manual", adapter_factory=_adapter)


def _today() -> dt.date:
    return dt.datetime.now(MSK).date()


def _last_month(day: int) -> dt.date:
    return (_today().replace(day=1) - dt.timedelta(days=1)).replace(day=day)


def _snapshot(connection, sim, day: dt.date, extra: Decimal = Decimal(0)):
    """The balance as Beget reported it at noon of ``day`` (its debit taken at midnight)."""
    account = sim.account
    amount = account.paid_in + extra - account.charged(account.started, day)
    moment = dt.datetime.combine(day, dt.time(12), tzinfo=MSK)
    BalanceSnapshot.objects.create(
        tenant=connection.tenant,
        connection=connection,
        account_id=account.login,
        kind="main",
        currency="RUB",
        amount=amount,
        as_of=moment,
        collected_at=moment,
    )


def test_a_pull_loads_the_daily_estimates_flagged_as_estimates(source, sim):
    result = _pull(source)

    assert result.status == "succeeded", result.error
    first = _last_month(1)
    items = CostLineItem.objects.filter(x_source_key=source.source_key)
    assert items.aggregate(s=Sum("billed_cost"))["s"] == sim.account.charged(first, _today())
    assert not items.filter(x_estimated=False).exists()
    item = items.filter(resource_id=sim.config.login).first()
    assert item.provider_name == "Beget" and item.service_name == "Hosting"
    assert item.x_extensions == {"x_estimate_basis": "user_rate_current"}
    assert item.x_vat_rate is not None  # the seeded "Beget" VAT rule matched the ProviderName


def test_each_run_reconciles_the_estimates_with_the_balance(source, connection, sim):
    _snapshot(connection, sim, _last_month(5))
    _snapshot(connection, sim, _last_month(20))

    _pull(source)

    run = ImportRun.objects.filter(source_key=source.source_key).order_by("period_start").first()
    [figures] = run.warnings[KEY]["figures"]
    expected = sim.account.charged(_last_month(6), _last_month(20))
    assert Decimal(figures["estimated"]) == expected
    assert Decimal(figures["balance_decrease"]) == expected
    assert figures["difference"] == "0.00"
    assert run.warnings[KEY]["examples"][0]["value"] == "RUB"


def test_a_server_removed_since_shows_as_a_difference(source, connection, sim):
    server = next(iter(sim.account.servers.values()))
    server.created = dt.datetime.combine(sim.account.started, dt.time(1))
    sim.account.remove_server(server.id, dt.datetime.combine(_last_month(10), dt.time(15)))
    _snapshot(connection, sim, _last_month(5))
    _snapshot(connection, sim, _last_month(20))

    _pull(source)

    run = ImportRun.objects.filter(source_key=source.source_key).order_by("period_start").first()
    [figures] = run.warnings[KEY]["figures"]
    # The balance paid for days 6..10 of the removed server; the estimate cannot know them.
    assert Decimal(figures["difference"]) == server.price_day * 5


def test_without_two_snapshots_there_is_nothing_to_reconcile(source, connection, sim):
    _snapshot(connection, sim, _last_month(5))
    _pull(source)
    assert not any(KEY in r.warnings for r in ImportRun.objects.all())


def test_balances_are_collected_with_beget_s_days_to_block(connection, sim):
    collection = connection_balances_collect(
        connection_id=connection.pk, trigger="manual", adapter_factory=_adapter
    )

    assert collection.ok, collection.error
    snapshot = BalanceSnapshot.objects.get(connection=connection)
    assert snapshot.amount == sim.account.balance
    assert snapshot.days_to_block == sim.account.days_to_block
    connection.refresh_from_db()
    [forecast] = connection.balance_forecast["currencies"]
    assert Decimal(forecast["provider_days_to_block"]) == sim.account.days_to_block


def test_seed_demo_connects_to_a_running_beget_simulator_with_its_cost_source(
    db, sim, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import io

    from django.core.management import call_command

    from providers.adapters.registry import provider_spec
    from providers.demo_steps import connection_name, cost_source_name
    from providers.services.sync import connection_sync
    from providers.tasks import connection_sync_task

    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    monkeypatch.setattr(connection_sync_task, "apply_async", lambda **kw: None)
    settings.BEGET_SIMULATOR_URL = sim.url
    spec = provider_spec("beget")

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "seed_demo", "--credentials-file", str(tmp_path / "c.json"), stdout=io.StringIO()
        )

    sources = CostSource.objects.filter(name=cost_source_name(spec)).select_related("connection")
    assert sources.count() == 2
    source = sources.first()
    assert source.kind == CostSource.Kind.PROVIDER_API
    assert source.connection.name == connection_name(spec)
    run = connection_sync(connection_id=source.connection_id, trigger="created")
    assert run.seen == sim.expected_count()
    result = cost_source_pull(source_id=source.pk, trigger="manual")
    assert result.status == "succeeded", result.error
    items = CostLineItem.objects.filter(x_source_key=source.source_key)
    assert items.exists() and not items.filter(x_estimated=False).exists()
    # Rows link to the synced resources (the account, the servers).
    assert not items.filter(x_resource_id__isnull=True).exists()
