"""Reader throughput on a generated FOCUS 1.2 CSV.

    .venv/bin/python -m tests.providers.focus.bench_reader --rows 200000

Prints rows/s for FocusReader (typed dict rows, and text_rows() for COPY) and, for scale, for
csv.reader alone over the same file, both as wall-clock and as CPU time of this process (the
stable number on a shared machine).
"""

from __future__ import annotations

import argparse
import csv
import resource
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from providers.focus.reader import FocusReader
from providers.focus.writer import write_focus_csv
from tests.providers.focus.factories import conformant_rows


def timed(label: str, rows: int, work: Callable[[], object]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label}: {rows / wall:,.0f} rows/s wall ({wall:.2f}s), {rows / cpu:,.0f} rows/s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--file", type=Path, default=Path("/tmp/infrazen-focus-bench.csv"))
    args = parser.parse_args()

    timed(
        "write_focus_csv (incl. row generation)",
        args.rows,
        lambda: write_focus_csv(args.file, conformant_rows(args.rows)),
    )
    print(f"file: {args.file} ({args.file.stat().st_size / 1e6:.0f} MB)")

    def parse_only() -> None:
        with args.file.open(newline="", encoding="utf-8") as stream:
            for _ in csv.reader(stream):
                pass

    timed("csv.reader alone", args.rows, parse_only)

    total = Decimal(0)

    def read() -> None:
        nonlocal total
        with FocusReader(args.file) as reader:
            for row in reader:
                total += row["billed_cost"]
        assert reader.rows_read == args.rows and not reader.errors, reader.summary()

    timed("FocusReader (typed dict rows)", args.rows, read)

    def read_text() -> None:
        with FocusReader(args.file) as reader:
            for _ in reader.text_rows():
                pass
        assert reader.rows_read == args.rows and not reader.errors, reader.summary()

    timed("FocusReader.text_rows()", args.rows, read_text)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"BilledCost total {total}; peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
