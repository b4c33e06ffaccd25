"""The cost query: exact Decimal totals from the rollups, per-day conversion (manual rates beat
the CBR's, the latest earlier rate fills gaps, a missing rate is an error), net and gross."""

from __future__ import annotations

import datetime as dt
import decimal
import io
from decimal import Decimal

import pytest

from core.capabilities import Role
from core.services.memberships import membership_create
from providers.costs.query import CostQuery, QueryError, cost_tenant_for, run_cost_query
from providers.focus import write_focus_csv
from providers.models import ExchangeRate, ImportRun, VatRule
from tests.factories import ImportRunFactory, member

_seq = iter(range(10**6))


# --- builders shared by the cost API, portal and command tests ---------------------------------
def focus_row(
    day: dt.date,
    service: str,
    billed: str,
    *,
    currency: str = "RUB",
    provider: str = "Yandex Cloud",
    category: str = "Usage",
    effective: str | None = None,
    listed: str | None = None,
    tags: dict | None = None,
    resource: str | None = "res-1",
    sub_account: str = "folder-1",
    region: str = "ru-central1",
    hour: int = 12,
) -> dict:
    """A FOCUS 1.2 row charged at ``hour``:00 UTC on ``day`` (the same day in Moscow)."""
    start = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)
    month = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
    return {
        "billed_cost": Decimal(billed),
        "effective_cost": Decimal(effective if effective is not None else billed),
        "list_cost": Decimal(listed if listed is not None else billed),
        "contracted_cost": Decimal(billed),
        "billing_account_id": "acc-1",
        "billing_account_name": "Account",
        "billing_currency": currency,
        "billing_period_start": month,
        "billing_period_end": (month + dt.timedelta(days=32)).replace(day=1),
        "charge_period_start": start,
        "charge_period_end": start + dt.timedelta(hours=1),
        "charge_category": category,
        "charge_class": None,
        "charge_description": f"{service} charge",
        "invoice_issuer_name": provider,
        "provider_name": provider,
        "publisher_name": provider,
        "pricing_quantity": None,
        "pricing_unit": None,
        "service_category": "Compute" if category != "Tax" else "Other",
        "service_name": service,
        "resource_id": resource,
        "sub_account_id": sub_account,
        "sub_account_name": sub_account,
        "region_id": region,
        "region_name": region,
        "tags": tags,
    }


def focus_bytes(rows: list[dict]) -> bytes:
    text = io.StringIO()
    write_focus_csv(text, rows)
    return text.getvalue().encode()


def load(tenant, rows: list[dict], *, source: str | None = None) -> ImportRun:
    run = ImportRunFactory(
        tenant=tenant,
        file=io.BytesIO(focus_bytes(rows)),
        file_name="test.csv",
        source_key=source or f"test-{next(_seq)}",
    )
    assert run.status == ImportRun.Status.SUCCEEDED, (run.error, run.errors)
    return run


def rate(day: dt.date, currency: str, value: str, source: str = "cbr") -> ExchangeRate:
    return ExchangeRate.objects.create(
        date=day, currency=currency, rate=Decimal(value), source=source
    )


def query(tenant, *, start="2026-01-01", end="2026-01-31", **options):
    return run_cost_query(
        CostQuery(
            tenant=tenant,
            start=dt.date.fromisoformat(start),
            end=dt.date.fromisoformat(end),
            **options,
        )
    )


JAN = dt.date(2026, 1, 10)


@pytest.fixture(autouse=True)
def yandex_vat(db):
    """Russian VAT for Yandex Cloud in RUB, as migration 0004 seeds it (a flushing transactional
    test elsewhere may have removed the seeded rows, so tests never rely on them)."""
    for valid_from, value in ((dt.date(2019, 1, 1), "0.2000"), (dt.date(2026, 1, 1), "0.2200")):
        VatRule.objects.get_or_create(
            provider_name="Yandex Cloud",
            currency="RUB",
            valid_from=valid_from,
            defaults={"rate": Decimal(value), "included_in_price": True},
        )


@pytest.fixture
def aws_excludes_vat(db):
    return VatRule.objects.create(
        provider_name="AWS",
        currency="USD",
        valid_from=dt.date(2020, 1, 1),
        rate=Decimal("0.2000"),
        included_in_price=False,
    )


# --- exact totals -------------------------------------------------------------------------------
def test_month_by_service_totals_are_exact_and_from_the_summary(world):
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "100.123456789012"),
            focus_row(JAN + dt.timedelta(days=1), "Compute Cloud", "0.000000000001"),
            focus_row(JAN, "Object Storage", "7.5"),
            focus_row(dt.date(2026, 2, 3), "Object Storage", "1"),
        ],
    )

    result = query(world.a, group_by=["month", "service"], start="2026-01-01", end="2026-02-28")

    assert result.source == "summary"
    assert result.currency == "RUB" and result.amounts == "gross"
    assert [(r["month"], r["service"], r["billed_cost"]) for r in result.rows] == [
        ("2026-01", "Compute Cloud", Decimal("100.123456789013")),
        ("2026-01", "Object Storage", Decimal("7.5")),
        ("2026-02", "Object Storage", Decimal("1")),
    ]
    assert result.totals["billed_cost"] == Decimal("108.623456789013")
    assert result.totals["line_items"] == 4


