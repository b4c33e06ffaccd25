"""Single cells: careful text converters (which say what they repaired), typed Parquet values, and
the text form text_rows() emits.

A converter returns (value, warning kind, note); note is None when the text was already in the
spec's format. Unreadable text raises CellError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from providers.focus.currencies import BILLING_CURRENCIES, ISO_4217
from providers.focus.issues import Kind
from providers.focus.spec import Column, DataType
from providers.focus.values import (
    CellError,
    check_json_object,
    format_json_object,
    parse_datetime,
    parse_decimal,
    parse_json_object,
    parse_key_value,
)

# Caches of parsed dates and JSON cells. Billing data repeats these values heavily (an hourly
# month has 744 distinct instants); the bound keeps a pathological file from growing memory, at
# worst costing a re-parse.
CACHE_LIMIT = 20_000

Converted = tuple[Any, Kind | None, str | None]  # value, warning kind, warning note


def _as_text(text: str) -> Converted:
    return text, None, None


def careful_converter(column: Column | None) -> Callable[[str], Converted]:
    if column is None or (column.type is DataType.STRING and not column.currency):
        return _as_text
    if column.currency:
        return _currency_converter(column)
    if column.type is DataType.DECIMAL:
        return _decimal
    if column.type is DataType.DATETIME:
        return _datetime_converter()
    if column.type is DataType.ENUM:
        return _choice_converter(column)
    if column.type is DataType.JSON_OBJECT:
        return _json_object
    return _key_value


def _decimal(text: str) -> Converted:
    value, note = parse_decimal(text)
    return value, Kind.NUMERIC_FORMAT, note


def _key_value(text: str) -> Converted:
    value, note = parse_key_value(text)
    return value, Kind.TAG_KEY_SPACES, note


def _json_object(text: str) -> Converted:
    value, _ = parse_json_object(text)
    return value, None, None


def _datetime_converter() -> Callable[[str], Converted]:
    seen: dict[str, Converted] = {}

    def convert(text: str) -> Converted:
        hit = seen.get(text)
        if hit is None:
            value, note = parse_datetime(text)
            if len(seen) >= CACHE_LIMIT:
                seen.clear()
            hit = seen[text] = (value, Kind.DATETIME_FORMAT, note)
        return hit

    return convert


def _choice_converter(column: Column) -> Callable[[str], Converted]:
    exact = frozenset(column.allowed)
    loose = {value.casefold(): value for value in column.allowed}
    choices = ", ".join(column.allowed) if len(column.allowed) <= 8 else "the spec's list"

    def convert(text: str) -> Converted:
        if text in exact:
            return text, None, None
        canonical = loose.get(text.strip().casefold())
        if canonical is None:
            raise CellError(Kind.INVALID_VALUE, f"not an allowed {column.name} ({choices})")
        return canonical, Kind.VALUE_CASE, f"read as {canonical!r}"

    return convert


def _currency_converter(column: Column) -> Callable[[str], Converted]:
    billing = column.name == "BillingCurrency"
    codes = BILLING_CURRENCIES if billing else ISO_4217

    def convert(text: str) -> Converted:
        if text in codes:
            return text, None, None
        upper = text.strip().upper()
        if upper in codes:
            return upper, Kind.CURRENCY_CASE, f"read as {upper!r}"
        if billing:
            raise CellError(Kind.UNKNOWN_CURRENCY, "not an ISO 4217 national currency code")
        # FOCUS 1.2 lets PricingCurrency be a virtual currency (credits, tokens).
        return text, Kind.VIRTUAL_CURRENCY, "not ISO 4217; kept as a virtual currency"

    return convert


def from_arrow(column: Column | None, value: Any) -> Converted:
    """A typed Parquet value (Decimal, int, float, datetime, date, dict, list of pairs)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(Kind.INVALID_DECIMAL, "NaN and Infinity are not FOCUS numbers")
        # Binary floats cannot hold most decimal fractions; repr() is the shortest text that
        # round-trips, which is what the producer meant.
        return Decimal(repr(value)), Kind.FLOAT_VALUE, "binary float column read via its repr"
    kind = column.type if column is not None else None
    if kind is DataType.DECIMAL:
        if isinstance(value, Decimal) or type(value) is int:
            return Decimal(value), None, None
        raise CellError(Kind.INVALID_DECIMAL, f"{type(value).__name__} is not a number")
    if kind is DataType.DATETIME:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC), Kind.DATETIME_FORMAT, "naive, read as UTC"
            return value.astimezone(UTC), None, None
        if isinstance(value, date):
            midnight = datetime(value.year, value.month, value.day, tzinfo=UTC)
            return midnight, Kind.DATETIME_FORMAT, "date without time, read as 00:00:00Z"
        raise CellError(Kind.INVALID_DATETIME, f"{type(value).__name__} is not a date/time")
    if kind is DataType.JSON:
        pairs = value.items() if isinstance(value, dict) else value  # Parquet MAP -> [(k, v)]
        try:
            obj = dict(pairs)
        except (TypeError, ValueError):
            raise CellError(Kind.INVALID_KEY_VALUE, "not a key-value object") from None
        if any(isinstance(v, dict | list) for v in obj.values()):
            raise CellError(Kind.INVALID_KEY_VALUE, "nested values are not allowed")
        return obj, None, None
    if kind is DataType.JSON_OBJECT:
        if isinstance(value, str):
            return _json_object(value)
        check_json_object(value)  # a Parquet struct: the same shape rules
        return value, None, None
    if column is None:
        return value, None, None  # custom columns keep the producer's type
    return careful_converter(column)(str(value))


def text_renderer(fields: list[str]) -> Callable[[dict[str, Any]], list[str | None]]:
    def render(row: dict[str, Any]) -> list[str | None]:
        return [_as_text_cell(row[field]) for field in fields]

    return render


def _as_text_cell(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        # isoformat, not FOCUS text: a repaired value may keep fractional seconds.
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return format_json_object(value)  # a flat object: exactly its Key-Value text
    return str(value)  # a Parquet custom column's own type
