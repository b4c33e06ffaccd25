"""FOCUS export: strict conformance, streaming, and export -> re-import keeps every total."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count, Sum

from providers.costs import export
from providers.focus import FocusReader, check_focus, write_focus_csv
from providers.models import CostLineItem, ImportRun
from tests.factories import ImportRunFactory
from tests.providers.costs.test_query import yandex_vat  # noqa: F401  (autouse fixture)
from tests.providers.focus.factories import conformant_rows

SAMPLE_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "focus-sample"
SAMPLE = SAMPLE_DIR / "focus_sample.csv"
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="shared FOCUS sample not present")


def _import(tenant, file, **kwargs) -> ImportRun:
    run = ImportRunFactory(tenant=tenant, file=file, **kwargs)
    assert run.status == ImportRun.Status.SUCCEEDED, (run.error, run.errors)
    return run


def _conformant_file(rows=400, seed=7, month=1) -> io.BytesIO:
    text = io.StringIO()
    write_focus_csv(text, conformant_rows(rows, seed=seed, month=month))
    return io.BytesIO(text.getvalue().encode())


def _totals(tenant, **filters):
    return CostLineItem.objects.filter(tenant=tenant, **filters).aggregate(
        rows=Count("id"),
        billed=Sum("billed_cost"),
        effective=Sum("effective_cost"),
        listed=Sum("list_cost"),
        contracted=Sum("contracted_cost"),
    )


def _export(tenant, period, fmt, path):
    return export.focus_export(actor=None, tenant=tenant, period=period, fmt=fmt, target=path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_passes_our_checker_in_strict_mode(world, tmp_path, fmt):
    _import(world.a, _conformant_file(), file_name="yc.csv")
    path = tmp_path / f"export.{fmt}"

    summary = _export(world.a, "2026-01", fmt, path)

    assert summary.rows == 400
    report = check_focus(path, strict=True)
    assert report.passed, report.format_text()
    assert report.version == "1.2"
    with FocusReader(path) as reader:
        header = [h.output_name for h in reader.columns]
        assert not reader.errors
    # Validator-needed nullable columns, our x_ columns after FOCUS ones, source extensions too.
    for name in ("AvailabilityZone", "CommitmentDiscountId", "CommitmentDiscountStatus"):
        assert name in header
    custom = [h for h in header if h.startswith("x_")]
    assert header[-len(custom) :] == custom
    assert {"x_VatRate", "x_VatAmount", "x_SourceKey", "x_ImportRunId", "x_CloudId"} <= set(custom)


def test_export_holds_only_the_period_and_tenant(world, tmp_path):
    _import(world.a, _conformant_file(seed=1, month=1), file_name="jan.csv", source_key="jan")
    _import(world.a, _conformant_file(seed=2, month=2), file_name="feb.csv", source_key="feb")
    _import(world.b, _conformant_file(seed=3, month=1), file_name="b.csv")
    path = tmp_path / "jan.csv"

    _export(world.a, "2026-01", "csv", path)

    with FocusReader(path) as reader:
        rows = list(reader)
    assert len(rows) == 400
    assert {r["charge_period_start"].strftime("%Y-%m") for r in rows} == {"2026-01"}
    assert sum(r["billed_cost"] for r in rows) == _totals(world.a, x_source_key="jan")["billed"]


@needs_sample
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_sample_export_and_reimport_gives_identical_totals(world, tmp_path, fmt):
    expected = json.loads((SAMPLE_DIR / "expected_aggregates.json").read_text())
    _import(world.a, SAMPLE, file_name="focus_sample.csv")
    path = tmp_path / f"sample.{fmt}"
    _export(world.a, "2024-09", fmt, path)

    _import(world.b, path, file_name=path.name)

    before, after = _totals(world.a), _totals(world.b)
    assert after == before
    assert after["billed"] == Decimal(expected["totals"]["BilledCost"])
    assert after["effective"] == Decimal(expected["totals"]["EffectiveCost"])
    assert after["listed"] == Decimal(expected["totals"]["ListCost"])
    for group in expected["by_ProviderName"]:
        a = _totals(world.a, provider_name=group["key"])
        b = _totals(world.b, provider_name=group["key"])
        assert a == b
        assert b["billed"] == Decimal(group["BilledCost"])
    for group in expected["top5_by_ServiceName"]:
        assert _totals(world.b, service_name=group["key"])["billed"] == Decimal(group["BilledCost"])


@needs_sample
def test_sample_export_repairs_its_quirks_and_keeps_only_its_data_defects(world, tmp_path):
    """Our export fixes every format quirk of the sample; what the strict check still reports
    are the sample's own data defects (e.g. ContractedCost null), which we do not paper over."""
    _import(world.a, SAMPLE, file_name="focus_sample.csv")
    path = tmp_path / "sample.csv"
    _export(world.a, "2024-09", "csv", path)

    source = check_focus(SAMPLE, strict=True)
    exported = check_focus(path, strict=True)

    quirks = {"CustomColumnPrefix", "NullHandling", "DateTimeFormat", "AllowedValues"}
    assert quirks <= {r.rule.id for r in source.errors}
    assert {r.rule.id: r.count for r in exported.errors} == {
        r.rule.id: r.count for r in source.errors if r.rule.id not in quirks
    }
    assert exported.result("NotNull").columns == {"ContractedCost": 7}
    with FocusReader(path) as reader:
        assert "x_Id" in [h.output_name for h in reader.columns]  # the unprefixed "Id" column


def test_stream_is_chunked_and_parquet_reads_back(world):
    _import(world.a, _conformant_file(rows=1200), file_name="yc.csv")
    start, end = export.parse_period("2026-01")
    plan = export.export_plan(world.a.pk, start, end)
    assert plan.rows == 1200

    chunks = list(export.parquet_chunks(plan, export.export_rows(plan), batch_rows=500))

    assert len(chunks) >= 3  # one row group per yield, never the whole file at once
    with FocusReader(io.BytesIO(b"".join(chunks))) as reader:
        rows = list(reader)
    assert len(rows) == 1200
    assert sum(r["billed_cost"] for r in rows) == _totals(world.a)["billed"]


def test_empty_period_is_a_header_only_file(world, tmp_path):
    path = tmp_path / "empty.csv"
    summary = _export(world.a, "2030-01", "csv", path)
    assert summary.rows == 0
    assert path.read_text().count("\n") == 1


@pytest.mark.parametrize("period", ["2026", "2026-13", "", "jan"])
def test_bad_period_is_refused(period):
    with pytest.raises(export.ExportError):
        export.parse_period(period)


def test_focus_credit_rows_fill_x_credits_and_export_them(world, tmp_path):
    _import(world.a, _conformant_file(rows=1500), file_name="yc.csv")
    credits = CostLineItem.objects.filter(tenant=world.a, charge_category="Credit")
    others = CostLineItem.objects.filter(tenant=world.a).exclude(charge_category="Credit")

    assert credits.count() == 3  # rows 500, 1000 and 1500
    billed = credits.aggregate(s=Sum("billed_cost"))["s"]
    assert billed < 0
    assert sum(Decimal(item.x_credits["total"]) for item in credits) == billed
    assert {tuple(item.x_credits) for item in credits} == {("total",)}
    assert not others.filter(x_credits__isnull=False).exists()
    path = tmp_path / "export.csv"
    _export(world.a, "2026-01", "csv", path)
    with FocusReader(path) as reader:
        exported = [r for r in reader if r["charge_category"] == "Credit"]
    assert sum(Decimal(json.loads(r["x_credits"])["total"]) for r in exported) == billed