def test_other_tenants_costs_never_count(world):
    load(world.a, [focus_row(JAN, "Compute Cloud", "10")])
    load(world.b, [focus_row(JAN, "Compute Cloud", "99")])
    assert query(world.a).totals["billed_cost"] == Decimal("10")


def test_days_are_the_tenants_local_days_inclusive(world):
    # 22:00 UTC on 31 January is 1 February in Moscow.
    load(world.a, [focus_row(dt.date(2026, 1, 31), "Compute Cloud", "5", hour=22)])
    assert query(world.a, end="2026-01-31").totals["billed_cost"] == 0
    feb = query(world.a, start="2026-02-01", end="2026-02-01", group_by=["day"])
    assert feb.rows[0]["day"] == dt.date(2026, 2, 1)
    assert feb.totals["billed_cost"] == Decimal("5")


# --- currency -------------------------------------------------------------------------------
def test_conversion_per_day_and_a_manual_rate_beats_the_cbr(world):
    rate(JAN, "USD", "90.0000")
    rate(JAN, "USD", "95.5000", source="manual")
    rate(JAN + dt.timedelta(days=1), "USD", "91.2500")
    load(
        world.a,
        [
            focus_row(JAN, "EC2", "10", currency="USD", provider="AWS"),
            focus_row(JAN + dt.timedelta(days=1), "EC2", "2", currency="USD", provider="AWS"),
            focus_row(JAN, "Compute Cloud", "100"),
        ],
    )

    result = query(world.a, group_by=["provider"])

    rows = {r["provider"]: r for r in result.rows}
    assert rows["AWS"]["billed_cost"] == Decimal("10") * Decimal("95.5") + 2 * Decimal("91.25")
    assert rows["Yandex Cloud"]["billed_cost"] == Decimal("100")
    assert result.totals["billed_cost"] == Decimal("1237.5")


def test_a_day_without_a_rate_uses_the_latest_earlier_one(world):
    rate(dt.date(2026, 1, 8), "USD", "90")
    rate(dt.date(2026, 1, 9), "USD", "91")  # Friday's rate holds over the weekend
    load(world.a, [focus_row(dt.date(2026, 1, 11), "EC2", "3", currency="USD", provider="AWS")])

    assert query(world.a).totals["billed_cost"] == Decimal("273")


def test_a_missing_rate_is_an_error_naming_the_currency_and_days(world):
    rate(dt.date(2026, 1, 20), "USD", "90")  # only later than the charges: no use
    load(
        world.a,
        [
            focus_row(JAN, "EC2", "3", currency="USD", provider="AWS"),
            focus_row(JAN, "VM", "4", currency="EUR", provider="Azure"),
        ],
    )

    with pytest.raises(QueryError) as caught:
        query(world.a)

    assert caught.value.missing_rates == {"EUR": ["2026-01-10"], "USD": ["2026-01-10"]}
    assert "EUR: 2026-01-10" in str(caught.value)
    assert "USD: 2026-01-10" in str(caught.value)


def test_reporting_in_another_currency_divides_by_its_rate(world):
    world.a.default_currency = "USD"
    world.a.save()
    rate(JAN, "USD", "80")
    rate(JAN, "EUR", "90")
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "100"),
            focus_row(JAN, "VM", "8", currency="EUR", provider="Azure"),
            focus_row(JAN, "EC2", "1.5", currency="USD", provider="AWS"),
        ],
    )

    result = query(world.a)

    with decimal.localcontext(prec=60):
        expected = Decimal(100) / 80 + Decimal(8) * (Decimal(90) / Decimal(80)) + Decimal("1.5")
    assert result.currency == "USD"
    assert result.totals["billed_cost"] == expected.quantize(Decimal("1e-18"))


# --- VAT ---------------------------------------------------------------------------------------
def test_gross_and_net_for_prices_with_and_without_vat(world, aws_excludes_vat):
    rate(JAN, "USD", "100")
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "122", effective="61"),  # RUB, 22% included
            focus_row(JAN, "EC2", "10", currency="USD", provider="AWS"),  # 20% on top
            focus_row(JAN, "VAT", "5", category="Tax"),  # tax itemised as a row
        ],
    )

    gross = query(world.a, group_by=["service"], amounts="gross")
    net = query(world.a, group_by=["service"], amounts="net")

    g = {r["service"]: r for r in gross.rows}
    n = {r["service"]: r for r in net.rows}
    assert (g["Compute Cloud"]["billed_cost"], n["Compute Cloud"]["billed_cost"]) == (122, 100)
    assert g["Compute Cloud"]["vat"] == n["Compute Cloud"]["vat"] == 22
    assert n["Compute Cloud"]["effective_cost"] == 50  # 61 / 1.22
    assert (g["EC2"]["billed_cost"], n["EC2"]["billed_cost"], g["EC2"]["vat"]) == (1200, 1000, 200)
    assert (g["VAT"]["billed_cost"], n["VAT"]["billed_cost"], n["VAT"]["vat"]) == (5, 0, 5)
    assert gross.totals["billed_cost"] - net.totals["billed_cost"] == gross.totals["vat"] == 227


