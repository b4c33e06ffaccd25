"""The fast path: whole CSV rows whose values are already in the spec's format, converted mostly in
C. Anything else raises one of FAST_PATH_MISSES, and the reader parses that row carefully."""

from __future__ import annotations

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
from providers.focus.values import parse_datetime, parse_key_value

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
        else:
            group = column.type.value
        groups[group].append(h)
    return groups


def fast_path(columns: list[HeaderColumn], *, as_text: bool = False) -> Callable[[list[str]], Any]:
    """A row converter for values already in the spec's format, which raises on anything else.

    Cells are taken a type at a time (itemgetter) and converted with map() over lookup tables that
    also map "" to None, so most of the per-cell work runs in C. One regex over the row's joined
    numbers vets them all at once; one dict serves every date column. With as_text, every value is
    vetted the same way but the row is returned as its (canonical) cell text, in GROUP_ORDER.
    """
    groups = grouped(columns)
    fields = [h.field for group in GROUP_ORDER for h in groups[group]]
    text_cells, decimal_cells, datetime_cells, choice_cells, json_cells = (
        _cells_getter([h.index for h in groups[group]]) for group in GROUP_ORDER
    )
    choices = tuple(_canonical_choices(h.column) for h in groups["choice"])
    json_parsers = tuple(_cached_key_value() for _ in groups["json"])
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
        if as_text:
            deque(map(Decimal, filter(None, numbers)), maxlen=0)  # vets; keeps nothing
            values += map(empty_to_none, numbers, numbers)
        elif "" in numbers:
            values += [Decimal(text) if text else None for text in numbers]
        else:
            values += map(Decimal, numbers)
        instants = datetime_cells(cells)
        try:
            converted = list(map(known_datetimes.__getitem__, instants))
        except KeyError:
            converted = [_learn_datetime(known_datetimes, text) for text in instants]
        values += map(empty_to_none, instants, instants) if as_text else converted
        values += map(getitem, choices, choice_cells(cells))
        documents = json_cells(cells)
        parsed = [parse(text) for parse, text in zip(json_parsers, documents, strict=True)]
        if as_text:
            values += map(empty_to_none, documents, documents)
            return values
        values += parsed
        return dict(zip(fields, values, strict=True))

    return convert


# Everything FOCUS Numeric Format may contain; Decimal() also takes " +1_000" or "NaN".
_NUMERIC_TEXT = re.compile(r"[0-9.eE-]*")


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


def _cached_key_value() -> Callable[[str], dict | None]:
    seen: dict[str, dict] = {}

    def parse(text: str) -> dict | None:
        if not text:
            return None
        obj = seen.get(text)
        if obj is None:
            obj, note = parse_key_value(text)
            if note is not None:
                raise Fallback
            if len(seen) >= CACHE_LIMIT:
                seen.clear()
            seen[text] = obj
        return dict(obj)  # a copy: callers may change their row

    return parse
