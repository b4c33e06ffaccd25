"""The fast path: whole CSV rows whose values are already in the spec's format, converted mostly in
C. Anything else raises one of FAST_PATH_MISSES, and the reader parses that row carefully."""

from __future__ import annotations

import copy as copying
import re
from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from operator import getitem, itemgetter
from typing import Any

from providers.focus.cells import CACHE_LIMIT
from providers.focus.currencies import BILLING_CURRENCIES, ISO_4217
from providers.focus.header import HeaderColumn
from providers.focus.spec import Column, DataType
from providers.focus.values import parse_datetime, parse_json_object, parse_key_value

NULL_LITERAL = "NULL"


class Fallback(Exception):
    """The fast path met something it does not handle; parse the row carefully."""


FAST_PATH_MISSES = (Fallback, LookupError, ArithmeticError, ValueError)

GROUP_ORDER = ("text", "decimal", "datetime", "choice", "json")


def grouped(columns: list[HeaderColumn]) -> dict[str, list[HeaderColumn]]:
    """Columns by how the fast path handles them; text_rows() emits them in GROUP_ORDER."""
    groups: dict[str, list[HeaderColumn]] = {group: [] for group in GROUP_ORDER}
    for h in columns:
        column = h.column
        if column is None or (column.type is DataType.STRING and not column.currency):
            group = "text"
        elif column.currency or column.type is DataType.ENUM:
            group = "choice"
        elif column.type is DataType.JSON_OBJECT:
            group = "json"
        else:
            group = column.type.value
        groups[group].append(h)
    return groups


def fast_path(
    columns: list[HeaderColumn], *, as_text: bool = False, null: str | None = None
) -> Callable[[list[str]], Any]:
    """A row converter for values already in the spec's format, which raises on anything else.

    Cells are taken a type at a time (itemgetter) and converted with map() over lookup tables that
    also map "" to None, so most of the per-cell work runs in C. One regex over the row's joined
    numbers vets them all at once; one dict serves every date column. With as_text, every value is
    vetted the same way but the row is returned as its (canonical) cell text, in GROUP_ORDER, with
    ``null`` (None unless asked otherwise) for empty cells.
    """
    groups = grouped(columns)
    if as_text:
        return _text_path(groups, null)
    fields = [h.field for group in GROUP_ORDER for h in groups[group]]
    text_cells, decimal_cells, datetime_cells, choice_cells, json_cells = (
        _cells_getter([h.index for h in groups[group]]) for group in GROUP_ORDER
    )
    choices = tuple(_canonical_choices(h.column) for h in groups["choice"])
    json_parsers = tuple(_cached_key_value(h.column) for h in groups["json"])
    known_datetimes: dict[str, datetime | None] = {"": None}  # shared: instants recur
    empty_to_none = {"": None}.get

    def convert(cells: list[str]) -> Any:
        texts = text_cells(cells)
        if NULL_LITERAL in texts:  # in typed columns, NULL fails their own checks below
            raise Fallback
        values: list[Any] = list(map(empty_to_none, texts, texts))
        numbers = decimal_cells(cells)
        if _NUMERIC_TEXT.fullmatch("".join(numbers)) is None:
            raise Fallback
        if "" in numbers:
            values += [Decimal(text) if text else None for text in numbers]
        else:
            values += map(Decimal, numbers)
        instants = datetime_cells(cells)
        try:
            converted = list(map(known_datetimes.__getitem__, instants))
        except KeyError:
            converted = [_learn_datetime(known_datetimes, text) for text in instants]
        values += converted
        values += map(getitem, choices, choice_cells(cells))
        documents = json_cells(cells)
        values += [parse(text) for parse, text in zip(json_parsers, documents, strict=True)]
        return dict(zip(fields, values, strict=True))

    return convert


