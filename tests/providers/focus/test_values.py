from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from providers.focus.issues import Kind
from providers.focus.values import (
    CellError,
    format_datetime,
    format_decimal,
    format_key_value,
    parse_datetime,
    parse_decimal,
    parse_key_value,
)


@pytest.mark.parametrize(
    ("text", "value", "noted"),
    [
        ("0.00000080000", Decimal("0.00000080000"), False),
        ("-3", Decimal("-3"), False),
        ("35.2E-7", Decimal("35.2E-7"), False),
        ("+5", Decimal("5"), True),
        ("1E+3", Decimal("1000"), True),
        (" 12.5 ", Decimal("12.5"), True),
    ],
)
def test_parse_decimal_is_exact_and_notes_non_canonical_text(text, value, noted):
    parsed, note = parse_decimal(text)
    assert parsed == value and isinstance(parsed, Decimal)
    assert (note is not None) == noted


@pytest.mark.parametrize("text", ["12,5", "NaN", "Infinity", "1_000", "$5", "", "1.2.3"])
def test_parse_decimal_refuses_what_is_not_a_focus_number(text):
    with pytest.raises(CellError) as caught:
        parse_decimal(text)
    assert caught.value.kind == Kind.INVALID_DECIMAL


def test_parse_datetime_canonical_has_no_note_and_is_utc():
    value, note = parse_datetime("2024-09-01T00:00:00Z")
    assert value == datetime(2024, 9, 1, tzinfo=UTC) and value.utcoffset() == timedelta(0)
    assert note is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-09-01 00:00:00", datetime(2024, 9, 1, tzinfo=UTC)),
        ("2024-09-01T03:00:00+03:00", datetime(2024, 9, 1, tzinfo=UTC)),
        ("2024-09-01", datetime(2024, 9, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime_repairs_and_says_so(text, expected):
    value, note = parse_datetime(text)
    assert value == expected and value.tzinfo is not None
    assert note


@pytest.mark.parametrize("text", ["2024-13-01T00:00:00Z", "01/09/2024", "yesterday"])
def test_parse_datetime_refuses_garbage(text):
    with pytest.raises(CellError) as caught:
        parse_datetime(text)
    assert caught.value.kind == Kind.INVALID_DATETIME


def test_key_value_keeps_decimals_exact_and_keys_as_written():
    value, note = parse_key_value('{" org": "a", "org": "b", "cores": 2, "price": 0.1}')
    assert value == {" org": "a", "org": "b", "cores": 2, "price": Decimal("0.1")}
    assert note  # the leading space is reported, not removed


@pytest.mark.parametrize(
    "text", ['["a"]', '{"a": {"b": 1}}', '{"a": 1, "a": 2}', "{not json}", '{"a": NaN}']
)
def test_key_value_refuses_non_objects_nesting_and_duplicates(text):
    with pytest.raises(CellError) as caught:
        parse_key_value(text)
    assert caught.value.kind == Kind.INVALID_KEY_VALUE


def test_formatters_write_the_strict_forms():
    assert format_decimal(Decimal("1E-7")) == "0.0000001"
    assert format_decimal(Decimal("24")) == "24.0"
    assert format_decimal(Decimal("0E-11")) == "0.00000000000"
    plus_three = timezone(timedelta(hours=3))
    assert format_datetime(datetime(2026, 1, 1, 3, tzinfo=plus_three)) == "2026-01-01T00:00:00Z"
    assert format_key_value({"env": "prod", "n": 2, "p": Decimal("0.10"), "ok": True}) == (
        '{"env":"prod","n":2,"p":0.10,"ok":true}'
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: format_decimal(0.1), TypeError),
        (lambda: format_decimal(Decimal("NaN")), ValueError),
        (lambda: format_datetime(datetime(2026, 1, 1)), ValueError),  # naive
        (lambda: format_datetime(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)), ValueError),
        (lambda: format_key_value({"a": [1]}), TypeError),
        (lambda: format_key_value({"a": 0.5}), TypeError),
    ],
)
def test_formatters_refuse_lossy_input(call, error):
    with pytest.raises(error):
        call()
