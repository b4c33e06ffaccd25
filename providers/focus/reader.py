"""Streaming FOCUS reader: CSV, CSV.gz or Parquet in, normalised rows out.

Each row is a dict keyed by snake_case column name (spec.field_name) holding Decimal numbers, aware
UTC datetimes, dicts for Key-Value columns and allowed values in the spec's casing; custom columns
keep their text under an x_ key. Deviations we can repair are repaired and counted in `warnings`;
rows we cannot read are left out and described in `errors`, so the caller decides by policy whether
to load the rest or reject the file.

Speed: a CSV row first goes through a fast path that only accepts values already in the spec's
format (a handful of C-level calls per cell, per-file caches for dates and JSON). Anything unusual
falls back to the careful path, which parses the row again cell by cell and records what it found.
Clean exports pay for the fast path only; quirky files pay roughly twice.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from providers.focus import limits as input_limits
from providers.focus import spec
from providers.focus.cells import careful_converter, from_arrow, text_renderer
from providers.focus.csvlines import BadLine, Lines, quoted_fields
from providers.focus.fastpath import (
    FAST_PATH_MISSES,
    GROUP_ORDER,
    NULL_LITERAL,
    Fallback,
    fast_path,
    grouped,
)
from providers.focus.header import HEADER_ERRORS, HeaderColumn, plan_header
from providers.focus.issues import DEFAULT_MAX_EXAMPLES, IssueLog, Kind
from providers.focus.spec import DataType
from providers.focus.values import CellError

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_BATCH_ROWS = 8192
READ_STEP = 1 << 16  # characters per read of the columnar reader

Source = str | os.PathLike[str] | IO[bytes]


class FocusReader:
    """Iterate over a FOCUS 1.0-1.2 file as normalised rows.

    with FocusReader(path) as reader:
        for row in reader:           # reader.line is the row's line number
            ...
        reader.errors, reader.warnings, reader.summary()

    The header is read on construction, so reader.columns, reader.version and header errors are
    known before the first row.
    """

    def __init__(
        self,
        source: Source,
        *,
        max_examples: int = DEFAULT_MAX_EXAMPLES,
        file_format: str | None = None,
        inspect_quoting: bool = False,
        limits: input_limits.InputLimits | None = None,
    ) -> None:
        """inspect_quoting: also report CSV quoting the csv module hides ("" for null, quoted
        numbers). It keeps each record's raw text, so it costs speed; the checker turns it on.
        limits: bounds on lines, inflation and Parquet sizes (default: the settings'); a file
        crossing one raises input_limits.LimitExceeded, here or while rows are read."""
        self.warnings = IssueLog(max_examples)
        self.errors = IssueLog(max_examples)
        self.rows_read = 0
        self.rows_rejected = 0
        self.careful_rows = 0  # rows the fast path handed to the careful parser
        self.line = 0
        self.columns: list[HeaderColumn] = []
        self._readable = self._readable_header = False
        self._text: io.TextIOWrapper | None = None
        self._lines: Lines | None = None
        self._inspect_quoting = inspect_quoting
        self._limits = limits or input_limits.current()
        self._binary, self._owns_binary = _open_binary(source)
        try:
            # "csv", "gzip", "parquet" or "zip"
            self.file_format = file_format or _sniff(self._binary)
            if self.file_format == "parquet":
                self._open_parquet()
            elif self.file_format == "zip":
                # Not inflated at all: an archive is no FOCUS file, and a classic bomb.
                reason = "a ZIP archive: upload the CSV, CSV.gz or Parquet file itself"
                self.errors.add(Kind.NOT_FOCUS, 1, None, None, reason)
            else:
                self._open_csv()
        except BaseException:
            self.close()
            raise
        self.version = spec.detect_version([h.column for h in self.columns if h.column])

    # -- public API -------------------------------------------------------------------------------

    @property
    def header_ok(self) -> bool:
        """False when rows cannot be loaded as they are: a mandatory column is missing, a column
        is duplicated, or the file is not FOCUS at all. Rows of a FOCUS file are still yielded,
        so that a check can report on them; a loader should stop here."""
        return self._readable_header and not any(self.errors.count(kind) for kind in HEADER_ERRORS)

    @property
    def fields(self) -> list[str]:
        return [h.field for h in self.columns]

    @property
    def extensions(self) -> dict[str, str]:
        """Custom columns: row key -> the x_ name to write them under."""
        return {h.field: h.output_name for h in self.columns if h.column is None}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._rows(as_text=False)

    @property
    def text_fields(self) -> list[str]:
        """The order of the cells in text_rows()."""
        groups = grouped(self.columns)
        return [h.field for group in GROUP_ORDER for h in groups[group]]

    def text_rows(self, *, null: str | None = None) -> Iterator[list[str | None]]:
        """The same rows, vetted the same way, as lists of cell text in text_fields order: FOCUS
        text (repaired rows re-rendered canonically), ``null`` (None by default) for null. For
        PostgreSQL COPY, which would only turn Decimal and datetime objects back into text; about
        twice as cheap. ``null=""`` hands valid CSV cells on as they are (the reader reads every
        empty value as null, so no cell is ever an empty string): no pass over the cells here,
        nor in a COPY writer that takes "" for NULL."""
        return self._rows(as_text=True, null=null)

    def _rows(self, *, as_text: bool, null: str | None = None) -> Iterator[Any]:
        if not self._readable:
            return iter(())
        self._readable = False  # one pass: the source is a stream
        if self.file_format == "parquet":
            return self._iter_parquet(as_text, null)
        return self._iter_csv(as_text, null)

    def summary(self) -> dict[str, Any]:
        return {
            "format": self.file_format,
            "version": self.version,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "rows_ok": self.rows_read - self.rows_rejected,
            "careful_rows": self.careful_rows,
            "warnings": {str(kind): n for kind, n in self.warnings.counts.items()},
            "errors": {str(kind): n for kind, n in self.errors.counts.items()},
        }

    def close(self) -> None:
        if self._text is not None and not self._owns_binary:
            self._text.detach()  # closing the wrapper would close the caller's stream
        elif self._text is not None:
            self._text.close()
        if self._owns_binary:
            self._binary.close()

    def __enter__(self) -> FocusReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- header -----------------------------------------------------------------------------------

    def _use_header(self, names: Sequence[str]) -> None:
        self.columns = plan_header(names, self.warnings, self.errors)
        self._readable = self._readable_header = bool(self.columns)

    # -- CSV --------------------------------------------------------------------------------------

    def _open_csv(self) -> None:
        binary: IO[bytes] = self._binary
        if self.file_format == "gzip":
            binary = input_limits.open_inflated(binary, self._limits)
        # surrogateescape: a bad byte costs only its own line (see csvlines.Lines), not a buffer.
        self._text = io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self._lines = Lines(self._text, keep=self._inspect_quoting, limits=self._limits)
        self._csv = csv.reader(self._lines)
        try:
            names = next(self._csv)
            self._lines.take()
        except StopIteration:
            self.errors.add(Kind.NOT_FOCUS, 1, None, None, "empty file")
            return
        except (csv.Error, BadLine, EOFError, OSError) as exc:
            self.errors.add(Kind.UNREADABLE_FILE, 1, None, None, f"header unreadable: {exc}")
            return
        self._use_header(names)
        self._width = len(names)
        self._careful = [(h, careful_converter(h.column)) for h in self.columns]

    def _iter_csv(self, as_text: bool, null: str | None = None) -> Iterator[Any]:
        assert self._lines is not None
        fast, text_of = self._row_converters(as_text, null)
        return self._csv_records(self._csv, self._lines, fast, text_of)

    def _row_converters(self, as_text: bool, null: str | None):
        # With a duplicate column dropped, fields no longer line up with cells one to one.
        aligned = len(self.columns) == self._width
        fast = fast_path(self.columns, as_text=as_text, null=null) if aligned else None
        text_of = _text_renderer(self.text_fields, null) if as_text else None
        return fast, text_of

    def _csv_records(self, rows, lines: Lines, fast, text_of) -> Iterator[Any]:
        expected = self._width
        inspect = self._inspect_quoting
        previous_end = lines.count
        try:
            while True:
                try:
                    for cells in rows:
                        start, previous_end = previous_end + 1, lines.count
                        if inspect:
                            self._inspect_record(start, lines.take(), cells)
                        if len(cells) != expected:
                            if cells:  # a blank line is not a record
                                self.rows_read += 1
                                self.rows_rejected += 1
                                self._wrong_width(start, cells, expected)
                            continue
                        self.rows_read += 1
                        row = self._vetted_row(start, cells, fast, text_of)
                        if row is None:
                            continue
                        self.line = start
                        yield row
                    return
                except (csv.Error, BadLine) as exc:  # csv.reader resumes at the next line
                    self.rows_read += 1
                    self.rows_rejected += 1
                    kind = exc.kind if isinstance(exc, BadLine) else Kind.MALFORMED_CSV
                    self.errors.add(kind, lines.count, None, None, str(exc))
                    previous_end = lines.count
                    lines.take()
        except (EOFError, OSError) as exc:  # a truncated or corrupt gzip stream
            self.errors.add(
                Kind.UNREADABLE_FILE, previous_end + 1, None, None, f"file unreadable: {exc}"
            )

    def _vetted_row(self, line: int, cells: Sequence[str], fast, text_of) -> Any:
        """One record of the right width through the fast path, else the careful parser;
        None (and counted) if it is rejected."""
        try:
            if fast is None:
                raise Fallback
            return fast(cells)
        except FAST_PATH_MISSES:
            self.careful_rows += 1
            row = self._careful_row(line, cells)
            if row is None:
                self.rows_rejected += 1
                return None
            return row if text_of is None else text_of(row)

    # -- CSV in columns ---------------------------------------------------------------------------

    def text_batches(self) -> Iterator[pa.Table]:
        """The rows of text_rows(null="") as pyarrow Tables of string columns named by
        text_fields ("" for null), vetted column by column (see providers.focus.batches): the
        same rows, repairs, warnings and errors, at a fraction of the cost per row. Parquet
        files are read as text_rows() and grouped into tables."""
        if not self._readable:
            return iter(())
        if self.file_format == "parquet":
            return self._grouped_rows(self.text_rows(null=""))
        self._readable = False
        return self._iter_csv_batches()

    def _grouped_rows(self, rows: Iterator[list[str | None]]) -> Iterator[pa.Table]:
        from providers.focus.batches import table_of_rows

        fields = self.text_fields
        while chunk := list(itertools.islice(rows, PARQUET_BATCH_ROWS)):
            yield table_of_rows(chunk, fields)

    def _iter_csv_batches(self) -> Iterator[pa.Table]:
        from providers.focus import batches

        assert self._lines is not None
        assert self._text is not None
        fields, width = self.text_fields, self._width
        fast, text_of = self._row_converters(True, "")
        aligned = fast is not None
        vetting = batches.ColumnVetting(self.columns) if aligned else None
        by_index = {h.field: h.index for h in self.columns}
        order = [by_index[field] for field in fields]
        line_chars = self._limits.line_chars
        first_line = self._lines.count + 1  # physical line of the next record
        pending = ""
        while True:
            block, broken = self._read_block(batches.CHUNK_CHARS)
            text = pending + block
            if broken is not None:
                # What came before the damage, but not a record it cut short (nor does the
                # row reader see one).
                text, pending = text[: batches.record_cut(text)], ""
            elif block:
                cut = batches.record_cut(text)
                if cut == 0 and len(text) <= line_chars:
                    pending = text  # no complete record yet
                    continue
                if cut == 0:
                    cut = len(text)  # longer than any record may be: the row reader refuses it
                text, pending = text[:cut], text[cut:]
            else:
                pending = ""
                if text and not text.endswith("\n"):
                    text += "\n"  # the last record, without its line end
            if text:
                table = None
                if aligned and batches.clean_chunk(text, line_chars):
                    table = batches.parse_chunk(text, width)
                if table is not None:
                    yield self._vetted_table(table, first_line, vetting, (fast, text_of), order)
                    first_line += table.num_rows  # one line per record, as parse_chunk checked
                else:
                    lines = Lines(batches.TextLines(text), keep=False, limits=self._limits)
                    lines.count = first_line - 1
                    yield from self._chunk_by_rows(lines, fast, text_of, fields)
                    first_line = lines.count + 1
            if broken is not None:
                self.errors.add(
                    Kind.UNREADABLE_FILE, first_line, None, None, f"file unreadable: {broken}"
                )
                return
            if not block:
                return

    def _read_block(self, size: int) -> tuple[str, BaseException | None]:
        """Up to ``size`` characters, read in steps, so that a stream breaking (a truncated or
        corrupt gzip) loses only the step it broke in, as the row reader loses its line."""
        assert self._text is not None
        parts: list[str] = []
        total = 0
        try:
            while total < size:
                part = self._text.read(min(READ_STEP, size - total))
                if not part:
                    break
                parts.append(part)
                total += len(part)
        except (EOFError, OSError) as exc:
            return "".join(parts), exc
        return "".join(parts), None

    def _vetted_table(self, table, first_line, vetting, converters, order) -> pa.Table:
        import pyarrow.compute as pc

        from providers.focus import batches

        fields = self.text_fields

        count = table.num_rows
        self.rows_read += count
        refused = vetting.refused(table)
        good = table.select(order).rename_columns(fields)
        if refused is None:
            self.line = first_line + count - 1
            return good
        positions = pc.indices_nonzero(refused)
        indexes = positions.to_pylist()
        # The refused rows' cells, converted a column at a time (a file of quirky rows refuses
        # most of them).
        refused_table = table.take(positions)
        cells_of = zip(*(column.to_pylist() for column in refused_table.columns), strict=True)
        rows = []
        last = -1  # the last row passed on (reader.line is its line)
        for index, cells in zip(indexes, cells_of, strict=True):
            row = self._vetted_row(first_line + index, list(cells), *converters)
            if row is not None:
                rows.append(row)
                last = index
        refused_rows = set(indexes)
        passed = count - 1  # the last row no column refused
        while passed in refused_rows:
            passed -= 1
        last = max(last, passed)
        if last >= 0:
            self.line = first_line + last
        good = good.filter(pc.invert(refused))
        if not rows:
            return good
        return batches.concat([good, batches.table_of_rows(rows, fields)])

    def _chunk_by_rows(self, lines: Lines, fast, text_of, fields) -> Iterator[pa.Table]:
        """A chunk the columnar parser cannot vouch for, read record by record as before."""
        from providers.focus import batches

        records = self._csv_records(csv.reader(lines), lines, fast, text_of)
        if fast is None:  # columns not aligned: rows only for reports, never loaded
            for _ in records:
                pass
            return
        while chunk := list(itertools.islice(records, PARQUET_BATCH_ROWS)):
            yield batches.table_of_rows(chunk, fields)

    def _inspect_record(self, line: int, raw: str, cells: list[str]) -> None:
        if '"' not in raw:
            return
        quoted = quoted_fields(raw)
        if len(quoted) != len(cells):
            return  # the csv module read it differently; FileStructure reports the row
        for header in self.columns:
            if not quoted[header.index]:
                continue
            text = cells[header.index]
            if not text:
                reason = 'quoted empty string "" read as null'
                self.warnings.add(Kind.EMPTY_STRING, line, header.source_name, '""', reason)
            elif header.column is not None and header.column.type is DataType.DECIMAL:
                reason = "number written as a quoted string"
                self.warnings.add(Kind.QUOTED_NUMBER, line, header.source_name, text, reason)

    def _wrong_width(self, line: int, cells: list[str], expected: int) -> None:
        if len(cells) < expected:
            missing = next((h.source_name for h in self.columns if h.index >= len(cells)), None)
            self.errors.add(
                Kind.TRUNCATED_ROW,
                line,
                missing,
                cells[-1],
                f"{len(cells)} of {expected} fields; row ends before this column",
            )
        else:
            self.errors.add(
                Kind.EXTRA_FIELDS,
                line,
                None,
                cells[expected],
                f"{len(cells)} fields but the header has {expected}",
            )

    def _careful_row(self, line: int, cells: Sequence[str]) -> dict[str, Any] | None:
        row: dict[str, Any] = {}
        ok = True
        for header, convert in self._careful:
            text = cells[header.index]
            if not text:
                row[header.field] = None
                continue
            if text == NULL_LITERAL:
                self.warnings.add(
                    Kind.NULL_LITERAL, line, header.source_name, text, "bare NULL read as null"
                )
                row[header.field] = None
                continue
            try:
                value, kind, note = convert(text)
            except CellError as exc:
                self.errors.add(exc.kind, line, header.source_name, text, exc.reason)
                ok = False
                continue
            if note is not None:
                self.warnings.add(kind, line, header.source_name, text, note)
            row[header.field] = value
        return row if ok else None

    # -- Parquet ----------------------------------------------------------------------------------

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq  # optional dependency: only Parquet input needs it

        size = input_limits.check_parquet_footer(self._binary, self._limits)
        try:
            self._parquet = pq.ParquetFile(self._binary)
        except Exception as exc:  # pyarrow raises its own hierarchy (ArrowInvalid, OSError, ...)
            self.errors.add(Kind.UNREADABLE_FILE, 1, None, None, f"not a readable Parquet: {exc}")
            return
        input_limits.check_parquet_metadata(self._parquet.metadata, size, self._limits)
        self._use_header(self._parquet.schema_arrow.names)
        self._careful = [(h, careful_converter(h.column)) for h in self.columns]

    def _iter_parquet(self, as_text: bool, null: str | None = None) -> Iterator[Any]:
        line = 1  # so that the first record is "line 2", as in the CSV it was exported from
        indexes = [h.index for h in self.columns]
        text_of = _text_renderer(self.text_fields, null) if as_text else None
        try:
            for batch in self._parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                columns = [batch.column(i).to_pylist() for i in indexes]
                for values in zip(*columns, strict=True):
                    line += 1
                    self.rows_read += 1
                    row = self._typed_row(line, values)
                    if row is None:
                        self.rows_rejected += 1
                        continue
                    self.line = line
                    yield row if text_of is None else text_of(row)
        except OSError as exc:
            self.errors.add(Kind.UNREADABLE_FILE, line + 1, None, None, f"file unreadable: {exc}")

    def _typed_row(self, line: int, values: Sequence[Any]) -> dict[str, Any] | None:
        row: dict[str, Any] = {}
        ok = True
        for (header, convert), value in zip(self._careful, values, strict=True):
            if value is None:
                row[header.field] = None
                continue
            try:
                if isinstance(value, str):
                    if not value or value == NULL_LITERAL:
                        if value:
                            self.warnings.add(
                                Kind.NULL_LITERAL, line, header.source_name, value, "bare NULL"
                            )
                        row[header.field] = None
                        continue
                    converted, kind, note = convert(value)
                else:
                    converted, kind, note = from_arrow(header.column, value)
            except CellError as exc:
                self.errors.add(exc.kind, line, header.source_name, value, exc.reason)
                ok = False
                continue
            if note is not None:
                self.warnings.add(kind, line, header.source_name, value, note)
            row[header.field] = converted
        return row if ok else None


def _text_renderer(fields: list[str], null: str | None):
    render = text_renderer(fields)
    if null is None:
        return render

    def render_with_null(row: dict[str, Any]) -> list[str | None]:
        return [null if cell is None else cell for cell in render(row)]

    return render_with_null


# -- opening and sniffing -------------------------------------------------------------------------


def _open_binary(source: Source) -> tuple[IO[bytes], bool]:
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), True  # closed by FocusReader.close
    if not hasattr(source, "peek"):
        source = io.BufferedReader(source)  # type: ignore[arg-type]
    return source, False


def _sniff(binary: IO[bytes]) -> str:
    head = binary.peek(4)[:4]  # type: ignore[attr-defined]
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head == b"PK\x03\x04":
        return "zip"
    return "csv"
