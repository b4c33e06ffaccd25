"""The text layer under csv.reader: physical line numbers, bytes PostgreSQL cannot store, and the
CSV quoting that csv.reader does not report."""

from __future__ import annotations

import re
from collections.abc import Iterator

from providers.focus.issues import Kind


class BadLine(Exception):
    """A line csv.reader must not see; the reader reports it as a bad row and reads on."""

    def __init__(self, kind: Kind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


# Undecodable bytes, as the surrogateescape error handler represents them.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


class Lines:
    """The lines csv.reader reads: counted (physical line numbers), screened for NUL bytes and
    bytes that are not UTF-8 (PostgreSQL text holds neither), and optionally kept, so that the
    raw text of the current record can be inspected."""

    __slots__ = ("_keep", "_kept", "_lines", "count")

    def __init__(self, lines: Iterator[str], *, keep: bool) -> None:
        self._lines = lines
        self._keep = keep
        self._kept: list[str] = []
        self.count = 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        if "\0" in line or not line.isascii():  # both O(1) or memchr: cheap for every line
            if "\0" in line:
                raise BadLine(Kind.MALFORMED_CSV, "NUL byte in the line")
            if _UNDECODABLE.search(line):
                raise BadLine(Kind.BAD_ENCODING, "bytes that are not UTF-8")
        if self._keep:
            self._kept.append(line)
        return line

    def take(self) -> str:
        raw = "".join(self._kept)
        self._kept.clear()
        return raw


_CSV_FIELD = re.compile(r'"(?:[^"]|"")*"|[^,"\r\n]*')


def quoted_fields(record: str) -> list[bool]:
    """For each field of one raw CSV record (default dialect), whether it was quoted."""
    end = len(record.rstrip("\r\n"))
    quoted, position = [], 0
    while True:
        match = _CSV_FIELD.match(record, position)
        assert match is not None  # the pattern also matches an empty field
        quoted.append(record.startswith('"', position))
        position = match.end()
        if position >= end or record[position] != ",":
            return quoted
        position += 1
