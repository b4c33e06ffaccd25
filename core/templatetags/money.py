"""``{{ amount|money:currency }}``: an amount with its currency, formatted for the active language.

Digits follow Django's locale formats (ru: "1 234,50", en: "1,234.50"; non-breaking spaces).
The currency is placed the way each language writes it (CLDR conventions):

- ru: amount, then the symbol: ``1 234,50 ₽``, ``1 234,50 $``, ``-1 234,50 €``;
  currencies without a Russian symbol keep their code: ``1 234,50 CHF``.
- en: the symbol before the amount: ``$1,234.50``, ``€1,234.50``, ``-£5.00``; where English has
  no unambiguous symbol (RUB, KZT, CNY, ...) the ISO code comes first: ``RUB 1,234.50``.
- other languages: amount then ISO code.

Amounts are rounded half-up to the currency's minor unit (2 decimals; 0 for JPY, KRW, ...).
``None`` or text that is not a number renders as an empty string; no currency renders the number.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import translation
from django.utils.formats import number_format

register = template.Library()

NBSP = "\xa0"
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})

# Symbols each language writes in place of the ISO code (CLDR); codes absent here stay codes.
SYMBOLS = {
    "ru": {
        "RUB": "₽",
        "USD": "$",
        "EUR": "€",
        "GBP": "£",
        "JPY": "¥",
        "CNY": "CN¥",
        "KZT": "₸",
        "UAH": "₴",
        "BYN": "Br",
        "TRY": "₺",
        "INR": "₹",
    },
    "en": {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"},
}
SYMBOL_FIRST = frozenset({"en"})


def _language() -> str:
    return (translation.get_language() or "en").split("-")[0].lower()


def _to_decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def format_money(value, currency: str | None = None, *, language: str | None = None) -> str:
    """The formatted amount in ``language`` (default: the active language)."""
    if language is not None:
        with translation.override(language):
            return format_money(value, currency)
    amount = _to_decimal(value)
    if amount is None:
        return ""
    code = (currency or "").strip().upper()
    places = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
    amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # no "-0,00"
    negative = amount < 0
    digits = number_format(abs(amount), decimal_pos=places, use_l10n=True, force_grouping=True)
    sign = "-" if negative else ""
    if not code:
        return f"{sign}{digits}"
    lang = _language()
    symbol = SYMBOLS.get(lang, {}).get(code)
    if lang in SYMBOL_FIRST:
        return f"{sign}{symbol}{digits}" if symbol else f"{sign}{code}{NBSP}{digits}"
    return f"{sign}{digits}{NBSP}{symbol or code}"


@register.filter(name="money")
def money(value, currency=None) -> str:
    return format_money(value, currency)
