"""Decompression and line bombs are refused while streaming, within a few megabytes of memory.

Each bomb is real (a gzip of one huge line, a gzip of 1000:1, a CSV with a giant field or a
record of countless multi-line fields, a ZIP and Parquet files declaring far more than they
hold); each test asserts the refusal and what reading it cost (tests/bombs.py).
"""

from __future__ import annotations

import io

import pytest

from providers.costs.sources.yandex_export import YandexExportReader
from providers.focus.issues import Kind
from providers.focus.limits import DEFAULTS, InputLimits, LimitExceeded
from providers.focus.reader import FocusReader
from providers.focus.writer import write_focus_csv
from tests.bombs import (
    MIB,
    gzip_of_repeated_rows,
    gzip_one_line,
    gzip_stream,
    memory_use,
    repeat,
    zip_bomb,
)
from tests.providers.focus.factories import conformant_rows

BUDGET = 24 * MIB  # what refusing any bomb below may cost; the bombs inflate to 64-128 MiB


def focus_csv(rows: int = 3) -> bytes:
    out = io.StringIO()
    write_focus_csv(out, conformant_rows(rows))
    return out.getvalue().encode()


def header_and_row() -> tuple[bytes, bytes]:
    header, row, *_ = focus_csv(1).splitlines(keepends=True)
    return header, row


def read_all(source, **options) -> FocusReader:
    with FocusReader(source, **options) as reader:
        for _ in reader:
            pass
    return reader


def test_a_gzip_of_one_huge_line_is_refused_at_the_line_limit():
    bomb = gzip_one_line(b"", 128 * MIB)  # ~130 KB that inflate to one 128 MiB line

    with memory_use() as used, pytest.raises(LimitExceeded) as refused:
        FocusReader(io.BytesIO(bomb))

    assert "Line 1 is too long" in str(refused.value)
    assert "COST_FILE_MAX_LINE_KB" in str(refused.value)
    assert used.worst < BUDGET, used


def test_a_huge_row_after_a_good_header_stops_the_rows_with_the_reason():
    header, _row = header_and_row()
    bomb = gzip_one_line(header, 96 * MIB)

    with memory_use() as used, pytest.raises(LimitExceeded, match="Line 2 is too long"):
        read_all(io.BytesIO(bomb))

    assert used.worst < BUDGET, used


def test_a_gzip_of_a_huge_ratio_is_refused_as_a_bomb():
    header, _row = header_and_row()
    # A header, then blank lines (no record at all) for 128 MiB: the reader would spin on.
    bomb = gzip_of_repeated_rows(header, b"\n", 128 * MIB)
    assert len(bomb) * 900 < 128 * MIB  # a real bomb: far beyond any billing export's ratio
    limits = InputLimits(ratio_grace_bytes=2 * MIB)  # refused sooner: the test stays quick

    with memory_use() as used, pytest.raises(LimitExceeded) as refused:
        read_all(io.BytesIO(bomb), limits=limits)

    assert "decompression bomb" in str(refused.value)
    assert "COST_FILE_MAX_RATIO" in str(refused.value)
    assert used.worst < BUDGET, used


def test_inflating_past_the_size_limit_is_refused_whatever_the_ratio():
    header, row = header_and_row()
    bomb = gzip_of_repeated_rows(header, row, 16 * MIB)
    limits = InputLimits(inflated_bytes=2 * MIB, ratio=100_000)

    with pytest.raises(LimitExceeded, match="COST_FILE_MAX_INFLATED_MB"):
        read_all(io.BytesIO(bomb), limits=limits)


def test_a_csv_with_a_giant_field_is_refused_at_the_line_limit(tmp_path):
    header, row = header_and_row()
    path = tmp_path / "giant.csv"
    with path.open("wb") as out:
        out.write(header)
        out.write(b'"')
        for block in repeat(b"x" * MIB, 64 * MIB):
            out.write(block)
        out.write(b'",' + row)

    with memory_use() as used, pytest.raises(LimitExceeded, match="Line 2 is too long"):
        read_all(path)

    assert used.worst < BUDGET, used


