"""VAT rates by provider, currency and date, from VatRule rows (loaded once per import)."""

from __future__ import annotations

import bisect
import datetime as dt
from decimal import Decimal

VAT_PLACES = Decimal("0.000000000001")  # 12 places: exact enough for any later rounding


class VatResolver:
    def __init__(self, rules) -> None:
        # (provider, currency or "") -> sorted [(valid_from ISO date, rate, included)]
        self._rules: dict[tuple[str, str], list[tuple[str, Decimal, bool]]] = {}
        for rule in rules:
            key = (rule.provider_name, rule.currency)
            self._rules.setdefault(key, []).append(
                (rule.valid_from.isoformat(), rule.rate, rule.included_in_price)
            )
        for entries in self._rules.values():
            entries.sort()
        self._starts = {key: [e[0] for e in entries] for key, entries in self._rules.items()}

    @classmethod
    def load(cls) -> VatResolver:
        from providers.models import VatRule

        return cls(VatRule.objects.all())

    def __bool__(self) -> bool:
        return bool(self._rules)

    def rule_for(self, provider: str | None, currency: str, day_iso: str):
        """(rate, included) in force on ``day_iso`` (YYYY-MM-DD…), or None."""
        for key in ((provider or "", currency), (provider or "", "")):
            starts = self._starts.get(key)
            if starts:
                index = bisect.bisect_right(starts, day_iso[:10]) - 1
                if index >= 0:
                    _, rate, included = self._rules[key][index]
                    return rate, included
        return None

    def vat_amount(self, billed: Decimal, rate: Decimal, included: bool) -> Decimal:
        amount = billed * rate / (1 + rate) if included else billed * rate
        return amount.quantize(VAT_PLACES)


def day_iso(value: dt.datetime | str) -> str:
    return value if isinstance(value, str) else value.astimezone(dt.UTC).date().isoformat()
