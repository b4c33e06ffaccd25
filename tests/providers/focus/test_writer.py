"""Export: strict FOCUS 1.2 text, and read(write(rows)) == rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.focus import spec
from providers.focus.issues import Kind
from providers.focus.reader import FocusReader
from providers.focus.writer import FocusCsvWriter, choose_columns, write_focus_csv
from tests.providers.focus.factories import conformant_rows


def read_rows(path, *, tolerated: tuple[Kind, ...] = ()) -> list[dict]:
    with FocusReader(path) as reader:
        rows = list(reader)
    assert not reader.errors, reader.summary()
    assert set(reader.warnings.counts) <= set(tolerated), reader.summary()
    return rows


def test_sample_round_trip_keeps_every_value_and_the_totals(sample_csv, tmp_path):
    with FocusReader(sample_csv) as reader:
        original = list(reader)
        extensions = reader.extensions
    exported = tmp_path / "export.csv"
    assert write_focus_csv(exported, original, extensions=extensions) == 1000

    # Every quirk was normalised on the way in, except tag keys: those are kept as written.
    again = read_rows(exported, tolerated=(Kind.TAG_KEY_SPACES,))
    assert again == original
    for field in ("billed_cost", "effective_cost", "list_cost", "contracted_cost"):
        before = sum((r[field] for r in original if r[field] is not None), Decimal(0))
        after = sum((r[field] for r in again if r[field] is not None), Decimal(0))
        assert format(after, "f") == format(before, "f")


def test_generated_rows_survive_csv_and_gzip(tmp_path):
    rows = list(conformant_rows(300))
    for name in ("export.csv", "export.csv.gz"):
        path = tmp_path / name
        write_focus_csv(path, rows)
        again = read_rows(path)
        assert [{k: v for k, v in r.items() if v is not None} for r in again] == [
            {k: (str(v) if k == "x_row_number" else v) for k, v in r.items() if v is not None}
            for r in rows
        ]
    assert (tmp_path / "export.csv.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_text_is_in_the_strict_formats(tmp_path):
    path = tmp_path / "export.csv"
    write_focus_csv(path, conformant_rows(50))
    with path.open(newline="") as stream:
        header, *lines = list(csv.reader(stream))
    focus = [name for name in header if not name.startswith("x_")]
    assert focus == sorted(focus, key=[c.name for c in spec.COLUMNS].index)
    assert header[len(focus) :] == ["x_CloudId", "x_RowNumber", "x_ServiceId"]  # custom last
    cells = [dict(zip(header, line, strict=True)) for line in lines]
    assert cells[0]["ChargePeriodStart"].endswith("Z") and cells[0]["ChargePeriodStart"][10] == "T"
    assert all("E" not in c["BilledCost"] and "." in c["BilledCost"] for c in cells)
    assert cells[1]["Tags"] == '{"env":"prod","team":"payments"}'
    assert cells[0]["ChargeClass"] == ""  # null: an empty, unquoted field
    assert ",," in path.read_text().splitlines()[1]


def test_integers_get_a_decimal_point():
    stream = io.StringIO()
    writer = FocusCsvWriter(stream, [spec.BY_NAME["PricingQuantity"]])
    writer.write_row({"pricing_quantity": Decimal("24")})
    assert stream.getvalue() == "24.0\n"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("billed_cost", 1.5, TypeError),  # never float
        ("charge_period_start", datetime(2026, 1, 1), ValueError),  # naive
        ("charge_period_start", datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), ValueError),
        ("tags", {"nested": {"a": 1}}, TypeError),
        ("service_name", 42, TypeError),
    ],
)
def test_writer_refuses_values_it_cannot_write_exactly(field, value, error):
    writer = FocusCsvWriter(io.StringIO(), [spec.BY_FIELD[field]])
    with pytest.raises(error):
        writer.write_row({field: value})


def test_column_choice_defaults_and_validation():
    focus, custom = choose_columns({"billed_cost": Decimal(1), "x_cloud_id": "c", "tags": None})
    assert {c.name for c in focus} == {c.name for c in spec.MANDATORY} | {"Tags"}
    assert custom == {"x_cloud_id": "x_CloudId"}
    with pytest.raises(ValueError, match=r"not FOCUS 1\.2 fields"):
        choose_columns(None, columns=["billed_cost", "cost"])
    with pytest.raises(ValueError, match="must start with x_"):
        choose_columns(None, extensions={"x_id": "Id"})


def test_empty_input_writes_a_header_only(tmp_path):
    path = tmp_path / "empty.csv"
    assert write_focus_csv(path, []) == 0
    with FocusReader(path) as reader:
        assert list(reader) == [] and reader.header_ok


def test_writing_to_a_caller_stream_leaves_it_open():
    stream = io.StringIO()
    write_focus_csv(stream, conformant_rows(3))
    assert not stream.closed and len(stream.getvalue().splitlines()) == 4


def test_equal_but_differently_typed_tag_values_are_written_as_given():
    stream = io.StringIO()
    writer = FocusCsvWriter(stream, [spec.BY_NAME["Tags"]])
    for tags in ({"a": "1"}, {"a": 1}, {"a": True}, {"a": Decimal("1.0")}, {"a": "1"}):
        writer.write_row({"tags": tags})
    assert stream.getvalue().splitlines() == [
        '"{""a"":""1""}"',
        '"{""a"":1}"',
        '"{""a"":true}"',
        '"{""a"":1.0}"',
        '"{""a"":""1""}"',
    ]


def test_text_rows_of_a_clean_export_are_its_cells(tmp_path):
    path = tmp_path / "export.csv"
    write_focus_csv(path, conformant_rows(100))
    with path.open(newline="") as stream:
        written = list(csv.DictReader(stream))
    with FocusReader(path) as reader:
        by_field = {h.field: h.source_name for h in reader.columns}
        expected = [[line[by_field[f]] or None for f in reader.text_fields] for line in written]
        assert list(reader.text_rows()) == expected
        assert reader.careful_rows == 0 and not reader.warnings
