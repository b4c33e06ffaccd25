"""CSV.gz and Parquet inputs, streams, and memory that does not grow with the file."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from providers.focus.issues import Kind
from providers.focus.reader import FocusReader
from providers.focus.writer import write_focus_csv, write_focus_parquet
from tests.providers.focus.factories import conformant_rows

pa = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def billed_total(rows) -> Decimal:
    return sum((row["billed_cost"] for row in rows), Decimal(0))


def test_gzipped_sample_reads_like_the_plain_one(sample_csv, tmp_path):
    packed = tmp_path / "sample.csv.gz"
    packed.write_bytes(gzip.compress(sample_csv.read_bytes()))
    with FocusReader(sample_csv) as plain, FocusReader(packed) as gz:
        assert list(gz) == list(plain)
        assert gz.file_format == "gzip"
        assert gz.warnings.counts == plain.warnings.counts


def test_parquet_round_trip_of_the_sample(sample_csv, tmp_path):
    with FocusReader(sample_csv) as reader:
        original = list(reader)
        extensions = reader.extensions
    path = tmp_path / "sample.parquet"
    assert write_focus_parquet(path, original, extensions=extensions, batch_rows=300) == 1000

    schema = pq.read_schema(path)
    assert schema.field("BilledCost").type == pa.decimal128(38, 18)
    period_type = schema.field("ChargePeriodStart").type  # Parquet stores seconds as ms
    assert pa.types.is_timestamp(period_type) and period_type.tz == "UTC"
    with FocusReader(path) as reader:
        again = list(reader)
        assert reader.file_format == "parquet" and not reader.errors
        assert set(reader.warnings.counts) == {Kind.TAG_KEY_SPACES}  # kept as written
        assert reader.line == 1001  # the record number + 1, as in the CSV
    assert again == original  # Decimal equality is numeric: the scale-18 copies compare equal
    assert billed_total(again) == Decimal("20.52022672899")


def test_parquet_written_by_someone_else(tmp_path):
    table = pa.table(
        {
            "BilledCost": pa.array([1.1, float("nan")], pa.float64()),
            "EffectiveCost": pa.array([Decimal("1.10"), None], pa.decimal128(10, 2)),
            "ChargePeriodStart": pa.array([datetime(2026, 1, 1), datetime(2026, 1, 2)]),  # naive
            "BillingPeriodStart": pa.array([date(2026, 1, 1), date(2026, 1, 1)]),
            "ChargeCategory": ["usage", "Tax"],
            "BillingCurrency": ["RUB", "RUR"],
            "Tags": pa.array([[("env", "prod")], None], pa.map_(pa.string(), pa.string())),
        }
    )
    path = tmp_path / "theirs.parquet"
    pq.write_table(table, path)
    with FocusReader(path) as reader:
        rows = list(reader)
    assert len(rows) == 1  # the second row, with NaN and RUR, is rejected
    (row,) = rows
    assert row["billed_cost"] == Decimal("1.1") and isinstance(row["billed_cost"], Decimal)
    assert row["charge_period_start"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert row["billing_period_start"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert row["charge_category"] == "Usage"
    assert row["tags"] == {"env": "prod"}
    assert reader.warnings.counts == {
        Kind.FLOAT_VALUE: 1,
        Kind.DATETIME_FORMAT: 4,  # two naive timestamps, two dates without a time
        Kind.VALUE_CASE: 1,
    }
    (issue,) = reader.errors.examples[Kind.UNKNOWN_CURRENCY]
    assert (issue.line, issue.column, issue.value) == (3, "BillingCurrency", "RUR")
    assert reader.errors.examples[Kind.INVALID_DECIMAL][0].value == "nan"
    assert reader.errors.count(Kind.MISSING_COLUMN) > 0  # not every mandatory column is there


def test_binary_stream_input_is_sniffed_and_left_open(tmp_path):
    path = tmp_path / "export.csv.gz"
    write_focus_csv(path, conformant_rows(20))
    stream = io.BytesIO(path.read_bytes())
    with FocusReader(stream) as reader:
        assert reader.file_format == "gzip" and len(list(reader)) == 20
    assert not stream.closed


def test_reading_twice_yields_nothing_the_second_time(tmp_path):
    path = tmp_path / "export.csv"
    write_focus_csv(path, conformant_rows(5))
    with FocusReader(path) as reader:
        assert len(list(reader)) == 5
        assert list(reader) == []


def peak_bytes_while_reading(path) -> int:
    tracemalloc.start()
    try:
        with FocusReader(path) as reader:
            for _ in reader:
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_focus_csv(small, conformant_rows(2_000))
    write_focus_csv(large, conformant_rows(16_000))
    small_peak, large_peak = peak_bytes_while_reading(small), peak_bytes_while_reading(large)
    # 8x the rows; the caches of dates and tags are the same size, so the peak barely moves.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_parquet_writer_refuses_to_round(tmp_path):
    with pytest.raises(pa.ArrowInvalid, match="data loss"):
        write_focus_parquet(tmp_path / "x.parquet", [{"billed_cost": Decimal("1E-20")}])
