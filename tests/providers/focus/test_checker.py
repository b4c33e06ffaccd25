"""The conformance checker: the sample's defects, our own export, and each row rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from providers.focus.checker import CheckReport, check_focus
from providers.focus.reader import FocusReader
from providers.focus.rules import RULES
from providers.focus.writer import write_focus_csv
from tests.providers.focus.factories import conformant_rows

# (rule, column, findings, severity, severity with --strict) for each defect the README documents
README_DEFECTS = [
    ("NullHandling", "ChargeClass", 1000, "warning", "error"),  # bare NULL
    ("NullHandling", "BillingAccountName", 7, "warning", "error"),  # "" on the Oracle rows
    ("DateTimeFormat", "ChargePeriodStart", 1000, "warning", "error"),  # no T, no Z
    ("AllowedValues", "ChargeFrequency", 7, "error", "error"),  # Usage-based
    ("NotNull", "ContractedCost", 7, "error", "error"),  # NULL on the Oracle rows
    ("CustomColumnPrefix", "Id", 1, "error", "error"),  # extra column without x_
    ("QuotedNumbers", "ListUnitPrice", 999, "warning", "warning"),  # "0.0000004": legal CSV
    ("TagKeys", "Tags", 23, "warning", "warning"),  # " org": FOCUS forbids altering tags
]


@pytest.fixture(scope="module")
def sample_report(sample_csv) -> CheckReport:
    return check_focus(sample_csv, max_examples=10)


@pytest.fixture(scope="module")
def strict_sample_report(sample_csv) -> CheckReport:
    return check_focus(sample_csv, strict=True, max_examples=10)


@pytest.mark.parametrize(("rule", "column", "count", "severity", "strict"), README_DEFECTS)
def test_every_documented_defect_of_the_sample_is_reported(
    sample_report, strict_sample_report, rule, column, count, severity, strict
):
    result = sample_report.result(rule)
    assert result is not None, f"{rule} not reported"
    assert result.columns[column] == count
    assert result.severity == severity
    assert strict_sample_report.result(rule).severity == strict


def test_sample_fails_and_names_its_rows(sample_report):
    assert not sample_report.passed
    assert sample_report.version == "1.0" and sample_report.rows_read == 1000
    lines = [e.line for e in sample_report.result("AllowedValues").examples]
    assert lines == [927, 928, 943, 946, 949, 950, 952]
    assert sample_report.result("NotNull").examples[0].reason == "MUST NOT be null"


def test_sample_findings_beyond_the_readme(sample_report):
    """Real inconsistencies in the anonymised data, found by the row rules."""
    expected = {
        "ChargeInBillingPeriod": 1,  # an Oracle row billed in the next month
        "ListCostFormula": 31,  # Microsoft rows: ListUnitPrice x PricingQuantity != ListCost
        "ContractedCostFormula": 18,
        "UnitPriceNonNegative": 1,  # ContractedUnitPrice -3 on the credit row
        "UsagePricingNotNull": 10,  # Oracle usage without ContractedUnitPrice/PricingCategory
        "ConsumedQuantityUsage": 2,  # Oracle adjustments with a ConsumedQuantity
    }
    assert {rule: sample_report.result(rule).count for rule in expected} == expected
    assert sample_report.result("ChargeInBillingPeriod").examples[0].line == 946
    assert sample_report.result("UnitPriceNonNegative").examples[0].line == 458


def test_rules_newer_than_the_file_are_warnings_unless_asked_for(sample_csv, sample_report):
    assert sample_report.result("ServiceNameSingleCategory").severity == "warning"
    as_1_2 = check_focus(sample_csv, version="1.2")
    result = as_1_2.result("ServiceNameSingleCategory")
    assert result.severity == "error" and result.examples[0].value == "Storage"


def test_examples_are_capped_while_counts_are_complete(sample_csv):
    report = check_focus(sample_csv, max_examples=2)
    nulls = report.result("NullHandling")
    # 8973 bare NULLs, plus "" in 8 columns of the 7 Oracle rows
    assert len(nulls.examples) == 2 and nulls.count == 8973 + 8 * 7


def test_our_export_passes_strict(tmp_path):
    path = tmp_path / "export.csv"
    write_focus_csv(path, conformant_rows(3000))
    report = check_focus(path, strict=True)
    assert report.passed and report.results == (), report.format_text()
    assert report.version == "1.2"
    assert {"ListCostFormula", "ContractedCostFormula", "ServiceNameSingleCategory"} <= set(
        report.rules_checked
    )


def test_sample_re_exported_keeps_only_content_defects(sample_csv, tmp_path):
    with FocusReader(sample_csv) as reader:
        path = tmp_path / "sample.csv"
        write_focus_csv(path, reader, extensions=reader.extensions)
    report = check_focus(path, strict=True)
    failed = {result.rule.id for result in report.errors}
    assert failed.isdisjoint(
        {"NullHandling", "DateTimeFormat", "AllowedValues", "CustomColumnPrefix", "QuotedNumbers"}
    )
    assert {"NotNull", "ContractedCostFormula", "ListCostFormula"} <= failed


def check_mutated(tmp_path, mutate: Callable[[list[dict]], None]) -> CheckReport:
    rows = list(conformant_rows(30))  # usage rows, and a VAT row at index 20
    mutate(rows)
    path = tmp_path / "case.csv"
    write_focus_csv(path, rows)
    return check_focus(path, strict=True)


def shift(row: dict, **fields) -> None:
    row.update(fields)


HOUR = timedelta(hours=1)
USAGE, TAX = 0, 20

ROW_CASES = {
    "ChargePeriodOrder": lambda rows: shift(
        rows[USAGE], charge_period_end=rows[USAGE]["charge_period_start"]
    ),
    "ChargeInBillingPeriod": lambda rows: shift(
        rows[USAGE],
        charge_period_start=rows[USAGE]["billing_period_start"] - HOUR,
        charge_period_end=rows[USAGE]["billing_period_start"],
    ),
    "ListCostFormula": lambda rows: shift(
        rows[USAGE], list_cost=rows[USAGE]["list_cost"] + Decimal("0.01")
    ),
    "ContractedCostFormula": lambda rows: shift(
        rows[USAGE], contracted_cost=rows[USAGE]["contracted_cost"] - Decimal("0.01")
    ),
    "UnitPriceNonNegative": lambda rows: shift(
        rows[USAGE],
        contracted_unit_price=Decimal("-1"),
        contracted_cost=-rows[USAGE]["pricing_quantity"],
    ),
    "TaxPricingNull": lambda rows: shift(
        rows[TAX], pricing_quantity=Decimal("1"), pricing_unit="Units"
    ),
    "UsagePricingNotNull": lambda rows: shift(rows[USAGE], pricing_category=None),
    "SkuNullability": lambda rows: shift(rows[USAGE], sku_id=None),
    "ConsumedQuantityUsage": lambda rows: shift(
        rows[TAX], consumed_quantity=Decimal("1"), consumed_unit="GB"
    ),
    "QuantityUnitPairs": lambda rows: shift(rows[USAGE], consumed_unit=None),
    "CommitmentDiscountConsistency": lambda rows: shift(
        rows[USAGE], commitment_discount_status="Used"
    ),
    "PurchaseNotUsageBased": lambda rows: shift(
        rows[USAGE], charge_category="Purchase", consumed_quantity=None, consumed_unit=None
    ),
    "IdNamePairs": lambda rows: shift(rows[USAGE], region_name=None),
    "ServiceSubcategoryParent": lambda rows: shift(
        rows[USAGE], service_subcategory="Object Storage"
    ),
    "ServiceNameSingleCategory": lambda rows: shift(
        rows[1],
        service_name=rows[USAGE]["service_name"],
        service_category="Other",
        service_subcategory="Other (Other)",
    ),
    "SkuPriceDetailsKeys": lambda rows: shift(rows[USAGE], sku_price_details={"Memory": 4}),
    "SkuPriceDetailsNull": lambda rows: shift(rows[TAX], sku_price_details={"CoreCount": 2}),
    "NotNull": lambda rows: shift(rows[USAGE], billed_cost=None),
}


@pytest.mark.parametrize("rule", ROW_CASES)
def test_each_row_rule_catches_its_violation_and_nothing_else(tmp_path, rule):
    report = check_mutated(tmp_path, ROW_CASES[rule])
    assert [result.rule.id for result in report.errors] == [rule], report.format_text()
    assert report.result(rule).examples[0].line in {USAGE + 2, 1 + 2, TAX + 2}


def test_cost_rounded_to_its_own_precision_is_accepted(tmp_path):
    def round_to_cents(rows):
        row = rows[USAGE]
        quantity, price = Decimal("184.4265"), Decimal("1.280000")
        shift(row, pricing_quantity=quantity, consumed_quantity=quantity, list_unit_price=price)
        shift(row, list_cost=Decimal("236.07"))  # 236.06592 rounded to cents
        shift(row, contracted_cost=row["contracted_unit_price"] * quantity)

    assert check_mutated(tmp_path, round_to_cents).passed


@pytest.mark.parametrize("rule", ["ChargeInBillingPeriod", "ListCostFormula"])
def test_corrections_are_exempt(tmp_path, rule):
    def as_correction(rows):
        ROW_CASES[rule](rows)
        rows[USAGE]["charge_class"] = "Correction"

    assert check_mutated(tmp_path, as_correction).passed


def test_credit_that_differs_from_billed_is_a_warning(tmp_path):
    def credit(rows):
        row = rows[TAX]
        shift(row, charge_category="Credit", effective_cost=row["billed_cost"] - 1)

    report = check_mutated(tmp_path, credit)
    assert report.passed
    assert report.result("CreditCostsMatchBilled").severity == "warning"


def test_format_deviations_fail_only_in_strict_mode(tmp_path):
    path = tmp_path / "loose.csv"
    write_focus_csv(path, conformant_rows(5))
    text = path.read_text().replace("T00:00:00Z", " 00:00:00")
    path.write_text(text)
    loose, strict = check_focus(path), check_focus(path, strict=True)
    assert loose.passed and loose.result("DateTimeFormat").severity == "warning"
    assert not strict.passed and strict.result("DateTimeFormat").count >= 10


def test_unreadable_rows_are_reported_under_their_rule(tmp_path):
    path = tmp_path / "bad.csv"
    write_focus_csv(path, conformant_rows(5))
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",RUB,", ",RUR,", 1)
    path.write_text("".join(lines))
    report = check_focus(path)
    (example,) = report.result("CurrencyFormat").examples
    assert (example.line, example.column, example.value) == (3, "BillingCurrency", "RUR")
    assert report.rows_rejected == 1 and not report.passed


def test_report_renders_as_text_and_dict(sample_report):
    text = sample_report.format_text()
    assert text.endswith("FAIL") and "line 927 ChargeFrequency='Usage-based'" in text
    data = sample_report.as_dict()
    assert data["passed"] is False
    assert {r["rule"] for r in data["results"]} <= set(RULES)
