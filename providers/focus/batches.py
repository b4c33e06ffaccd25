"""The columnar path: a CSV read in chunks of records, each parsed and vetted as whole columns.

``FocusReader.text_batches()`` reads the text after the header in chunks of about CHUNK_CHARS,
cut after the last complete record (quote parity, as csvlines.Lines bounds a record). A chunk
that is plainly clean (no NUL, no bytes that are not UTF-8, no lone CR, no line over the limit) is
parsed by pyarrow's CSV parser into string columns, and every column is vetted at once with
pyarrow.compute, applying the same acceptance rules as the fast path (fastpath._text_path): plain
numbers by one regex, dates, enums and currencies against the values the per-file caches have
accepted, Key-Value cells by their distinct values, bare NULL in text columns. Rows a column
refuses go through the row-by-row reader as before (the fast path, then the careful parser), so
their repairs, warnings and errors, with line and column, are exactly what the row reader reports.

A chunk the columnar parser cannot vouch for (a record spanning lines, a blank line, a row of the
wrong width, anything above) is read entirely by the row-by-row reader, with its true line
numbers. Either way a chunk becomes one pyarrow Table of string columns named by field, in
``FocusReader.text_fields`` order, "" for null, holding the rows that passed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from providers.focus.cells import CACHE_LIMIT
from providers.focus.fastpath import (
    FAST_PATH_MISSES,
    NULL_LITERAL,
    _cached_key_value,
    _canonical_choices,
    _learn_datetime,
    grouped,
)

if TYPE_CHECKING:
    from providers.focus.header import HeaderColumn

CHUNK_CHARS = 4 << 20  # text per chunk: about six thousand rows of a typical export
# What FOCUS Numeric Format a row may hold and still skip Decimal(): the fast path's
# _PLAIN_NUMBER, as an RE2 pattern over one cell ("" is null).
_NUMBER = r"(?:-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?"
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_LINE_END = re.compile("\r\n?|\n")  # what TextIOWrapper(newline="").readline() ends a line at


def record_cut(text: str) -> int:
    """The end of the last complete record in ``text`` (0 if none): the position after the last
    newline outside a quoted field, by quote parity (a quote opens or closes a field; "" escapes
    come in pairs)."""
    cut = text.rfind("\n")
    if cut < 0:
        return 0
    odd = bool(text.count('"', 0, cut) & 1)
    while odd:
        earlier = text.rfind("\n", 0, cut)
        if earlier < 0:
            return 0
        if text.count('"', earlier, cut) & 1:
            odd = not odd
        cut = earlier
    return cut + 1


class ColumnVetting:
    """The fast path's acceptance rules over whole columns; caches live as long as the file."""

    def __init__(self, columns: list[HeaderColumn]) -> None:
        groups = grouped(columns)
        self.text = [h.index for h in groups["text"]]
        self.decimal = [h.index for h in groups["decimal"]]
        self.numbers_pattern = f"^{_NUMBER}" + f"(?:,{_NUMBER})" * (len(self.decimal) - 1) + "$"
        self.datetime = [h.index for h in groups["datetime"]]
        self.choices = [
            (h.index, pa.array(list(_canonical_choices(h.column)), pa.string()))
            for h in groups["choice"]
        ]
        self.json = [(h.index, _cached_key_value(h.column, copy=False), {}) for h in groups["json"]]
        self.known_datetimes: dict[str, Any] = {"": None}
        self.valid_datetimes: dict[str, bool] = {"": True}

    def refused(self, table: pa.Table) -> pa.Array | None:
        """A boolean mask of the rows some column refuses, or None when every row passes."""
        masks: list[pa.Array] = []
        for index in self.text:
            column = table.column(index)
            if pc.any(pc.equal(column, NULL_LITERAL)).as_py():
                masks.append(pc.equal(column, NULL_LITERAL))
        if self.decimal:
            numbers = [table.column(index) for index in self.decimal]
            # One regex call per row over its numbers joined by commas, not one per cell; the
            # pattern wants exactly as many commas as there are columns to join, so a cell
            # holding a comma fails it.
            joined = pc.binary_join_element_wise(*numbers, ",") if len(numbers) > 1 else numbers[0]
            ok = pc.match_substring_regex(joined, self.numbers_pattern)
            if not pc.all(ok).as_py():
                masks.append(pc.invert(ok))
        for index in self.datetime:
            masks += self._by_distinct(table.column(index), self.valid_datetimes, self._datetime)
        for index, allowed in self.choices:
            ok = pc.is_in(table.column(index), value_set=allowed)
            if not pc.all(ok).as_py():
                masks.append(pc.invert(ok))
        for index, parse, verdicts in self.json:
            masks += self._by_distinct(table.column(index), verdicts, _verdict(parse))
        if not masks:
            return None
        refused = masks[0]
        for mask in masks[1:]:
            refused = pc.or_(refused, mask)
        return refused

    def _datetime(self, text: str) -> bool:
        try:
            _learn_datetime(self.known_datetimes, text)
        except FAST_PATH_MISSES:
            return False
        return True

    @staticmethod
    def _by_distinct(column, verdicts: dict[str, bool], judge: Callable[[str], bool]) -> list:
        """Judge each distinct value once (a file repeats them); a mask if any is refused."""
        bad = []
        for value in pc.unique(column).to_pylist():
            verdict = verdicts.get(value)
            if verdict is None:
                verdict = judge(value)
                if len(verdicts) >= CACHE_LIMIT:
                    verdicts.clear()
                verdicts[value] = verdict
            if not verdict:
                bad.append(value)
        if not bad:
            return []
        return [pc.is_in(column, value_set=pa.array(bad, pa.string()))]


def _verdict(parse: Callable[[str], Any]) -> Callable[[str], bool]:
    def judge(text: str) -> bool:
        try:
            parse(text)
        except FAST_PATH_MISSES:
            return False
        return True

    return judge


def clean_chunk(text: str, line_chars: int) -> bool:
    """True if the columnar parser may read ``text`` as the row reader would: no NUL, no byte
    that is not UTF-8, no lone CR (a line end to csv, but not counted as one here), and no line
    as long as the limit (the row reader refuses those)."""
    if "\0" in text:
        return False
    if not text.isascii() and _UNDECODABLE.search(text):
        return False
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return False
    return len(text) < line_chars or max(map(len, text.split("\n"))) < line_chars


def parse_chunk(text: str, width: int) -> pa.Table | None:
    """The chunk's records as ``width`` string columns (named by position), or None when the
    parser finds a record of another width or the records are not one per line."""
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != text.count("\n"):  # a blank line, or a quoted newline
        return None
    return table


def table_of_rows(rows: Iterable[list[str]], fields: list[str]) -> pa.Table:
    """Text rows (lists in ``fields`` order) as a table of string columns."""
    columns = list(zip(*rows, strict=True)) or [() for _ in fields]
    return pa.table(
        [pa.array(column, pa.string()) for column in columns],
        names=fields,
    )


def concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables)


class TextLines:
    """readline() over a str, as io.TextIOWrapper(newline="") reads lines (a line ends at
    \\n, \\r\\n or a lone \\r), without the copy io.StringIO makes (four bytes a character):
    the row reader's input when a chunk goes row by row."""

    __slots__ = ("_position", "_text")

    def __init__(self, text: str) -> None:
        self._text, self._position = text, 0

    def readline(self, limit: int = -1) -> str:
        text, start = self._text, self._position
        found = _LINE_END.search(text, start)
        end = found.end() if found else len(text)
        if 0 <= limit < end - start:
            end = start + limit
        self._position = end
        return text[start:end]
