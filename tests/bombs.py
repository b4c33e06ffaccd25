"""Real decompression and line bombs, made in a moment without ever holding their inflated
content, and a probe of how much memory reading one costs.

The probe reports the peak of Python allocations (tracemalloc) and of the resident set and of
Arrow's allocator (sampled on a thread), each as growth over what the process held when the
probe started, so a test can assert that refusing a bomb stayed within a few megabytes.
"""

from __future__ import annotations

import io
import os
import threading
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MIB = 1 << 20
_PAGE = os.sysconf("SC_PAGE_SIZE")
BLOCK = b"a" * MIB


def gzip_stream(parts: Iterator[bytes]) -> bytes:
    """Gzip the concatenation of ``parts`` (fed one at a time: nothing inflated is kept)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = io.BytesIO()
    for part in parts:
        out.write(packer.compress(part))
    out.write(packer.flush())
    return out.getvalue()


def repeat(block: bytes, total: int) -> Iterator[bytes]:
    while total > 0:
        yield block[:total]
        total -= len(block)


def gzip_one_line(header: bytes, line_bytes: int) -> bytes:
    """``header`` (may be empty) and then one line of ``line_bytes`` characters, no newline."""
    return gzip_stream(iter([header, *repeat(BLOCK, line_bytes)]))


def gzip_of_repeated_rows(header: bytes, row: bytes, inflated_bytes: int) -> bytes:
    """A well-formed CSV whose one row repeats until ``inflated_bytes``: a ratio of ~1000:1."""
    rows = row * max(1, MIB // len(row))
    return gzip_stream(iter([header, *repeat(rows, inflated_bytes)]))


def zip_bomb(inflated_bytes: int) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("costs.csv", "w", force_zip64=True) as member,
    ):
        for part in repeat(BLOCK, inflated_bytes):
            member.write(part)
    return out.getvalue()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _arrow_bytes() -> int:
    try:
        import pyarrow
    except ImportError:  # pragma: no cover
        return 0
    return pyarrow.total_allocated_bytes()


@dataclass
class MemoryUse:
    python_peak: int = 0  # bytes allocated by Python code at the peak, over the start
    rss_growth: int = 0  # resident set at its sampled peak, over the start
    arrow_peak: int = 0  # Arrow's allocator at its sampled peak, over the start

    @property
    def worst(self) -> int:
        return max(self.python_peak, self.rss_growth, self.arrow_peak)

    def __str__(self) -> str:
        return (
            f"python +{self.python_peak / MIB:.1f} MiB, rss +{self.rss_growth / MIB:.1f} MiB, "
            f"arrow +{self.arrow_peak / MIB:.1f} MiB"
        )


@contextmanager
def memory_use() -> Iterator[MemoryUse]:
    """Measure the block: ``with memory_use() as used: ...; assert used.worst < 32 * MIB``."""
    used = MemoryUse()
    arrow_start = _arrow_bytes()  # first: importing pyarrow is no cost of the code measured
    rss_start = rss_bytes()
    peaks = {"rss": rss_start, "arrow": arrow_start}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peaks["rss"] = max(peaks["rss"], rss_bytes())
            peaks["arrow"] = max(peaks["arrow"], _arrow_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    traced_start = tracemalloc.get_traced_memory()[0]
    bookkeeping_start = tracemalloc.get_tracemalloc_memory()
    tracemalloc.reset_peak()
    sampler.start()
    try:
        yield used
    finally:
        done.set()
        sampler.join()
        used.python_peak = tracemalloc.get_traced_memory()[1] - traced_start
        # tracemalloc's own tables are resident too, but are the probe's cost, not the code's.
        bookkeeping = tracemalloc.get_tracemalloc_memory() - bookkeeping_start
        if not was_tracing:
            tracemalloc.stop()
        used.rss_growth = max(peaks["rss"], rss_bytes()) - rss_start - bookkeeping
        used.arrow_peak = peaks["arrow"] - arrow_start
