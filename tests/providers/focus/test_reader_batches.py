"""The columnar reader (text_batches) against the row reader (text_rows): the same rows, and the
same errors and warnings with the same line, column, value and reason, whatever the damage.

Chunks are made small here, so that every file spans many of them and damage falls both inside
a chunk and on its edges."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from providers.focus import batches
from providers.focus.issues import Kind
from providers.focus.limits import LimitExceeded
from providers.focus.reader import FocusReader
from providers.focus.writer import write_focus_csv
from tests.providers.focus.factories import conformant_rows

SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "focus-sample" / "focus_sample.csv"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(batches, "CHUNK_CHARS", 3000)


def export(tmp_path: Path, rows: int = 120) -> Path:
    path = tmp_path / "focus.csv"
    write_focus_csv(path, conformant_rows(rows))
    return path


def edit_cells(path: Path, changes: dict[tuple[int, str], str]) -> None:
    with path.open(newline="") as stream:
        lines = list(csv.reader(stream))
    header = lines[0]
    for (line, column), value in changes.items():
        lines[line - 1][header.index(column)] = value
    with path.open("w", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerows(lines)


def findings(log) -> dict:
    return {
        str(kind): (
            log.count(kind),
            sorted(issue.as_dict().items() for issue in log.examples[kind]),
        )
        for kind in log.counts
    }


def by_rows(path: Path):
    with FocusReader(path) as reader:
        rows = [tuple(row) for row in reader.text_rows(null="")]
        return sorted(rows), reader


def by_batches(path: Path):
    with FocusReader(path) as reader:
        rows = []
        for table in reader.text_batches():
            assert table.column_names == reader.text_fields
            rows += zip(*(column.to_pylist() for column in table.columns), strict=True)
        return sorted(rows), reader


def assert_same(path: Path) -> FocusReader:
    expected, row_reader = by_rows(path)
    got, batch_reader = by_batches(path)
    assert got == expected
    assert batch_reader.summary() == row_reader.summary()
    assert findings(batch_reader.errors) == findings(row_reader.errors)
    assert findings(batch_reader.warnings) == findings(row_reader.warnings)
    assert batch_reader.line == row_reader.line
    return batch_reader


def test_clean_file_takes_the_columnar_path_only(tmp_path):
    reader = assert_same(export(tmp_path))
    assert reader.rows_read == 120 and reader.careful_rows == 0 and not reader.errors


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared FOCUS sample not present")
def test_the_quirky_sample_reads_the_same():
    reader = assert_same(SAMPLE)
    assert reader.careful_rows == 1000 and reader.warnings


def test_bad_cells_are_reported_at_their_line(tmp_path):
    path = export(tmp_path)
    edit_cells(
        path,
        {
            (4, "BilledCost"): "12,5",
            (9, "ListCost"): "NaN",
            (17, "ChargePeriodStart"): "2026-13-45T00:00:00Z",
            (30, "BillingCurrency"): "RUR",
            (31, "ChargeCategory"): "Consumption",
            (55, "Tags"): '["prod"]',
            (56, "BilledCost"): "x",
            (56, "ChargePeriodEnd"): "soon",
            (80, "EffectiveCost"): "1e5",  # Decimal takes it: the row fast path, not columns
            (121, "PricingQuantity"): "lots",
        },
    )
    reader = assert_same(path)
    assert reader.rows_rejected == 8
    lines = sorted(e.line for kind in reader.errors.counts for e in reader.errors.examples[kind])
    assert lines == [4, 9, 17, 30, 31, 55, 56, 56, 121]


def test_repairs_are_the_row_readers(tmp_path):
    path = export(tmp_path)
    edit_cells(
        path,
        {
            (2, "BillingCurrency"): "rub",
            (3, "BilledCost"): "+5",
            (40, "ChargeCategory"): "usage",
            (77, "ChargeClass"): "NULL",
            (78, "ChargePeriodStart"): "2026-01-05 10:00:00",
        },
    )
    reader = assert_same(path)
    assert reader.careful_rows == 5 and not reader.errors


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda lines: lines.__setitem__(20, lines[20][:-60] + "\n"), id="short row"),
        pytest.param(lambda lines: lines.__setitem__(33, lines[33][:-1] + ",x\n"), id="extra"),
        pytest.param(lambda lines: lines.insert(50, "\n"), id="blank line"),
        pytest.param(lambda lines: lines.__setitem__(-1, lines[-1][:-1]), id="no last newline"),
        pytest.param(
            lambda lines: lines.__setitem__(60, lines[60].replace("Yandex Cloud", "Yandex\0Cloud")),
            id="NUL",
        ),
        pytest.param(
            lambda lines: lines.__setitem__(
                61, lines[61].replace("Yandex Cloud", '"Yandex\nCloud"', 1)
            ),
            id="quoted newline",
        ),
        pytest.param(
            lambda lines: lines.__setitem__(70, lines[70].replace("Yandex Cloud", "Яндекс", 1)),
            id="non-ASCII",
        ),
        pytest.param(
            lambda lines: lines.__setitem__(71, lines[71].replace("Yandex Cloud", "Ya\rndex", 1)),
            id="lone CR",
        ),
    ],
)
def test_damaged_records_read_the_same(tmp_path, damage):
    path = export(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    damage(lines)
    path.write_text("".join(lines), newline="")
    assert_same(path)


def test_bytes_that_are_not_utf8(tmp_path):
    path = export(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[44] = lines[44].replace(b"Yandex Cloud", b"Yandex\xffCloud", 1)
    path.write_bytes(b"".join(lines))
    reader = assert_same(path)
    assert reader.errors.examples[Kind.BAD_ENCODING][0].line == 45


def test_crlf_line_ends(tmp_path):
    path = export(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    reader = assert_same(path)
    assert reader.careful_rows == 0


def test_truncated_gzip(tmp_path, monkeypatch):
    """The row reader loses the line the stream broke in; the columnar one loses the read step
    it broke in (the same here: steps as small as a line). A broken file is never loaded."""
    from providers.focus import reader as reader_module

    monkeypatch.setattr(reader_module, "READ_STEP", 64)
    path = tmp_path / "focus.csv.gz"
    write_focus_csv(path, conformant_rows(2000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    reader = assert_same(path)
    assert reader.errors.count(Kind.UNREADABLE_FILE) == 1


def test_gzip_reads_like_plain(tmp_path):
    plain = export(tmp_path)
    edit_cells(plain, {(7, "PricingQuantity"): "lots"})
    packed = tmp_path / "bad.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert assert_same(packed).errors.examples[Kind.INVALID_DECIMAL][0].line == 7


def test_a_line_over_the_limit_is_refused_like_before(tmp_path, settings):
    settings.COST_FILE_MAX_LINE_KB = 4
    path = export(tmp_path)
    edit_cells(path, {(50, "ChargeDescription"): "x" * 5000})
    for read in (by_rows, by_batches):
        with pytest.raises(LimitExceeded, match="Line 50 is too long"):
            read(path)
