"""Exchange rates: the CBR's XML (comma decimals, nominals, windows-1251) fetched over HTTP from
the simulator, lookup with weekend and holiday fallback, manual overrides, the backfill command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from core.models import AuditEvent
from providers.adapters.base import ProviderResponseError, ProviderUnavailable
from providers.costs import cbr_simulator
from providers.costs.cbr_simulator import CbrSimulator
from providers.costs.rates import RateNotFound, fetch_cbr, parse_cbr_xml, rate_on
from providers.models import ExchangeRate
from providers.services.rates import (
    exchange_rate_clear,
    exchange_rate_set,
    exchange_rates_fetch,
)

SAMPLE = """<?xml version="1.0" encoding="windows-1251"?>
<ValCurs Date="14.02.2026" name="Foreign Currency Market">
<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal>
<Name>Доллар США</Name><Value>92,5058</Value><VunitRate>92,5058</VunitRate></Valute>
<Valute ID="R01820"><NumCode>392</NumCode><CharCode>JPY</CharCode><Nominal>100</Nominal>
<Name>Японских иен</Name><Value>61,5033</Value><VunitRate>0,615033</VunitRate></Valute>
<Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode><Nominal>100</Nominal>
<Name>Казахстанских тенге</Name><Value>17,9655</Value><VunitRate>0,179655</VunitRate></Valute>
</ValCurs>""".encode("cp1251")

SATURDAY = dt.date(2026, 2, 14)


@pytest.fixture(scope="module")
def cbr():
    with CbrSimulator() as sim:
        yield sim


def test_the_cbr_document_is_read_exactly():
    daily = parse_cbr_xml(SAMPLE)

    assert daily.date == SATURDAY
    assert daily.rates == {
        "USD": Decimal("92.5058"),
        "JPY": Decimal("0.615033"),  # 61,5033 RUB per 100 yen
        "KZT": Decimal("0.179655"),
    }
    assert all(isinstance(rate, Decimal) for rate in daily.rates.values())


@pytest.mark.parametrize(
    "document",
    [
        b"<html>maintenance</html>",
        b'<?xml version="1.0"?><ValCurs>Error in parameters</ValCurs>',
        b'<ValCurs Date="14.02.2026"><Valute><CharCode>USD</CharCode><Nominal>1</Nominal>'
        b"<Value>abc</Value></Valute></ValCurs>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><ValCurs Date="14.02.2026">&a;</ValCurs>',
        b"not xml at all",
    ],
)
def test_unusable_documents_are_refused(document):
    with pytest.raises(ProviderResponseError):
        parse_cbr_xml(document)


def test_the_simulator_speaks_the_cbrs_format_over_http(cbr):
    daily = fetch_cbr(SATURDAY, base_url=cbr.rates_url)

    assert daily.date == SATURDAY
    assert set(daily.rates) == set(cbr_simulator.CURRENCIES)
    assert daily.rates["JPY"] == cbr_simulator.rate_for("JPY", SATURDAY) / 100
    assert daily.rates["USD"] == cbr_simulator.rate_for("USD", SATURDAY)
    assert cbr.requests[-1] == "14/02/2026"
    # Sunday and Monday answer with Saturday's rates (set on Friday), as the CBR does.
    assert fetch_cbr(dt.date(2026, 2, 16), base_url=cbr.rates_url).date == SATURDAY
    # The January holidays bring no new rates.
    assert fetch_cbr(dt.date(2026, 1, 8), base_url=cbr.rates_url).date == dt.date(2026, 1, 1)


def test_fetch_stores_rates_by_effective_date_and_lookups_fall_back(world, cbr):
    summary = exchange_rates_fetch(
        actor=world.operator_a,
        first_day=dt.date(2026, 2, 12),
        last_day=dt.date(2026, 2, 17),
        base_url=cbr.rates_url,
    )

    stored = sorted(set(ExchangeRate.objects.values_list("date", flat=True)))
    # Thu 12 .. Sat 14, then Tue 17: Sunday and Monday have no rates of their own.
    assert stored == [dt.date(2026, 2, d) for d in (12, 13, 14, 17)]
    assert summary["effective_dates"] == 4
    assert summary["rows"] == 4 * len(cbr_simulator.CURRENCIES)
    saturday = cbr_simulator.rate_for("USD", SATURDAY)
    assert rate_on("USD", dt.date(2026, 2, 15)) == saturday  # Sunday -> Saturday
    assert rate_on("usd", dt.date(2026, 2, 16)) == saturday  # Monday -> Saturday
    assert (
        rate_on("JPY", dt.date(2026, 2, 17))
        == cbr_simulator.rate_for("JPY", dt.date(2026, 2, 17)) / 100
    )
    assert rate_on("RUB", dt.date(2000, 1, 1)) == 1
    with pytest.raises(RateNotFound, match=r"USD on or before 2026-02-11.*fetch_rates"):
        rate_on("USD", dt.date(2026, 2, 11))
    with pytest.raises(RateNotFound):
        rate_on("CHF", dt.date(2026, 2, 17))
    event = AuditEvent.objects.get(event_type="exchange_rates.fetched")
    assert event.tenant_id is None and event.actor_id == world.operator_a.pk

    # Fetching again changes nothing (upserts).
    exchange_rates_fetch(first_day=SATURDAY, base_url=cbr.rates_url)
    assert ExchangeRate.objects.count() == summary["rows"]


def test_a_manual_rate_wins_over_the_cbr_for_its_date(world, cbr):
    exchange_rates_fetch(first_day=dt.date(2026, 2, 13), last_day=SATURDAY, base_url=cbr.rates_url)
    cbr_rate = rate_on("USD", SATURDAY)

    exchange_rate_set(actor=world.superuser, currency="usd", date=SATURDAY, rate="90.1234")

    assert rate_on("USD", SATURDAY) == Decimal("90.1234")
    assert rate_on("USD", dt.date(2026, 2, 15)) == Decimal("90.1234")  # fallback sees it too
    assert rate_on("USD", dt.date(2026, 2, 13)) == cbr_simulator.rate_for(
        "USD", dt.date(2026, 2, 13)
    )
    # A later CBR fetch does not overwrite the override.
    exchange_rates_fetch(first_day=SATURDAY, base_url=cbr.rates_url)
    assert rate_on("USD", SATURDAY) == Decimal("90.1234")
    event = AuditEvent.objects.get(event_type="exchange_rate.set")
    assert event.tenant_id is None and event.after["rate"] == "90.1234"

    exchange_rate_clear(actor=world.operator_a, currency="USD", date=SATURDAY)

    assert rate_on("USD", SATURDAY) == cbr_rate


def test_only_operators_and_superusers_manage_rates(world):
    for person in (world.owner_a, world.viewer_a):
        with pytest.raises(PermissionDenied):
            exchange_rate_set(actor=person, currency="USD", date=SATURDAY, rate="1")
        with pytest.raises(PermissionDenied):
            exchange_rates_fetch(actor=person, first_day=SATURDAY, base_url="http://127.0.0.1:9")
    assert not ExchangeRate.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="exchange_rate").exists()


@pytest.mark.parametrize(
    ("currency", "rate"),
    [
        ("RUB", "1"),
        ("XXY", "1"),
        ("USD", "0"),
        ("USD", "-2"),
        ("USD", "abc"),
        ("USD", "1.00000000001"),
    ],
)
def test_bad_manual_rates_are_refused(world, currency, rate):
    with pytest.raises(ValidationError):
        exchange_rate_set(actor=world.superuser, currency=currency, date=SATURDAY, rate=rate)


def test_a_failing_service_is_retried_then_reported_keeping_earlier_days(world, cbr):
    cbr.fail_next = 2  # two 503s: the client's retries absorb them
    exchange_rates_fetch(first_day=dt.date(2026, 2, 13), base_url=cbr.rates_url)
    assert ExchangeRate.objects.filter(date=dt.date(2026, 2, 13)).exists()

    cbr.fail_next = 10
    with pytest.raises(ProviderUnavailable):
        exchange_rates_fetch(first_day=SATURDAY, last_day=SATURDAY, base_url=cbr.rates_url)
    cbr.fail_next = 0
    event = AuditEvent.objects.filter(event_type="exchange_rates.fetched").latest("id")
    assert "HTTP 503" in event.extra["error"] and event.extra["rows"] == 0


def test_fetch_rates_command_backfills_from_the_configured_url(db, cbr, settings):
    settings.CBR_RATES_URL = cbr.rates_url

    call_command("fetch_rates", "--since", "2026-02-09", "--until", "2026-02-15")

    assert ExchangeRate.objects.filter(date=dt.date(2026, 2, 10), currency="EUR").exists()
    assert AuditEvent.objects.get(event_type="exchange_rates.fetched").source == "cli"
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("fetch_rates", "--since", "14.02.2026")
    with pytest.raises(CommandError, match="before the first"):
        call_command("fetch_rates", "--since", "2026-02-15", "--until", "2026-02-01")
