"""Currency conversion for reports, in bulk: the rates a query needs are read in one SELECT.

``ExchangeRate.rate`` is how many RUB one unit of the currency was worth on a date. The rate of a
currency for day D is the one on the latest date on or before D that has a rate; on that date a
manual rate wins over the Central Bank's. RUB is always 1. A day with no rate on or before it is
an error that names the currency and the days (never a silent 0, never a later rate).

Converting an amount from currency A to B on day D: ``amount * rate(A, D) / rate(B, D)``. When B
is RUB (the common case) that is one exact multiplication; otherwise the division is carried out
with 34 significant digits.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _

BASE_CURRENCY = "RUB"
ONE = Decimal(1)
_DIVISION = decimal.Context(prec=34)
MAX_DAYS_LISTED = 5


class MissingRates(Exception):
    """No rate on or before some days: ``missing`` maps each currency to its days, sorted."""

    def __init__(self, missing: dict[str, list[dt.date]]):
        self.missing = {currency: sorted(set(days)) for currency, days in sorted(missing.items())}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = []
        for currency, days in self.missing.items():
            shown = ", ".join(day.isoformat() for day in days[:MAX_DAYS_LISTED])
            more = len(days) - MAX_DAYS_LISTED
            if more > 0:
                shown += " " + _("and %(n)d more day(s)") % {"n": more}
            parts.append(f"{currency}: {shown}")
        return _(
            "No exchange rate to RUB on or before these days: %(missing)s. Fetch the Central "
            "Bank rates or add manual rates for them."
        ) % {"missing": "; ".join(parts)}

    def as_dict(self) -> dict[str, list[str]]:
        return {c: [d.isoformat() for d in days] for c, days in self.missing.items()}


class RateTable:
    """RUB-per-unit rates of a few currencies over a date range, with the fallback rule."""

    def __init__(self, rates: dict[str, dict[dt.date, Decimal]]):
        self._dates: dict[str, list[dt.date]] = {}
        self._values: dict[str, list[Decimal]] = {}
        for currency, by_date in rates.items():
            dates = sorted(by_date)
            self._dates[currency] = dates
            self._values[currency] = [by_date[d] for d in dates]

    @classmethod
    def load(cls, currencies: Iterable[str], first_day: dt.date, last_day: dt.date) -> RateTable:
        """Rates of ``currencies`` for [first_day, last_day], plus the latest one before it."""
        wanted = sorted({c for c in currencies if c and c != BASE_CURRENCY})
        rates: dict[str, dict[dt.date, Decimal]] = {c: {} for c in wanted}
        if not wanted:
            return cls(rates)
        with connection.cursor() as cursor:
            # Manual rows sort after cbr rows of the same date, so they overwrite them below.
            cursor.execute(
                """
                SELECT r.currency, r.date, r.rate
                  FROM providers_exchangerate r
                 WHERE r.currency = ANY(%(currencies)s)
                   AND r.date <= %(last)s
                   AND r.date >= coalesce(
                        (SELECT max(p.date) FROM providers_exchangerate p
                          WHERE p.currency = r.currency AND p.date <= %(first)s),
                        %(first)s)
                 ORDER BY r.currency, r.date, (r.source = 'manual')
                """,
                {"currencies": wanted, "first": first_day, "last": last_day},
            )
            for currency, date, rate in cursor.fetchall():
                rates[currency][date] = rate
        return cls(rates)

    def rate(self, currency: str, day: dt.date) -> Decimal | None:
        """RUB per unit of ``currency`` on ``day`` (the latest rate on or before it)."""
        if currency == BASE_CURRENCY:
            return ONE
        dates = self._dates.get(currency)
        if not dates:
            return None
        index = bisect.bisect_right(dates, day) - 1
        return self._values[currency][index] if index >= 0 else None

    def factor(self, source: str, target: str, day: dt.date) -> Decimal | None:
        """One unit of ``source`` in ``target`` on ``day`` (None: a rate is missing)."""
        if source == target:
            return ONE
        source_rate, target_rate = self.rate(source, day), self.rate(target, day)
        if source_rate is None or target_rate is None:
            return None
        if target_rate == ONE:
            return source_rate
        return _DIVISION.divide(source_rate, target_rate)


def conversion_factors(
    needed: Iterable[tuple[str, dt.date]], target: str
) -> dict[tuple[str, dt.date], Decimal]:
    """Factors into ``target`` for each (currency, day); MissingRates lists every gap at once."""
    needed = set(needed)
    if not needed:
        return {}
    days = [day for _, day in needed]
    table = RateTable.load({c for c, _ in needed} | {target}, min(days), max(days))
    factors, missing = {}, {}
    for currency, day in needed:
        factor = table.factor(currency, target, day)
        if factor is None:
            for code in (currency, target):
                if code != BASE_CURRENCY and table.rate(code, day) is None:
                    missing.setdefault(code, []).append(day)
        else:
            factors[(currency, day)] = factor
    if missing:
        raise MissingRates(missing)
    return factors