def _text_path(groups: dict[str, list[HeaderColumn]], null: str | None) -> Callable:
    """fast_path(as_text=True): the same checks, in the same order, but nothing is converted:
    a valid row's output is its own cells in GROUP_ORDER, with ``null`` for empty ones (an
    allowed value is its own canonical form)."""
    text_cells, decimal_cells, datetime_cells, choice_cells, json_cells = (
        _cells_getter([h.index for h in groups[group]]) for group in GROUP_ORDER
    )
    ordered_cells = _cells_getter([h.index for group in GROUP_ORDER for h in groups[group]])
    choices = tuple(_canonical_choices(h.column) for h in groups["choice"])
    json_parsers = tuple(_cached_key_value(h.column, copy=False) for h in groups["json"])
    known_datetimes: dict[str, datetime | None] = {"": None}  # shared: instants recur
    empty_to_null = {"": null}.get
    keep_empty = null == ""  # cells are already what the caller wants
    separators = len(groups["decimal"]) - 1

    def convert(cells: list[str]) -> list[str | None]:
        if NULL_LITERAL in text_cells(cells):  # in typed columns, NULL fails their own checks
            raise Fallback
        numbers = decimal_cells(cells)
        # One strict pattern accepts exactly the plain numbers Decimal() takes; anything else
        # (exponents, stray characters) gets the character check and Decimal() as before.
        joined = ",".join(numbers)  # a comma inside a cell shows in the count
        if joined.count(",") != separators or _PLAIN_NUMBERS.fullmatch(joined) is None:
            if _NUMERIC_TEXT.fullmatch("".join(numbers)) is None:
                raise Fallback
            deque(map(Decimal, filter(None, numbers)), maxlen=0)  # vets; keeps nothing
        instants = datetime_cells(cells)
        try:
            deque(map(known_datetimes.__getitem__, instants), maxlen=0)
        except KeyError:
            for text in instants:
                _learn_datetime(known_datetimes, text)
        deque(map(getitem, choices, choice_cells(cells)), maxlen=0)
        for parse, text in zip(json_parsers, json_cells(cells), strict=True):
            parse(text)
        row = ordered_cells(cells)
        return list(row) if keep_empty else list(map(empty_to_null, row, row))

    return convert


# Everything FOCUS Numeric Format may contain; Decimal() also takes " +1_000" or "NaN".
_NUMERIC_TEXT = re.compile(r"[0-9.eE-]*")
# Comma-joined cells, each empty or a plain number Decimal() reads: [-]digits[.[digits]] or
# [-].digits. A subset of what _NUMERIC_TEXT + Decimal() accept, checked in one C-level pass
# (possessive: nothing here needs backtracking, and it is a third faster without).
_PLAIN_NUMBER = r"-?(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)"
_PLAIN_NUMBERS = re.compile(rf"(?:{_PLAIN_NUMBER})?+(?:,(?:{_PLAIN_NUMBER})?+)*+")


def _cells_getter(indexes: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    if len(indexes) == 1:  # itemgetter with one index returns a bare item, not a tuple
        index = indexes[0]
        return lambda cells: (cells[index],)
    return itemgetter(*indexes) if indexes else lambda cells: ()


def _canonical_choices(column: Column | None) -> dict[str, str | None]:
    assert column is not None
    if column.currency:
        codes = BILLING_CURRENCIES if column.name == "BillingCurrency" else ISO_4217
        return {"": None, **{code: code for code in codes}}
    return {"": None, **{value: value for value in column.allowed}}


def _learn_datetime(known: dict[str, datetime | None], text: str) -> datetime | None:
    if text in known:
        return known[text]
    value, note = parse_datetime(text)
    if note is not None:
        raise Fallback
    if len(known) >= CACHE_LIMIT:
        known.clear()
        known[""] = None
    known[text] = value
    return value


def _cached_key_value(column: Column | None, *, copy: bool = True) -> Callable[[str], dict | None]:
    """A Key-Value (or, for a 1.3 JSON Object column, JSON Object) parser with a per-file cache;
    without copy, the cached dict itself is returned (for callers that only vet the text)."""
    seen: dict[str, dict] = {}
    nested = column is not None and column.type is DataType.JSON_OBJECT
    parse_cell = parse_json_object if nested else parse_key_value
    copy_of = copying.deepcopy if nested else dict

    def parse(text: str) -> dict | None:
        if not text:
            return None
        obj = seen.get(text)
        if obj is None:
            obj, note = parse_cell(text)
            if note is not None:
                raise Fallback
            if len(seen) >= CACHE_LIMIT:
                seen.clear()
            seen[text] = obj
        return copy_of(obj) if copy else obj  # a copy: callers may change their row

    return parse
