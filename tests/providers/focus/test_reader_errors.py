"""Bad input: every unreadable row is reported with line, column, value and reason."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from providers.focus.issues import Kind
from providers.focus.reader import FocusReader
from providers.focus.writer import write_focus_csv
from tests.providers.focus.factories import conformant_rows


def export(tmp_path: Path, rows: int = 10) -> Path:
    path = tmp_path / "focus.csv"
    write_focus_csv(path, conformant_rows(rows))
    return path


def edit_cells(path: Path, changes: dict[tuple[int, str], str]) -> None:
    """Set cells by (physical line, column name); the header is line 1."""
    with path.open(newline="") as stream:
        lines = list(csv.reader(stream))
    header = lines[0]
    for (line, column), value in changes.items():
        lines[line - 1][header.index(column)] = value
    with path.open("w", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerows(lines)


def read(path: Path, **options) -> tuple[list[dict], FocusReader]:
    with FocusReader(path, **options) as reader:
        return list(reader), reader


def only_error(reader: FocusReader):
    assert len(reader.errors.counts) == 1, reader.errors.as_dict()
    (kind,) = reader.errors.counts
    (issue,) = reader.errors.examples[kind]
    return issue


@pytest.mark.parametrize(
    ("column", "value", "kind", "reason"),
    [
        ("BilledCost", "12,5", Kind.INVALID_DECIMAL, "not a number"),
        ("ListCost", "NaN", Kind.INVALID_DECIMAL, "NaN and Infinity are not FOCUS numbers"),
        ("ChargePeriodStart", "2026-13-45T00:00:00Z", Kind.INVALID_DATETIME, "ISO 8601"),
        ("BillingCurrency", "RUR", Kind.UNKNOWN_CURRENCY, "ISO 4217"),
        ("BillingCurrency", "XAU", Kind.UNKNOWN_CURRENCY, "national currency"),
        ("ChargeCategory", "Consumption", Kind.INVALID_VALUE, "not an allowed ChargeCategory"),
        ("Tags", '["prod"]', Kind.INVALID_KEY_VALUE, "not a JSON object"),
    ],
)
def test_unreadable_cell_rejects_its_row_only(tmp_path, column, value, kind, reason):
    path = export(tmp_path)
    edit_cells(path, {(4, column): value})
    rows, reader = read(path)
    issue = only_error(reader)
    assert (issue.kind, issue.line, issue.column, issue.value) == (kind, 4, column, value)
    assert reason in issue.reason
    assert reader.rows_read == 10 and reader.rows_rejected == 1 and len(rows) == 9
    assert [row["x_row_number"] for row in rows] == [str(n) for n in range(10) if n != 2]


def test_several_bad_cells_in_one_row_are_all_reported(tmp_path):
    path = export(tmp_path)
    edit_cells(path, {(2, "BilledCost"): "x", (2, "ChargePeriodEnd"): "soon"})
    rows, reader = read(path)
    assert reader.errors.counts == {Kind.INVALID_DECIMAL: 1, Kind.INVALID_DATETIME: 1}
    assert reader.rows_rejected == 1 and len(rows) == 9


def test_truncated_last_row(tmp_path):
    path = export(tmp_path)
    text = path.read_text()
    path.write_text(text[: text.rindex(",INV-")])  # the download stopped mid-row
    rows, reader = read(path)
    issue = only_error(reader)
    assert issue.kind == Kind.TRUNCATED_ROW and issue.line == 11
    assert issue.column == "InvoiceId"  # the first column the row never reached
    assert "fields" in issue.reason
    assert len(rows) == 9


def test_row_with_extra_fields(tmp_path):
    path = export(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + ",surplus\n"
    path.write_text("".join(lines))
    rows, reader = read(path)
    issue = only_error(reader)
    assert (issue.kind, issue.line, issue.value) == (Kind.EXTRA_FIELDS, 6, "surplus")
    assert len(rows) == 9


@pytest.mark.parametrize(
    ("damage", "kind"),
    [(b"Yandex\0Cloud", Kind.MALFORMED_CSV), (b"Yandex\xffCloud", Kind.BAD_ENCODING)],
)
def test_damaged_line_is_reported_and_reading_resumes(tmp_path, damage, kind):
    path = export(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"Yandex Cloud", damage, 1)
    path.write_bytes(b"".join(lines))
    rows, reader = read(path)
    issue = only_error(reader)
    assert (issue.kind, issue.line) == (kind, 4)
    assert len(rows) == 9
    assert [row["x_row_number"] for row in rows] == [str(n) for n in range(10) if n != 2]


def test_missing_mandatory_column_is_a_header_error(tmp_path):
    path = export(tmp_path)
    with path.open(newline="") as stream:
        lines = list(csv.reader(stream))
    drop = lines[0].index("BilledCost")
    lines[0][lines[0].index("ListCost")] = "ListCosts"  # a typo, not a FOCUS column
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows([line[:drop] + line[drop + 1 :] for line in lines])
    rows, reader = read(path)
    assert not reader.header_ok
    missing = reader.errors.examples[Kind.MISSING_COLUMN]
    assert [(e.line, e.column, e.reason) for e in missing] == [
        (1, "BilledCost", "mandatory column missing"),
        (1, "ListCost", "mandatory column missing"),
    ]
    assert reader.warnings.count(Kind.UNPREFIXED_COLUMN) == 1  # the typo became x_ListCosts
    assert "x_list_costs" in rows[0]


def test_file_that_is_not_focus_yields_nothing(tmp_path):
    path = tmp_path / "yandex.csv"
    path.write_text("account,date,cost\nab1,2026-01-01,10.5\n")
    rows, reader = read(path)
    assert rows == []
    assert reader.errors.count(Kind.NOT_FOCUS) == 1 and not reader.header_ok


def test_duplicate_column_is_reported_and_the_first_one_wins(tmp_path):
    path = export(tmp_path)
    with path.open(newline="") as stream:
        lines = list(csv.reader(stream))
    lines[0].append("billedcost")
    for line in lines[1:]:
        line.append("999.0")
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows(lines)
    rows, reader = read(path)
    assert reader.errors.count(Kind.DUPLICATE_COLUMN) == 1 and not reader.header_ok
    assert all(row["billed_cost"] != Decimal("999.0") for row in rows) and len(rows) == 10


def test_examples_are_capped_but_every_error_is_counted(tmp_path):
    path = export(tmp_path, rows=40)
    edit_cells(path, {(line, "EffectiveCost"): "n/a" for line in range(2, 32)})
    rows, reader = read(path, max_examples=5)
    assert reader.errors.count(Kind.INVALID_DECIMAL) == 30
    assert [e.line for e in reader.errors.examples[Kind.INVALID_DECIMAL]] == [2, 3, 4, 5, 6]
    assert reader.rows_rejected == 30 and len(rows) == 10


def test_repairable_values_become_warnings_not_errors(tmp_path):
    path = export(tmp_path)
    edit_cells(
        path,
        {
            (2, "BillingCurrency"): "rub",
            (3, "BilledCost"): "+5",
            (4, "ChargeCategory"): "usage",
            (5, "ChargeClass"): "NULL",
        },
    )
    rows, reader = read(path)
    assert not reader.errors and len(rows) == 10
    assert rows[0]["billing_currency"] == "RUB"
    assert rows[1]["billed_cost"] == Decimal(5)
    assert rows[2]["charge_category"] == "Usage"
    assert rows[3]["charge_class"] is None
    assert reader.warnings.counts == {
        Kind.CURRENCY_CASE: 1,
        Kind.NUMERIC_FORMAT: 1,
        Kind.VALUE_CASE: 1,
        Kind.NULL_LITERAL: 1,
    }
    assert reader.careful_rows == 4  # only the odd rows left the fast path


def test_truncated_gzip_keeps_the_rows_before_the_break(tmp_path):
    path = tmp_path / "focus.csv.gz"
    write_focus_csv(path, conformant_rows(2000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    rows, reader = read(path)
    assert 0 < len(rows) < 2000
    assert reader.errors.count(Kind.UNREADABLE_FILE) == 1
    assert "file unreadable" in reader.errors.examples[Kind.UNREADABLE_FILE][0].reason


def test_not_gzip_despite_the_name_is_read_by_content(tmp_path):
    path = tmp_path / "focus.csv.gz"
    write_focus_csv(path, conformant_rows(5), compress=False)
    rows, reader = read(path)
    assert reader.file_format == "csv" and len(rows) == 5


def test_gzip_roundtrip_of_a_bad_file_reports_the_same_line(tmp_path):
    plain = export(tmp_path)
    edit_cells(plain, {(7, "PricingQuantity"): "lots"})
    packed = tmp_path / "bad.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    _, reader = read(packed)
    assert only_error(reader).line == 7


def test_text_rows_reject_the_same_rows(tmp_path):
    path = export(tmp_path)
    edit_cells(path, {(4, "BilledCost"): "12,5"})
    with FocusReader(path) as reader:
        rows = list(reader.text_rows())
    assert len(rows) == 9 and only_error(reader).line == 4
