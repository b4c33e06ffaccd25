"""Bounds on untrusted cost files, enforced while streaming: the one place that says how much a
file may make us read, inflate or hold.

A small file can cost unbounded memory or time: a 1 MB ``.csv.gz`` inflating to one 1 GiB line,
a gzip with a ratio of 1000:1, a Parquet footer declaring gigabytes of columns. Every reader of
uploaded or pulled files (FOCUS CSV/CSV.gz/Parquet, Yandex Cloud exports), the upload checks in
the request path and the bucket downloads take their limits from ``current()`` and refuse a file
with ``LimitExceeded`` as soon as a limit is crossed: nothing is read past it, and the message
names the limit and the setting that raises it.

Pure Python like the rest of ``providers.focus``; under Django the ``COST_FILE_*`` settings
(environment variables, see README) replace the defaults.
"""

from __future__ import annotations

import gzip
import io
import struct
from dataclasses import dataclass, replace
from typing import IO, Any

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


class LimitExceeded(ValueError):
    """A file crossed one of the limits: refused as a whole, with the reason."""


@dataclass(frozen=True)
class InputLimits:
    # A stored file (upload or bucket object), as sent (compressed, if it is).
    file_bytes: int = 512 * MIB
    # One CSV record in characters: a line, or the lines a quoted field joins.
    line_chars: int = 256 * KIB
    # What a compressed file may inflate to ...
    inflated_bytes: int = 16 * GIB
    # ... and how many times its compressed size, once past ratio_grace_bytes (small files of
    # repeated rows compress very well and are harmless).
    ratio: int = 200
    ratio_grace_bytes: int = 16 * MIB
    # Parquet: the footer (file metadata) and one row group's declared uncompressed size.
    parquet_footer_bytes: int = 16 * MIB
    parquet_row_group_bytes: int = 1 * GIB


DEFAULTS = InputLimits()

# Django setting -> (field, unit): the only names an operator sees.
SETTINGS = {
    "COST_FILE_MAX_MB": ("file_bytes", MIB),
    "COST_FILE_MAX_LINE_KB": ("line_chars", KIB),
    "COST_FILE_MAX_INFLATED_MB": ("inflated_bytes", MIB),
    "COST_FILE_MAX_RATIO": ("ratio", 1),
    "COST_FILE_PARQUET_MAX_ROW_GROUP_MB": ("parquet_row_group_bytes", MIB),
}
_SETTING_OF = {name: setting for setting, (name, _unit) in SETTINGS.items()}


def current() -> InputLimits:
    """The limits in force: Django settings when configured, else the defaults."""
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - the reader is usable without Django
        return DEFAULTS
    if not settings.configured:
        return DEFAULTS
    values = {
        name: getattr(settings, setting) * unit
        for setting, (name, unit) in SETTINGS.items()
        if getattr(settings, setting, None) is not None
    }
    return replace(DEFAULTS, **values)


