"""FOCUS 1.3 files: read beside 1.0-1.2, written on request, and checked by the 1.3 rules."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from providers.focus import FocusReader, check_focus, write_focus_csv, write_focus_parquet
from providers.focus.writer import choose_columns
from tests.providers.focus.factories import conformant_rows, focus13_rows


def _csv(rows, **kwargs) -> io.BytesIO:
    text = io.StringIO()
    write_focus_csv(text, rows, **kwargs)
    return io.BytesIO(text.getvalue().encode())


def _edit(data: io.BytesIO, old: str, new: str) -> io.BytesIO:
    text = data.getvalue().decode()
    assert old in text
    return io.BytesIO(text.replace(old, new, 1).encode())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_1_3_file_reads_with_its_new_columns_and_passes_the_strict_check(fmt, tmp_path):
    path = tmp_path / f"focus13.{fmt}"
    rows = list(focus13_rows(300))
    if fmt == "csv":
        path.write_bytes(_csv(rows, version="1.3").getvalue())
    else:
        write_focus_parquet(path, rows, version="1.3")

    report = check_focus(path, strict=True)

    assert report.passed, report.format_text()
    assert report.version == "1.3"
    assert {"JsonObjectFormat", "AllocationConsistency", "AllocatedRatioRange"} <= set(
        report.rules_checked
    )
    with FocusReader(path) as reader:
        assert reader.version == "1.3" and reader.header_ok
        names = [h.output_name for h in reader.columns]
        read = list(reader)
    assert "ProviderName" not in names and "ServiceProviderName" in names
    assert [r["allocated_method_details"] for r in read] == [
        r["allocated_method_details"] for r in rows
    ]
    split = next(r for r in read if r["allocated_method_id"])
    assert split["allocated_method_details"]["Elements"][0]["AllocatedRatio"] == Decimal("0.25")
    assert split["allocated_tags"] == {"team": "checkout"}
    assert sum(1 for r in read if r["contract_applied"]) > 10


def test_1_3_columns_are_written_only_when_1_3_is_asked_for():
    focus, _ = choose_columns(next(focus13_rows(1)), version="1.3")
    names = [c.name for c in focus]
    assert {"ServiceProviderName", "HostProviderName", "AllocatedMethodId"} <= set(names)
    assert names == sorted(names)  # spec order
    with pytest.raises(ValueError, match=r"not FOCUS 1\.2 fields"):
        choose_columns(None, columns=["billed_cost", "service_provider_name"])
    # A 1.2 write never gains 1.3 columns, even from rows that carry them.
    focus, _ = choose_columns({**next(conformant_rows(1)), "service_provider_name": "X"})
    assert "ServiceProviderName" not in [c.name for c in focus]


def test_what_is_mandatory_follows_the_files_version():
    # 1.3: ServiceProviderName is required, the deprecated ProviderName no longer is.
    no_service_provider = _edit(
        _csv(focus13_rows(5), version="1.3"), "ServiceProviderName", "x_Spn"
    )
    report = check_focus(no_service_provider)
    assert not report.passed
    assert report.result("ColumnPresence").columns == {"ServiceProviderName": 1}
    # 1.2: ProviderName is still required.
    no_provider = _edit(_csv(conformant_rows(5)), "ProviderName", "x_Pn")
    assert check_focus(no_provider).result("ColumnPresence").columns == {"ProviderName": 1}


def test_the_1_3_rules_catch_bad_allocations_and_json_objects():
    rows = list(focus13_rows(40))
    split = next(n for n, r in enumerate(rows) if r["allocated_method_id"])
    rows[split]["allocated_method_details"] = {
        "Elements": [{"AllocatedRatio": Decimal("1.5"), "UsageUnit": "Core-Hours"}]
    }
    orphan = next(n for n, r in enumerate(rows) if not r["allocated_method_id"])
    rows[orphan]["allocated_resource_id"] = "pod-without-method"
    nameless = next(n for n, r in enumerate(rows) if n > split and r["allocated_method_id"])
    rows[nameless]["allocated_method_details"] = None
    data = _csv(rows, version="1.3")
    contract = next(r for r in rows if r["contract_applied"])["contract_applied"]
    elements = '{""Elements"":[{""ContractId"":""MSA-2026""'
    assert elements in data.getvalue().decode()
    data = _edit(data, elements, '{""Elements"":{""ContractId"":""MSA-2026""')  # not an array
    assert contract

    report = check_focus(data)

    failed = {r.rule.id: r.count for r in report.errors}
    assert failed["AllocatedRatioRange"] == 1
    assert failed["AllocationConsistency"] == 2  # the orphan and the split without details
    assert "JsonObjectFormat" in failed and report.rows_rejected == 1
    assert report.result("AllocatedRatioRange").examples[0].value == "1.5"


def test_a_1_2_file_is_not_faulted_for_1_3_rules():
    report = check_focus(_csv(conformant_rows(50)), strict=True)
    assert report.passed and report.version == "1.2"
