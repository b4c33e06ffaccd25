"""``{{ amount|money:currency }}``: an amount with its currency, formatted for the active language.

Formatting is Babel's (``babel.numbers.format_currency``, CLDR data): digit grouping, decimal
sign, the currency's symbol and where it goes, and the currency's number of decimals (2 for RUB
and USD, 0 for JPY, 3 for KWD, ...). ru: ``1 234,50 ₽``, ``-1 234,50 $``, ``12,00 CHF``; en:
``$1,234.50``, ``-£5.00``, ``¥1,235``, ``RUB 1,234.50`` (spaces are non-breaking).

Two choices are ours, not CLDR's: amounts are rounded half-up (as invoices are; Babel rounds
half-even), and a zero never shows a minus sign. CLDR's currency spacing (a letter symbol such
as ``RUB`` is kept apart from the digits) is applied here because Babel does not apply it.
``None`` or text that is not a number renders as an empty string; no currency renders the
number with two decimals.
"""

from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
)
from django import template
from django.utils import translation

register = template.Library()

NBSP = "\xa0"


def _locale() -> Locale:
    language = translation.to_locale(translation.get_language() or "en")
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _to_decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _rounded(amount: Decimal, places: int) -> Decimal:
    amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return abs(amount) if amount == 0 else amount  # no "-0,00"


def _spaced(text: str, symbol: str) -> str:
    """CLDR currency spacing: a symbol ending (or starting) with a letter or digit gets a
    non-breaking space next to the digits, so "RUB1,234.50" reads "RUB 1,234.50"."""
    if not symbol or symbol not in text:
        return text
    at = text.index(symbol)
    before, after = text[:at], text[at + len(symbol) :]
    if after[:1].isdigit() and not unicodedata.category(symbol[-1]).startswith("S"):
        after = NBSP + after
    if before[-1:].isdigit() and not unicodedata.category(symbol[0]).startswith("S"):
        before = before + NBSP
    return before + symbol + after


def format_money(value, currency: str | None = None, *, language: str | None = None) -> str:
    """The formatted amount in ``language`` (default: the active language)."""
    if language is not None:
        with translation.override(language):
            return format_money(value, currency)
    amount = _to_decimal(value)
    if amount is None:
        return ""
    locale = _locale()
    code = (currency or "").strip().upper()
    if not code:
        return format_decimal(_rounded(amount, 2), format="#,##0.00", locale=locale)
    amount = _rounded(amount, get_currency_precision(code))
    text = format_currency(amount, code, locale=locale)
    return _spaced(text, get_currency_symbol(code, locale=locale))


@register.filter(name="money")
def money(value, currency=None) -> str:
    return format_money(value, currency)
