"""Beget's values in every JSON type it sends them in, and a clear error for what cannot be."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from providers.adapters.base import ProviderResponseError
from providers.adapters.beget import values as v

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize("raw", [12, 12.0, "12", " 12 ", "12.0", Decimal("12")])
def test_integers_in_any_type(raw):
    assert v.integer(raw, "f") == 12


@pytest.mark.parametrize("raw", [11.5, "11.50", "11,50", Decimal("11.5")])
def test_money_in_any_type_is_an_exact_decimal(raw):
    assert v.decimal(raw, "f") == Decimal("11.50")


FLAGS = [(True, True), (1, True), ("1", True), ("true", True), (False, False), (0, False),
         ("0", False), ("", False), (None, False)]  # fmt: skip


@pytest.mark.parametrize(("raw", "expected"), FLAGS)
def test_flags_in_any_type(raw, expected):
    assert v.flag(raw) is expected


@pytest.mark.parametrize("raw", [0, "0", "", None, "0000-00-00", "0000-00-00 00:00:00"])
def test_beget_s_no_date_values_are_none(raw):
    assert v.date(raw, "date_expire") is None
    assert v.moment(raw, "date", MSK) is None


def test_dates_and_times_in_their_several_shapes():
    assert v.date("2026-10-24", "f") == v.date("2026-10-24 15:01:40", "f") == "2026-10-24"
    local = v.moment("2026-01-05 10:00:00", "f", MSK)
    assert local == dt.datetime(2026, 1, 5, 7, tzinfo=dt.UTC)
    assert v.moment("2026-01-05T10:00:00+03:00", "f", MSK) == local
    assert v.moment(int(local.timestamp()), "f", MSK) == local
    assert v.moment(str(int(local.timestamp())), "f", MSK) == local


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: v.integer("many", "cpu_count"), "cpu_count is not a number"),
        (lambda: v.decimal("NaN", "price_day"), "price_day is not a number"),
        (lambda: v.decimal(True, "price_day"), "price_day is not a number"),
        (lambda: v.date("24.10.2026", "date_expire"), "date_expire is not a date"),
        (lambda: v.moment("yesterday", "date_create", MSK), "date_create is not a time"),
        (lambda: v.items("oops", "site/getList"), "site/getList answered str"),
    ],
)
def test_what_cannot_be_read_is_a_provider_error_naming_the_field(call, words):
    with pytest.raises(ProviderResponseError, match=words):
        call()


def test_lists_may_come_empty_as_an_object_or_keyed_by_id():
    assert v.items(None, "x") == v.items({}, "x") == v.items("", "x") == []
    assert v.items({"1": {"id": 1}, "2": {"id": 2}}, "x") == [{"id": 1}, {"id": 2}]
    assert v.items([{"id": 1}, "junk"], "x") == [{"id": 1}]
    assert v.text(125.0) == v.text("125") == "125"
