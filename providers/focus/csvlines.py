"""The text layer under csv.reader: physical line numbers, bytes PostgreSQL cannot store, and the
CSV quoting that csv.reader does not report."""

from __future__ import annotations

import re
from typing import IO

from providers.focus import limits as input_limits
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
    raw text of the current record can be inspected.

    Bounded: no line, and no record a quoted field stretches over several lines, may exceed
    ``limits.line_chars``; the file is refused (LimitExceeded) before more of it is read. (csv's
    own field_size_limit bounds a field, not a record of countless multi-line fields.)"""

    __slots__ = ("_keep", "_kept", "_limits", "_max", "_pending", "_readline", "count")

    def __init__(
        self, text: IO[str], *, keep: bool, limits: input_limits.InputLimits | None = None
    ) -> None:
        self._readline = text.readline
        self._limits = limits or input_limits.current()
        self._max = self._limits.line_chars
        self._pending = 0  # characters of a record whose quoted field is still open
        self._keep = keep
        self._kept: list[str] = []
        self.count = 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        line = self._readline(self._max)  # reads no further than the limit, however long
        if not line:
            raise StopIteration
        self.count += 1
        if len(line) == self._max and line[-1] not in "\r\n":
            raise input_limits.record_too_long(self.count, self._limits)
        if self._pending or '"' in line:
            self._track_record(line)
        if "\0" in line or not line.isascii():  # both O(1) or memchr: cheap for every line
            if "\0" in line:
                raise BadLine(Kind.MALFORMED_CSV, "NUL byte in the line")
            if _UNDECODABLE.search(line):
                raise BadLine(Kind.BAD_ENCODING, "bytes that are not UTF-8")
        if self._keep:
            self._kept.append(line)
        return line

    def _track_record(self, line: str) -> None:
        # An odd number of quotes opens or closes a quoted field ("" escapes come in pairs).
        still_open = bool(self._pending) != bool(line.count('"') & 1)
        if not still_open:
            self._pending = 0
            return
        self._pending += len(line)
        if self._pending > self._max:
            raise input_limits.record_too_long(self.count, self._limits)

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
