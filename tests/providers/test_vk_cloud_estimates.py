"""VK Cloud estimates: the synced inventory x the operators' price list (versioned by date),
pulled by a cost API source on the connection, flagged ``x_estimated``, kept out of billed totals
unless asked; the price list's service (platform data: superusers only, audited, bad input
refused)."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum

from core.models import AuditEvent
from providers.adapters.base import CostPeriod
from providers.adapters.http import HttpClient
from providers.adapters.vk_cloud.adapter import VKCloudAdapter
from providers.adapters.vk_cloud.simulator import VKCloudSimulator
from providers.costs.query import EXCLUDE, INCLUDE, CostQuery, run_cost_query
from providers.models import CostLineItem, CostSource, ProviderPrice, Resource
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.cost_sources import cost_source_create
from providers.services.estimates import EstimateSource
from providers.services.prices import (
    provider_price_create,
    provider_price_delete,
    provider_price_update,
)
from providers.services.sync import connection_sync
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
MSK = zoneinfo.ZoneInfo("Europe/Moscow")
GIB = 1024**3


@pytest.fixture
def sim():
    with VKCloudSimulator(seed=2, resources=30) as s:
        yield s


@pytest.fixture
def connection(world, sim):
    connection = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        provider="vk_cloud",
        name="VK prod",
        credentials=sim.credentials,
        endpoints=sim.endpoints,
    )

    def factory(c):
        from providers.services.connections import connection_credentials

        http = HttpClient(provider="VK Cloud", sleep=lambda s: None, rng=random.Random(0))
        return VKCloudAdapter(
            connection_credentials(c), scope=c.scope, endpoints=c.endpoints, http=http
        )

    connection_sync(connection_id=connection.pk, trigger="manual", adapter_factory=factory)
    return connection


def _price(resource_type, metric, price, valid_from=dt.date(2025, 1, 1), variant=""):
    return provider_price_create(
        actor=None,
        provider="vk_cloud",
        resource_type=resource_type,
        metric=metric,
        variant=variant,
        valid_from=valid_from,
        price=Decimal(price),
    )


@pytest.fixture
def prices():
    return [
        _price("vm", "vcpu_hour", "1.10"),
        # A new version from 21 January: the day before keeps the old price.
        _price("vm", "vcpu_hour", "1.30", valid_from=dt.date(2026, 1, 21)),
        _price("vm", "memory_gib_hour", "0.45"),
        _price("disk", "storage_gib_hour", "0.02"),
        _price("disk", "storage_gib_hour", "0.05", variant="fast"),
        _price("ip_address", "hour", "0.3333"),
    ]


def _expected(connection, day: dt.date) -> Decimal:
    """An independent reading of the rules for a day every resource lived through."""
    total = Decimal(0)
    vcpu = Decimal("1.30") if day >= dt.date(2026, 1, 21) else Decimal("1.10")
    for r in Resource.objects.filter(connection=connection, deleted_at__isnull=True):
        if r.type == "vm":
            total += (24 * r.specs["vcpu"] * vcpu).quantize(Decimal("0.01"))
            gib = Decimal(r.specs["memory_bytes"]) / GIB
            total += (24 * gib * Decimal("0.45")).quantize(Decimal("0.01"))
        elif r.type == "disk":
            rate = Decimal("0.05") if r.properties.get("volume_type") == "fast" else Decimal("0.02")
            total += (24 * Decimal(r.specs["storage_bytes"] // GIB) * rate).quantize(
                Decimal("0.01")
            )
        elif r.type == "ip_address":
            total += (24 * Decimal("0.3333")).quantize(Decimal("0.01"))
    return total


def test_estimates_are_inventory_times_the_price_in_force_each_day(connection, prices):
    period = CostPeriod(dt.datetime(2026, 1, 20, tzinfo=MSK), dt.datetime(2026, 1, 22, tzinfo=MSK))
    # Every simulated resource was created during January: these days start after all of them.
    Resource.objects.filter(connection=connection).update(
        provider_created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    source = EstimateSource(connection, now=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))

    records = list(source.costs(period))

    by_day: dict[dt.date, Decimal] = {}
    for r in records:
        day = r.charge_period_start.astimezone(MSK).date()
        by_day[day] = by_day.get(day, Decimal(0)) + r.billed_cost
    assert by_day == {
        dt.date(2026, 1, 20): _expected(connection, dt.date(2026, 1, 20)),
        dt.date(2026, 1, 21): _expected(connection, dt.date(2026, 1, 21)),
    }
    assert by_day[dt.date(2026, 1, 21)] > by_day[dt.date(2026, 1, 20)]  # the new version
    # Types without a price cost nothing and are named.
    assert "load_balancer" in source.missing and "vm" not in source.missing


def test_a_resource_counts_from_its_creation_and_until_it_was_deleted(connection, prices):
    vm = Resource.objects.filter(connection=connection, type="vm").first()
    Resource.objects.filter(connection=connection).exclude(pk=vm.pk).update(
        deleted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    Resource.objects.filter(pk=vm.pk).update(
        provider_created_at=dt.datetime(2026, 1, 20, 10, 30, tzinfo=MSK),
        deleted_at=dt.datetime(2026, 1, 20, 15, 0, tzinfo=MSK),
    )
    period = CostPeriod(dt.datetime(2026, 1, 20, tzinfo=MSK), dt.datetime(2026, 1, 21, tzinfo=MSK))

    records = list(
        EstimateSource(connection, now=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)).costs(period)
    )

    # 10:30 to 15:00 is 4.5 hours: the started fifth hour counts.
    assert {r.consumed_quantity for r in records} == {Decimal(5)}


def test_the_pull_flags_estimates_and_billed_totals_leave_them_out(world, connection, prices):
    source = cost_source_create(
        actor=world.owner_a,
        tenant=world.a,
        kind=CostSource.Kind.PROVIDER_API,
        name="VK estimates",
        connection=connection,
        start_pull=False,
    )

    result = cost_source_pull(source_id=source.pk, trigger="manual")

    assert result.status != "failed", result.error
    items = CostLineItem.objects.filter(x_source_key=source.source_key)
    assert items.exists() and not items.filter(x_estimated=False).exists()
    estimated = items.aggregate(s=Sum("billed_cost"))["s"]
    today = dt.datetime.now(MSK).date()

    def query(mode):
        return run_cost_query(
            CostQuery(
                tenant=world.a,
                start=today - dt.timedelta(days=70),
                end=today + dt.timedelta(days=1),
                estimates=mode,
                amounts="gross",
                currency="RUB",
            )
        )

    assert estimated > 0
    assert query(EXCLUDE).totals["billed_cost"] == 0
    apart = query(EXCLUDE).estimated_totals["billed_cost"]
    assert apart > 0 and query(INCLUDE).totals["billed_cost"] == apart


def test_prices_are_platform_data_audited_and_checked(world, prices):
    price = prices[0]
    with pytest.raises(PermissionDenied):
        provider_price_update(actor=world.operator_a, entry=price, price=Decimal("2"))
    provider_price_update(actor=world.superuser, entry=price, price=Decimal("2"))
    assert AuditEvent.objects.filter(event_type="providerprice.updated", tenant=None).exists()
    with pytest.raises(ValidationError) as caught:
        provider_price_create(
            actor=None,
            provider="yandex_cloud",
            resource_type="vm",
            metric="hour",
            valid_from=dt.date(2026, 1, 1),
            price=Decimal("1"),
            currency="XXX1",
        )
    assert {"provider", "currency"} <= set(caught.value.message_dict)
    with pytest.raises(ValidationError) as caught:
        _price("vm", "hour", "-1")
    assert caught.value.message_dict
    provider_price_delete(actor=world.superuser, entry=price)
    assert not ProviderPrice.objects.filter(pk=price.pk).exists()


def test_the_admin_keeps_the_price_list_for_superusers(world, client):
    from django.urls import reverse

    url = reverse("admin:providers_providerprice_add")
    form = {
        "provider": "vk_cloud",
        "resource_type": "vm",
        "metric": "vcpu_hour",
        "variant": "",
        "valid_from": "2026-02-01",
        "price": "1.25",
        "currency": "rub",
        "note": "",
    }
    client.force_login(world.operator_a, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(url, form).status_code == 403  # operators read, superusers write
    client.force_login(world.superuser, backend="django.contrib.auth.backends.ModelBackend")

    bad = client.post(url, {**form, "currency": "roubles", "price": "-1"})
    assert bad.status_code == 200
    errors = bad.context["adminform"].form.errors
    assert "currency" in errors and "price" in errors
    assert client.post(url, form).status_code == 302
    price = ProviderPrice.objects.get()
    assert (price.currency, price.price) == ("RUB", Decimal("1.25"))
    assert AuditEvent.objects.filter(event_type="providerprice.created").exists()