def describe(nbytes: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if nbytes >= size:
            return f"{nbytes / size:.4g} {unit}"
    return f"{nbytes} bytes"


def _setting_hint(name: str) -> str:
    setting = _SETTING_OF.get(name)
    return f" (setting {setting})" if setting else ""


def exceeded(what: str, limit_name: str, limit: int, *, unit: str = "bytes") -> LimitExceeded:
    shown = describe(limit) if unit == "bytes" else f"{limit:,} {unit}"
    return LimitExceeded(f"{what}: over the limit of {shown}{_setting_hint(limit_name)}.")


def check_file_size(size: int | None, limits: InputLimits, what: str = "The file") -> None:
    if size is not None and size > limits.file_bytes:
        raise exceeded(f"{what} has {describe(size)}", "file_bytes", limits.file_bytes)


# --- compressed streams ---------------------------------------------------------------------
class _Counting(io.RawIOBase):
    """Counts the compressed bytes the decompressor pulls; never closes the caller's stream."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class BoundedGzip(io.RawIOBase):
    """A gzip stream's content, refused once it inflates past ``inflated_bytes`` or past
    ``ratio`` times the compressed bytes read so far. gzip inflates at most what each read asks
    for, so memory stays at the caller's buffer size whatever the file claims."""

    def __init__(self, compressed: IO[bytes], limits: InputLimits) -> None:
        super().__init__()
        self._limits = limits
        self._source = _Counting(compressed)
        self._gzip = gzip.GzipFile(fileobj=self._source, mode="rb")
        self.inflated = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # read1: what is inflated so far, even when a truncated stream fails on the next read.
        data = self._gzip.read1(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.inflated += n
        limits = self._limits
        if self.inflated > limits.inflated_bytes:
            raise exceeded(
                "The compressed file inflates further", "inflated_bytes", limits.inflated_bytes
            )
        if self.inflated > limits.ratio_grace_bytes and self.inflated > limits.ratio * max(
            self._source.count, 1
        ):
            raise LimitExceeded(
                f"The compressed file inflates more than {limits.ratio} times its size "
                f"({describe(self.inflated)} from {describe(self._source.count)}): refused as a "
                f"decompression bomb{_setting_hint('ratio')}."
            )
        return n

    def close(self) -> None:
        if not self.closed:
            self._gzip.close()  # (GzipFile leaves a fileobj it was given open)
        super().close()


def open_inflated(binary: IO[bytes], limits: InputLimits) -> IO[bytes]:
    """The gzip content of ``binary`` as a buffered stream, bounded by ``limits``."""
    return io.BufferedReader(BoundedGzip(binary, limits))


# --- CSV records ----------------------------------------------------------------------------
def record_too_long(line_number: int, limits: InputLimits) -> LimitExceeded:
    return exceeded(
        f"Line {line_number} is too long (a CSV record, with the lines its quoted fields join)",
        "line_chars",
        limits.line_chars,
        unit="characters",
    )


# --- Parquet --------------------------------------------------------------------------------
_FOOTER = struct.Struct("<I4s")


def check_parquet_footer(binary: IO[bytes], limits: InputLimits) -> int:
    """Refuse a footer (file metadata) larger than the limit before anything parses it; returns
    the file's size."""
    position = binary.tell()
    try:
        size = binary.seek(0, io.SEEK_END)
        if size < 12:
            return size  # too short for Parquet: the Parquet reader says so
        check_file_size(size, limits)
        binary.seek(size - _FOOTER.size)
        length, _magic = _FOOTER.unpack(binary.read(_FOOTER.size))
    finally:
        binary.seek(position)
    if length > limits.parquet_footer_bytes or length > size:
        raise exceeded(
            f"The Parquet footer declares {describe(length)} of metadata",
            "parquet_footer_bytes",
            limits.parquet_footer_bytes,
        )
    return size


def check_parquet_metadata(metadata: Any, file_size: int, limits: InputLimits) -> None:
    """Refuse what the metadata declares before any column is read: a row group larger than the
    limit (it is decoded at once), more data than a compressed file may inflate to, or a ratio
    of a decompression bomb."""
    total = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        declared = max(
            group.total_byte_size,
            sum(group.column(c).total_uncompressed_size for c in range(group.num_columns)),
        )
        if declared > limits.parquet_row_group_bytes:
            raise exceeded(
                f"Parquet row group {index} declares {describe(declared)} uncompressed",
                "parquet_row_group_bytes",
                limits.parquet_row_group_bytes,
            )
        total += declared
    if total > limits.inflated_bytes:
        raise exceeded(
            f"The Parquet file declares {describe(total)} uncompressed",
            "inflated_bytes",
            limits.inflated_bytes,
        )
    if total > limits.ratio_grace_bytes and total > limits.ratio * max(file_size, 1):
        raise LimitExceeded(
            f"The Parquet file declares more than {limits.ratio} times its size uncompressed "
            f"({describe(total)} from {describe(file_size)}): refused as a decompression bomb"
            f"{_setting_hint('ratio')}."
        )
