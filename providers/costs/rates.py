"""Exchange rates: the Central Bank of Russia's daily XML, manual overrides, and lookup by date.

``ExchangeRate.rate`` is RUB per one unit of the currency. The CBR quotes some currencies per 10,
100 or 10 000 units (``Nominal``: JPY and KZT per 100), with a decimal comma, in windows-1251::

    <ValCurs Date="14.02.2026" name="Foreign Currency Market">
      <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal>
        <Name>Доллар США</Name><Value>92,5058</Value><VunitRate>92,5058</VunitRate></Valute>

Rates are stored under ``ValCurs/@Date``, the day they take effect, not the day asked for: the
CBR answers a weekend or holiday with the last rates set, so gaps in the stored dates are the
days without new rates, and ``rate_on`` falls back to the latest earlier date. A manual rate
(source=manual) wins over the CBR's for the same date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When

from providers.adapters.base import ProviderResponseError
from providers.costs.sources.transport import RawHttpClient, local_name, parse_untrusted_xml
from providers.models import ExchangeRate

BASE_CURRENCY = "RUB"
RATE_PLACES = Decimal("0.0000000001")  # ExchangeRate.rate has 10 decimal places
PROVIDER = "CBR"


class RateNotFound(LookupError):
    """No rate for the currency on or before the date (nothing fetched or set that far back)."""


@dataclass(frozen=True)
class DailyRates:
    date: dt.date  # the day these rates take effect (ValCurs/@Date)
    rates: dict[str, Decimal]  # currency -> RUB per one unit


# --- parsing --------------------------------------------------------------------------------
def parse_cbr_xml(data: bytes) -> DailyRates:
    """Read XML_daily.asp. Raises ProviderResponseError on anything but a well-formed ValCurs."""
    root = parse_untrusted_xml(data, f"{PROVIDER}: XML_daily")
    if local_name(root.tag) != "ValCurs":
        raise ProviderResponseError(f"{PROVIDER}: expected <ValCurs>, got <{root.tag}>")
    try:
        effective = dt.datetime.strptime(root.get("Date", ""), "%d.%m.%Y").date()
    except ValueError:
        raise ProviderResponseError(
            f"{PROVIDER}: ValCurs Date {root.get('Date')!r} is not DD.MM.YYYY"
        ) from None
    rates: dict[str, Decimal] = {}
    for valute in root:
        if local_name(valute.tag) != "Valute":
            continue
        fields = {local_name(child.tag): (child.text or "").strip() for child in valute}
        code = fields.get("CharCode", "").upper()
        try:
            value = _comma_decimal(fields["Value"])
            nominal = int(fields.get("Nominal") or 1)
        except (KeyError, ValueError, InvalidOperation):
            raise ProviderResponseError(
                f"{PROVIDER}: unreadable rate for {code or '?'}: {fields}"
            ) from None
        if len(code) != 3 or not code.isalpha() or nominal <= 0 or value <= 0:
            raise ProviderResponseError(f"{PROVIDER}: implausible rate entry {fields}")
        # Value is for Nominal units: 100 JPY = 61,5033 RUB -> 0.615033 RUB per yen.
        rates[code] = (value / nominal).quantize(RATE_PLACES).normalize()
    if not rates:
        raise ProviderResponseError(f"{PROVIDER}: the answer for {effective} lists no rates")
    return DailyRates(effective, rates)


def _comma_decimal(text: str) -> Decimal:
    value = Decimal(text.replace("\u00a0", "").replace(" ", "").replace(",", "."))
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


# --- fetching -------------------------------------------------------------------------------
def cbr_url(day: dt.date, base_url: str | None = None) -> str:
    return f"{base_url or settings.CBR_RATES_URL}?date_req={day:%d/%m/%Y}"


def fetch_cbr(
    day: dt.date, *, base_url: str | None = None, http: RawHttpClient | None = None
) -> DailyRates:
    """The rates the CBR publishes for ``day`` (the latest set on or before it)."""
    http = http or RawHttpClient(provider=PROVIDER, timeout=(5.0, 30.0), max_attempts=4)
    response = http.request_raw("GET", cbr_url(day, base_url))
    return parse_cbr_xml(response.content)


def store(daily: DailyRates, *, source: str = ExchangeRate.Source.CBR) -> int:
    """Upsert one day's rates; returns how many rows were written."""
    rows = [
        ExchangeRate(date=daily.date, currency=code, rate=rate, source=source)
        for code, rate in sorted(daily.rates.items())
    ]
    ExchangeRate.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["date", "currency", "source"],
        update_fields=["rate", "updated_at"],
    )
    return len(rows)


def days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


# --- lookup ---------------------------------------------------------------------------------
def rate_on(currency: str, day: dt.date) -> Decimal:
    """RUB per one unit of ``currency`` on ``day``: that day's rate, else the latest earlier
    one (weekends and holidays have none); a manual rate beats the CBR's of the same date."""
    code = currency.strip().upper()
    if code == BASE_CURRENCY:
        return Decimal(1)
    found = (
        ExchangeRate.objects.filter(currency=code, date__lte=day)
        .annotate(
            manual_first=Case(
                When(source=ExchangeRate.Source.MANUAL, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("-date", "manual_first")
        .values_list("rate", flat=True)
        .first()
    )
    if found is None:
        raise RateNotFound(
            f"No exchange rate for {code} on or before {day.isoformat()}: fetch the CBR rates "
            f"(manage.py fetch_rates --since {day.isoformat()}) or set a manual rate."
        )
    return found
