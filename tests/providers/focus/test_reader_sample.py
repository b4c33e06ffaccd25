"""The FinOps Foundation sample: exact reference totals and every documented quirk."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from providers.focus.issues import Kind
from providers.focus.reader import FocusReader

ORACLE_LINES = [927, 928, 943, 946, 949, 950, 952]


def read_all(path: Path) -> tuple[list[dict], FocusReader]:
    with FocusReader(path) as reader:
        return list(reader), reader


def zero_if_null(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value  # not `or`: Decimal("0E-11") is falsy


def aggregate(rows: list[dict], key) -> dict:
    """{key: [rows, BilledCost, EffectiveCost]}, nulls counting as 0 (as the README defines)."""
    groups: dict = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for row in rows:
        group = groups[key(row)]
        group[0] += 1
        group[1] += zero_if_null(row["billed_cost"])
        group[2] += zero_if_null(row["effective_cost"])
    return groups


def assert_exact(actual: Decimal, expected: str) -> None:
    assert isinstance(actual, Decimal)
    assert actual == Decimal(expected)
    assert format(actual, "f") == expected  # same digits, same scale: no float ever involved


@pytest.fixture(scope="module")
def sample(sample_csv):
    return read_all(sample_csv)


def test_every_row_is_read_without_errors(sample, expected_aggregates):
    rows, reader = sample
    assert len(rows) == reader.rows_read == expected_aggregates["rows"] == 1000
    assert reader.rows_rejected == 0
    assert not reader.errors
    assert reader.version == "1.0"


def test_totals_match_the_reference_exactly(sample, expected_aggregates):
    rows, _ = sample
    for column, expected in expected_aggregates["totals"].items():
        field = {"BilledCost": "billed_cost", "EffectiveCost": "effective_cost"}.get(column)
        field = field or {"ListCost": "list_cost", "ContractedCost": "contracted_cost"}[column]
        assert_exact(sum((zero_if_null(row[field]) for row in rows), Decimal(0)), expected)


@pytest.mark.parametrize(
    ("group", "key"),
    [
        ("by_ProviderName", lambda row: row["provider_name"]),
        ("top5_by_ServiceName", lambda row: row["service_name"]),
        (
            "top5_by_ProviderName_ServiceName",
            lambda row: [row["provider_name"], row["service_name"]],
        ),
        ("by_ChargePeriodStart_month", lambda row: f"{row['charge_period_start']:%Y-%m}"),
        ("by_BillingPeriodStart", lambda row: f"{row['billing_period_start']:%Y-%m-%d}"),
        ("by_ChargeCategory", lambda row: row["charge_category"]),
    ],
)
def test_group_totals_match_the_reference_exactly(sample, expected_aggregates, group, key):
    rows, _ = sample
    actual = aggregate(rows, lambda row: repr(key(row)))
    for entry in expected_aggregates[group]:
        count, billed, effective = actual[repr(entry["key"])]
        assert count == entry["rows"], entry["key"]
        assert_exact(billed, entry["BilledCost"])
        assert_exact(effective, entry["EffectiveCost"])
    if group.startswith("top5"):
        ranked = sorted(actual.items(), key=lambda item: item[1][1], reverse=True)[:5]
        assert [k for k, _ in ranked] == [repr(e["key"]) for e in expected_aggregates[group]]


def test_values_are_typed_and_canonical(sample):
    rows, _ = sample
    first = rows[0]
    assert first["billed_cost"] == Decimal("0.00000080000")
    assert first["list_unit_price"] == Decimal("0.0000004")  # quoted in the file
    assert first["charge_period_start"] == datetime(2024, 9, 18, 22, tzinfo=UTC)
    assert first["charge_class"] is None and first["tags"] is None
    assert rows[1]["tags"] == {
        "application": "BrightLensMatrix",
        "environment": "dev",
        "business_unit": "ViennaAI",
    }
    for row in rows:
        assert all(not isinstance(value, float) for value in row.values())
        assert row["charge_period_start"].tzinfo is UTC
    assert {row["charge_frequency"] for row in rows} == {"Usage-Based", "One-Time"}


def test_unprefixed_column_is_kept_as_an_x_extension(sample):
    rows, reader = sample
    assert reader.extensions == {"x_id": "x_Id"}
    assert rows[0]["x_id"] == "11472"
    assert reader.warnings.count(Kind.UNPREFIXED_COLUMN) == 1


def test_bare_null_literals_are_counted_cell_by_cell(sample, sample_csv):
    _, reader = sample
    with sample_csv.open(newline="") as stream:
        literal_nulls = sum(cell == "NULL" for line in csv.reader(stream) for cell in line)
    assert reader.warnings.count(Kind.NULL_LITERAL) == literal_nulls == 8973
    assert reader.warnings.columns(Kind.NULL_LITERAL)["ChargeClass"] == 1000


def test_dates_without_t_and_z_are_read_as_utc_and_counted(sample):
    _, reader = sample
    assert reader.warnings.count(Kind.DATETIME_FORMAT) == 4000
    assert set(reader.warnings.columns(Kind.DATETIME_FORMAT).values()) == {1000}


def test_wrong_case_enum_values_are_normalised_and_located(sample):
    rows, reader = sample
    assert reader.warnings.count(Kind.VALUE_CASE) == 7
    examples = reader.warnings.examples[Kind.VALUE_CASE]
    assert [e.line for e in examples] == ORACLE_LINES
    assert {(e.column, e.value) for e in examples} == {("ChargeFrequency", "Usage-based")}
    assert all(rows[line - 2]["charge_frequency"] == "Usage-Based" for line in ORACLE_LINES)


def test_tag_keys_with_spaces_are_kept_and_counted(sample):
    rows, reader = sample
    assert reader.warnings.count(Kind.TAG_KEY_SPACES) == 23
    tags = rows[948 - 2]["tags"]
    assert tags[" org"] == tags["org"] == "trey"  # stripping would merge two keys


def test_empty_strings_and_quoted_numbers_need_quote_inspection(sample_csv):
    with FocusReader(sample_csv, inspect_quoting=True) as reader:
        rows = list(reader)
    empty = reader.warnings.columns(Kind.EMPTY_STRING)
    assert empty["BillingAccountName"] == empty["SkuPriceId"] == 7
    assert all(rows[line - 2]["billing_account_name"] is None for line in ORACLE_LINES)
    assert reader.warnings.columns(Kind.QUOTED_NUMBER) == {"ListUnitPrice": 999}


def test_text_rows_carry_canonical_text_for_copy(sample_csv, expected_aggregates):
    with FocusReader(sample_csv) as reader:
        fields = reader.text_fields
        rows = [dict(zip(fields, cells, strict=True)) for cells in reader.text_rows()]
    assert sorted(fields) == sorted(reader.fields)
    assert len(rows) == 1000 and reader.warnings.count(Kind.DATETIME_FORMAT) == 4000
    first = rows[0]
    assert first["charge_period_start"] == "2024-09-18T22:00:00Z"  # repaired: T and Z
    assert first["charge_class"] is None  # was NULL
    assert first["billed_cost"] == "0.00000080000"
    assert rows[927 - 2]["charge_frequency"] == "Usage-Based"
    billed = sum((Decimal(row["billed_cost"]) for row in rows), Decimal(0))
    assert format(billed, "f") == expected_aggregates["totals"]["BilledCost"]
