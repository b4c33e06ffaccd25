from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from providers.focus.writer import write_focus_csv
from tests.providers.focus.factories import conformant_rows


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("focus_check", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv.gz"
    write_focus_csv(path, conformant_rows(200))
    return path


def test_sample_fails_with_a_readable_report(sample_csv):
    out = io.StringIO()
    with pytest.raises(CommandError, match="FOCUS check failed") as failure:
        call_command("focus_check", str(sample_csv), "--max-examples", "1", stdout=out)
    text = out.getvalue()
    assert "ERROR   AllowedValues: 7 finding(s)" in text
    assert "line 927 ChargeFrequency='Usage-based'" in text
    assert text.rstrip().endswith("FAIL")
    assert "NotNull" in str(failure.value)


def test_max_examples_limits_examples_not_counts(sample_csv):
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("focus_check", str(sample_csv), "--json", "--max-examples", "1", stdout=out)
    report = json.loads(out.getvalue())
    assert all(len(result["examples"]) <= 1 for result in report["results"])
    counts = {result["rule"]: result["count"] for result in report["results"]}
    assert counts["DateTimeFormat"] == 4000


def test_clean_export_passes_even_strict(export):
    assert run(str(export), "--strict").rstrip().endswith("PASS")


def test_strict_turns_format_warnings_into_failure(tmp_path):
    path = tmp_path / "loose.csv"
    write_focus_csv(path, conformant_rows(20))
    path.write_text(path.read_text().replace("Z,", ","))  # drop the UTC designators
    assert "WARNING DateTimeFormat" in run(str(path))
    with pytest.raises(CommandError, match="DateTimeFormat"):
        run(str(path), "--strict")


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "nope.csv"))