def test_the_tenant_setting_chooses_net_or_gross(world):
    load(world.a, [focus_row(JAN, "Compute Cloud", "122")])
    assert query(world.a).totals["billed_cost"] == 122
    world.a.cost_amounts = "net"
    world.a.save()
    result = query(world.a)
    assert result.amounts == "net"
    assert result.totals["billed_cost"] == 100


def test_a_vat_rate_change_inside_the_range_applies_by_day(world):
    load(
        world.a,
        [
            focus_row(dt.date(2025, 12, 31), "Compute Cloud", "120"),  # 20% until 2025-12-31
            focus_row(dt.date(2026, 1, 1), "Compute Cloud", "122"),  # 22% from 2026-01-01
        ],
        source="dec",
    )
    result = query(world.a, start="2025-12-01", end="2026-01-31", amounts="net")
    assert result.totals["billed_cost"] == 200
    assert result.totals["vat"] == 42


# --- dimensions, filters, limits -----------------------------------------------------------
def test_tags_and_resources_come_from_the_per_resource_rollup(world):
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "1", tags={"env": "prod"}, resource="vm-1"),
            focus_row(JAN, "Compute Cloud", "2", tags={"env": "dev"}, resource="vm-2"),
            focus_row(JAN, "Compute Cloud", "4", tags=None, resource="vm-3"),
        ],
    )

    by_tag = query(world.a, group_by=["tag:env"])
    assert by_tag.source == "daily"
    assert {r["tag:env"]: r["billed_cost"] for r in by_tag.rows} == {"prod": 1, "dev": 2, None: 4}
    prod = query(world.a, group_by=["resource"], tags=[("env", "prod")])
    assert [(r["resource"], r["billed_cost"]) for r in prod.rows] == [("vm-1", 1)]
    top = query(world.a, group_by=["resource"], order="-billed_cost", limit=2)
    assert [r["resource"] for r in top.rows] == ["vm-3", "vm-2"]
    assert top.truncated and top.totals["billed_cost"] == 7


def test_filters_by_dimension_values(world):
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "1", region="ru-central1"),
            focus_row(JAN, "Object Storage", "2", region="ru-central2"),
            focus_row(JAN, "Cloud Logging", "4", region="ru-central1", sub_account="folder-2"),
        ],
    )
    result = query(
        world.a,
        group_by=["sub_account"],
        filters={"region": ["ru-central1"], "service": ["Compute Cloud", "Cloud Logging"]},
    )
    assert {r["sub_account"]: r["billed_cost"] for r in result.rows} == {
        "folder-1": 1,
        "folder-2": 4,
    }


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"group_by": ["weekday"]}, "group_by"),
        ({"group_by": ["tag:"]}, "group_by"),
        ({"amounts": "both"}, "amounts"),
        ({"order": "-colour"}, "order"),
        ({"limit": 0}, "limit"),
        ({"filters": {"connection": ["abc"]}}, "connection"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end"),
        ({"start": "2020-01-01", "end": "2026-01-01", "group_by": ["resource"]}, "end"),
    ],
)
def test_bad_queries_say_what_is_wrong(world, options, param):
    with pytest.raises(QueryError) as caught:
        query(world.a, **options)
    assert caught.value.param == param


def test_no_range_means_this_month_in_the_tenants_time_zone(world):
    result = run_cost_query(CostQuery(tenant=world.a))
    assert result.start.day == 1
    assert (result.end + dt.timedelta(days=1)).day == 1
    assert result.rows == [] and result.totals["billed_cost"] == 0


def test_cost_tenant_for_needs_a_name_only_when_several_are_visible(world):
    two_tenant_user = member(world.a, Role.VIEWER)
    member_of_b = member(world.b, Role.VIEWER)
    membership_create(actor=None, tenant=world.b, user=two_tenant_user, role=Role.VIEWER)
    assert cost_tenant_for(member_of_b) == world.b
    assert cost_tenant_for(world.owner_a) == world.a
    assert cost_tenant_for(world.owner_a, "alpha") == world.a
    with pytest.raises(QueryError) as several:
        cost_tenant_for(two_tenant_user)
    assert several.value.param == "tenant"
    assert cost_tenant_for(two_tenant_user, str(world.b.pk)) == world.b
    with pytest.raises(QueryError):
        cost_tenant_for(world.owner_a, world.b.pk)
    with pytest.raises(QueryError):
        cost_tenant_for(world.superuser)  # sees every tenant: must name one
