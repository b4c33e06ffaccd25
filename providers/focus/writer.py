"""Streaming FOCUS writers (CSV, CSV.gz, Parquet) for normalised rows: 1.2 unless asked for 1.3.

Rows are the reader's dicts (snake_case keys). Output is strict: date/times as
YYYY-MM-DDTHH:mm:ssZ, numbers in plain notation with a decimal point, Key-Value columns as compact
JSON, nulls as empty unquoted fields, FOCUS columns in spec order and custom x_ columns last.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from core.csv_safety import escape_formula
from providers.focus import spec
from providers.focus.spec import DataType
from providers.focus.values import (
    format_datetime,
    format_decimal,
    format_json_object,
    format_key_value,
)

PARQUET_BATCH_ROWS = 10_000
DEFAULT_VERSION = "1.2"  # what most consumers (and focus-validator 2.2.1) read
# Parquet decimal type for every FOCUS number: 20 integer and 18 fractional digits. pyarrow refuses
# (rather than rounds) a value with more fractional digits, so precision is never lost silently.
PARQUET_DECIMAL_PRECISION, PARQUET_DECIMAL_SCALE = 38, 18
_CACHE_LIMIT = 20_000  # per column; bounds memory on exports with few repeated values

Target = str | os.PathLike[str] | IO[str]
Extensions = Mapping[str, str] | Sequence[str]


def choose_columns(
    first_row: Mapping[str, Any] | None,
    columns: Sequence[str] | None = None,
    extensions: Extensions | None = None,
    version: str = DEFAULT_VERSION,
) -> tuple[list[spec.Column], dict[str, str]]:
    """FOCUS columns and custom columns (field -> header) to write.

    `columns` are row keys (FOCUS fields, and x_ fields for custom columns); by default, the keys of
    the first row. The columns `version` requires are always written, FOCUS columns of that version
    in spec order, custom ones after them. `extensions` maps x_ fields to header names when they
    should not be derived.
    """
    wanted = list(columns if columns is not None else (first_row or {}))
    known = spec.columns_for(version)
    names = {c.field for c in known}
    unknown = {f for f in wanted if f not in names and not f.startswith("x_")}
    if columns is not None and unknown:
        raise ValueError(f"not FOCUS {version} fields: {sorted(unknown)}")
    focus = [c for c in known if c.required_in(version) or c.field in wanted]
    if extensions is None:
        extensions = [f for f in wanted if f.startswith("x_")]
    if not isinstance(extensions, Mapping):
        extensions = {f: spec.extension_column(f) for f in extensions}
    for header in extensions.values():
        if not header.startswith("x_"):
            raise ValueError(f"custom column {header!r} must start with x_")
    return focus, dict(extensions)


class FocusCsvWriter:
    """Write rows to a text stream opened with newline=''; columns as choose_columns() gives."""

    def __init__(
        self,
        stream: IO[str],
        columns: Sequence[spec.Column],
        extensions: Mapping[str, str] | None = None,
        *,
        escape_formulas: bool = False,
    ) -> None:
        self._csv = csv.writer(stream, lineterminator="\n")
        extensions = extensions or {}
        self.header = [c.name for c in columns] + list(extensions.values())
        self._cells = [(c.field, _formatter(c.type)) for c in columns] + [
            (field, _format_custom) for field in extensions
        ]
        if escape_formulas:  # for people's spreadsheets; tools need exact values (the default)
            self._cells = [(f, _escaped(fmt)) for f, fmt in self._cells]
        self.rows_written = 0

    def write_header(self) -> None:
        self._csv.writerow(self.header)

    def write_row(self, row: Mapping[str, Any]) -> None:
        get = row.get
        self._csv.writerow(
            [None if (value := get(field)) is None else fmt(value) for field, fmt in self._cells]
        )
        self.rows_written += 1

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> int:
        for row in rows:
            self.write_row(row)
        return self.rows_written


def _escaped(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: escape_formula(fmt(value))


def write_focus_csv(
    target: Target,
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    extensions: Extensions | None = None,
    compress: bool | None = None,
    version: str = DEFAULT_VERSION,
) -> int:
    """Write a FOCUS CSV (gzip when compress is true or the path ends in .gz). Returns rows."""
    first, rows = _peek(rows)
    focus, custom = choose_columns(first, columns, extensions, version)
    with _open_text(target, compress) as stream:
        writer = FocusCsvWriter(stream, focus, custom)
        writer.write_header()
        return writer.write_rows(rows)


def write_focus_parquet(
    target: str | os.PathLike[str] | IO[bytes],
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    extensions: Extensions | None = None,
    batch_rows: int = PARQUET_BATCH_ROWS,
    version: str = DEFAULT_VERSION,
) -> int:
    """Write FOCUS Parquet: decimal128 numbers, UTC timestamps, JSON text for JSON columns."""
    import pyarrow as pa  # optional dependency: only Parquet output needs it
    import pyarrow.parquet as pq

    first, rows = _peek(rows)
    focus, custom = choose_columns(first, columns, extensions, version)
    arrow_types = {
        DataType.DECIMAL: pa.decimal128(PARQUET_DECIMAL_PRECISION, PARQUET_DECIMAL_SCALE),
        DataType.DATETIME: pa.timestamp("s", tz="UTC"),
    }
    schema = pa.schema(
        [pa.field(c.name, arrow_types.get(c.type, pa.string())) for c in focus]
        + [pa.field(header, pa.string()) for header in custom.values()]
    )
    cells: list[tuple[str, Callable[[Any], Any]]] = [
        (c.field, _parquet_cell(c.type)) for c in focus
    ] + [(field, _format_custom) for field in custom]
    written = 0
    with pq.ParquetWriter(target, schema) as parquet:
        for batch in _batched(rows, batch_rows):
            data = [
                [None if (v := row.get(field)) is None else fmt(v) for row in batch]
                for field, fmt in cells
            ]
            parquet.write_batch(pa.record_batch(data, schema=schema))
            written += len(batch)
    return written


# -- formatting -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _cached_datetime_formatter() -> Callable[[datetime], str]:
    # strftime is the slowest call per row, and a billing month has few distinct instants.
    seen: dict[datetime, str] = {}

    def fmt(value: datetime) -> str:
        text = seen.get(value)
        if text is None:
            text = format_datetime(value)
            if len(seen) >= _CACHE_LIMIT:
                seen.clear()
            seen[value] = text
        return text

    return fmt


def _cached_key_value_formatter() -> Callable[[Mapping[str, Any]], str]:
    # Tags repeat across a resource's hourly rows, and json.dumps per key is slow. Only all-string
    # objects are cached: 1, True and Decimal("1.0") compare equal but are written differently.
    seen: dict[tuple, str] = {}

    def fmt(value: Mapping[str, Any]) -> str:
        try:
            items = tuple(value.items())
            text = seen.get(items)
        except TypeError:  # an unhashable, so invalid, value: format_key_value says why
            return format_key_value(value)
        if text is None:
            text = format_key_value(value)
            if all(type(item) is str for _, item in items):
                if len(seen) >= _CACHE_LIMIT:
                    seen.clear()
                seen[items] = text
        return text

    return fmt


def _formatter(kind: DataType) -> Callable[[Any], str]:
    if kind is DataType.DECIMAL:
        return format_decimal
    if kind is DataType.DATETIME:
        return _cached_datetime_formatter()
    if kind is DataType.JSON:
        return _cached_key_value_formatter()
    if kind is DataType.JSON_OBJECT:
        return format_json_object
    return _text


def _parquet_cell(kind: DataType) -> Callable[[Any], Any]:
    if kind is DataType.DECIMAL:
        return _decimal_for_arrow
    if kind is DataType.DATETIME:
        return _datetime_for_arrow
    if kind is DataType.JSON:
        return format_key_value
    if kind is DataType.JSON_OBJECT:
        return format_json_object
    return _text


def _decimal_for_arrow(value: Any) -> Decimal:
    format_decimal(value)  # same type and finiteness rules as the CSV
    return Decimal(value)


def _datetime_for_arrow(value: datetime) -> datetime:
    format_datetime(value)  # same awareness and whole-second rules as the CSV
    return value


def _format_custom(value: Any) -> str:
    """Custom columns carry whatever the source had; write each type the way FOCUS would."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is int:
        return str(value)  # an identifier or counter, not a FOCUS metric
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Mapping):
        return format_key_value(value)
    return _text(value)


# -- plumbing -------------------------------------------------------------------------------------


def _peek(rows: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any] | None, Iterator]:
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return None, iterator
    return first, itertools.chain([first], iterator)


def _batched(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


@contextlib.contextmanager
def _open_text(target: Target, compress: bool | None) -> Iterator[IO[str]]:
    """A text stream for a path (gzip by flag or .gz suffix), or the caller's stream, left open."""
    if isinstance(target, str | os.PathLike):
        gz = compress if compress is not None else os.fspath(target).endswith(".gz")
        opener = gzip.open if gz else open
        with opener(target, "wt", encoding="utf-8", newline="") as stream:
            yield stream
    elif compress:
        raise ValueError("pass a path, or wrap the stream in gzip yourself, to compress")
    else:
        yield target


__all__ = [
    "FocusCsvWriter",
    "choose_columns",
    "write_focus_csv",
    "write_focus_parquet",
]
