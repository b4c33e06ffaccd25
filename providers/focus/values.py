"""Single FOCUS values: parse the formats found in the wild, write the one the spec allows.

Parsers return (value, note): note is None when the text was already in the spec's format, or says
what had to be forgiven. Values that cannot be read raise CellError. Money never passes through
float: numbers become Decimal straight from their text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from providers.focus.issues import Kind

# Everything FOCUS Numeric Format may contain. Decimal() also accepts "+1", " 1", "1_000", "NaN"
# and non-ASCII digits, so its success alone does not prove the text conforms.
NUMERIC_CHARS = "0123456789.-eE"


class CellError(ValueError):
    def __init__(self, kind: Kind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def parse_decimal(text: str) -> tuple[Decimal, str | None]:
    stripped = text.strip()
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise CellError(Kind.INVALID_DECIMAL, "not a number") from None
    if not value.is_finite():
        raise CellError(Kind.INVALID_DECIMAL, "NaN and Infinity are not FOCUS numbers")
    if "_" in stripped or not stripped.isascii():
        # "1_000" could be a thousands separator in a foreign locale: refuse to guess.
        raise CellError(Kind.INVALID_DECIMAL, "digit separators or non-ASCII digits")
    if len(stripped) != len(text) or stripped.strip(NUMERIC_CHARS):
        return value, "leading '+', '+' exponent or surrounding spaces"
    return value, None


def is_canonical_datetime(text: str) -> bool:
    """Shape check for YYYY-MM-DDTHH:mm:ssZ (the digits are checked by parsing)."""
    return (
        len(text) == 20
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and text[19] == "Z"
    )


def parse_datetime(text: str) -> tuple[datetime, str | None]:
    """Aware UTC datetime. Naive values are read as UTC (FOCUS data is UTC by definition)."""
    canonical = is_canonical_datetime(text)
    try:
        value = datetime.fromisoformat(text if canonical else text.strip())
    except ValueError:
        raise CellError(Kind.INVALID_DATETIME, "not an ISO 8601 date/time") from None
    if canonical:
        return value, None
    notes = ["space instead of 'T'"] if text[10:11] == " " else []
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
        notes.append("no Z/offset, read as UTC")
    elif value.utcoffset():
        value = value.astimezone(UTC)
        notes.append("offset converted to UTC")
    if value.microsecond:
        notes.append("fractional seconds kept")
    return value, "; ".join(notes) or "not written as YYYY-MM-DDTHH:mm:ssZ"


def _reject_constant(name: str) -> None:
    raise CellError(Kind.INVALID_KEY_VALUE, f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise CellError(Kind.INVALID_KEY_VALUE, "duplicate keys")
    return obj


def parse_key_value(text: str) -> tuple[dict[str, object], str | None]:
    """A FOCUS Key-Value Format cell (Tags, SkuPriceDetails): a flat JSON object."""
    try:
        obj = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except CellError:
        raise
    except ValueError as exc:
        raise CellError(Kind.INVALID_KEY_VALUE, f"not JSON ({exc})") from None
    if type(obj) is not dict:
        raise CellError(Kind.INVALID_KEY_VALUE, "not a JSON object")
    for key, value in obj.items():
        if isinstance(value, dict | list):
            raise CellError(Kind.INVALID_KEY_VALUE, f"value of {key!r} is not a scalar")
    # FOCUS forbids altering tag values, and keys are part of the tag: keep them, but say so.
    if any(key != key.strip() for key in obj):
        return obj, "keys with leading or trailing spaces kept as written"
    return obj, None


ELEMENTS = "Elements"


def parse_json_object(text: str) -> tuple[dict[str, object], str | None]:
    """A FOCUS 1.3 JSON Object Format cell (AllocatedMethodDetails, ContractApplied): a JSON
    object whose ``Elements`` is an array of Key-Value objects (flat, unique keys)."""
    try:
        obj = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except CellError as exc:
        raise CellError(Kind.INVALID_JSON_OBJECT, exc.reason) from None
    except ValueError as exc:
        raise CellError(Kind.INVALID_JSON_OBJECT, f"not JSON ({exc})") from None
    check_json_object(obj)
    return obj, None


def check_json_object(obj: object) -> None:
    if type(obj) is not dict:
        raise CellError(Kind.INVALID_JSON_OBJECT, "not a JSON object")
    elements = obj.get(ELEMENTS)
    if type(elements) is not list or not elements:
        raise CellError(Kind.INVALID_JSON_OBJECT, f"{ELEMENTS} is not a non-empty array")
    for n, element in enumerate(elements):
        if type(element) is not dict:
            raise CellError(Kind.INVALID_JSON_OBJECT, f"{ELEMENTS}[{n}] is not an object")
        for key, value in element.items():
            if isinstance(value, dict | list):
                reason = f"{ELEMENTS}[{n}].{key} is not a scalar"
                raise CellError(Kind.INVALID_JSON_OBJECT, reason)


def format_decimal(value: Decimal | int) -> str:
    """Plain notation; integers get '.0' because validators type '24' as an integer column."""
    if type(value) is int:
        return f"{value}.0"
    if not isinstance(value, Decimal):
        raise TypeError(f"FOCUS numbers must be Decimal or int, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{value} is not a FOCUS number")
    text = format(value, "f")
    return text if "." in text else text + ".0"


def format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: FOCUS date/times must be UTC-aware")
    if value.microsecond:
        # The format has whole seconds; truncating would silently move a period boundary.
        raise ValueError(f"{value.isoformat()} has fractional seconds")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_scalar(value: object) -> str:
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if type(value) is int:
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        return format(value, "f")
    raise TypeError(f"Key-Value values must be scalars, not {type(value).__name__}")


def format_json_object(value: Mapping[str, object]) -> str:
    """Compact JSON, nested objects and arrays allowed; a flat object is written exactly as
    format_key_value writes it."""
    items = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError("JSON object keys must be strings")
        items.append(f"{json.dumps(key, ensure_ascii=False)}:{_json_value(item)}")
    return "{" + ",".join(items) + "}"


def _json_value(value: object) -> str:
    if isinstance(value, Mapping):
        return format_json_object(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_value(item) for item in value) + "]"
    return _json_scalar(value)


def format_key_value(value: Mapping[str, object]) -> str:
    """Compact JSON object, keys in their original order, Decimals as exact JSON numbers."""
    items = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError("Key-Value keys must be strings")
        items.append(f"{json.dumps(key, ensure_ascii=False)}:{_json_scalar(item)}")
    return "{" + ",".join(items) + "}"