def test_a_record_of_countless_multi_line_fields_is_refused(tmp_path):
    # Each field is small (csv's field_size_limit never trips) but the record never ends.
    header, _row = header_and_row()
    path = tmp_path / "endless-record.csv"
    with path.open("wb") as out:
        out.write(header)
        for block in repeat(b'"x\n",' * (MIB // 5), 64 * MIB):
            out.write(block)

    with memory_use() as used, pytest.raises(LimitExceeded, match="too long"):
        read_all(path)

    assert used.worst < BUDGET, used


def test_quoted_newlines_within_the_limit_still_read():
    header, row = header_and_row()
    tagged = row.replace(b"payments", b"pay\nments") if b"payments" in row else row
    limits = InputLimits(line_chars=4096)

    reader = read_all(io.BytesIO(header + tagged * 50), limits=limits)

    assert reader.rows_read == 50 and not reader.errors.counts


def test_a_zip_is_refused_without_inflating_it():
    bomb = zip_bomb(64 * MIB)

    with memory_use() as used:
        reader = read_all(io.BytesIO(bomb))

    assert not reader.header_ok
    [issue] = reader.errors.examples[Kind.NOT_FOCUS]
    assert "ZIP archive" in issue.reason
    assert used.worst < BUDGET, used


def _parquet(columns: dict, **options) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table(columns), out, **options)
    return out.getvalue()


def test_a_parquet_footer_declaring_huge_metadata_is_refused_before_parsing():
    real = _parquet({"BilledCost": ["1.0"]})
    # The footer's length field (the 4 bytes before the closing magic) claims 1 GiB.
    bomb = real[:-8] + (1 << 30).to_bytes(4, "little") + b"PAR1"

    with memory_use() as used, pytest.raises(LimitExceeded, match="Parquet footer"):
        FocusReader(io.BytesIO(bomb))

    assert used.worst < BUDGET, used


@pytest.fixture(scope="module")
def parquet_bomb() -> bytes:
    """512 cells of 128 KiB each: 64 MiB of strings that zstd packs into a few kilobytes."""
    cell = "x" * (128 << 10)
    return _parquet(
        {"BilledCost": ["1.0"] * 512, "x_Note": [cell] * 512},
        compression="zstd",
        use_dictionary=False,
    )


def test_a_parquet_declaring_a_huge_ratio_is_refused_before_any_column_is_read(parquet_bomb):
    assert len(parquet_bomb) * 1000 < 64 * MIB

    with memory_use() as used, pytest.raises(LimitExceeded, match="decompression bomb"):
        read_all(io.BytesIO(parquet_bomb))

    assert used.worst < BUDGET, used


def test_a_parquet_row_group_over_the_limit_is_refused(parquet_bomb):
    limits = InputLimits(parquet_row_group_bytes=8 * MIB, ratio=100_000)

    with memory_use() as used, pytest.raises(LimitExceeded) as refused:
        read_all(io.BytesIO(parquet_bomb), limits=limits)

    assert "row group 0" in str(refused.value)
    assert "COST_FILE_PARQUET_MAX_ROW_GROUP_MB" in str(refused.value)
    assert used.worst < BUDGET, used


def test_honest_gzip_and_parquet_files_read_within_the_defaults():
    from providers.focus.writer import write_focus_parquet

    data = focus_csv(200)
    packed = gzip_stream(iter([data]))
    out = io.BytesIO()
    write_focus_parquet(out, conformant_rows(200))

    for source in (io.BytesIO(packed), io.BytesIO(out.getvalue())):
        reader = read_all(source, limits=DEFAULTS)
        assert reader.rows_read == 200 and reader.rows_rejected == 0


def test_the_yandex_export_reader_is_bounded_too():
    import datetime as dt

    bomb = gzip_one_line(b"", 96 * MIB)

    with memory_use() as used, pytest.raises(LimitExceeded, match="Line 1 is too long"):
        YandexExportReader(io.BytesIO(bomb), day=dt.date(2026, 2, 14))

    assert used.worst < BUDGET, used
