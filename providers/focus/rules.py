"""The conformance rules our checker applies: ids, severities and the FOCUS version requiring each.

Rule ids are ours (short names after the spec's wording); each carries the first FOCUS version that
requires it. A rule newer than the file's version is still evaluated but reported as a warning,
because a 1.0 file cannot be faulted for a 1.2 requirement, yet the finding matters on export.

Severity "strict" marks representation rules (date/time text, NULL placeholders, number text,
header spelling): the reader repairs these losslessly, so they fail only a --strict check.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from providers.focus.issues import Kind

# Cost = unit price x quantity is exact in the spec. Providers round costs to their own precision,
# so we allow half a unit in the cost's last written digit, and at least the relative 1e-9 that
# focus-validator 2.2.1 allows (scaled by max(|cost|, 1), as it does).
DEFAULT_TOLERANCE = Decimal("1e-9")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    STRICT = "strict"  # an error with --strict, a warning otherwise


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    description: str
    since: str = "1.0"


_E, _W, _S = Severity.ERROR, Severity.WARNING, Severity.STRICT

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        # file and header
        Rule("FileStructure", _E, "The file is readable CSV/Parquet and every row has as many "
             "fields as the header"),
        Rule("ColumnPresence", _E, "Mandatory columns MUST be present"),
        Rule("DuplicateColumn", _E, "A column MUST appear once"),
        Rule("ColumnNames", _S, "Column IDs MUST be spelled exactly as in the spec"),
        Rule("CustomColumnPrefix", _E, "Custom (non-FOCUS) columns MUST be prefixed with x_"),
        Rule("CustomColumnOrder", _W, "Custom columns SHOULD follow all FOCUS columns"),
        # value formats
        Rule("NullHandling", _S, "Nulls MUST be real nulls, not placeholders such as NULL or "
             "empty strings"),
        Rule("DateTimeType", _E, "Date/time columns MUST hold ISO 8601 date/times"),
        Rule("DateTimeFormat", _S, "Date/times MUST be written YYYY-MM-DDTHH:mm:ssZ (UTC)"),
        Rule("DecimalType", _E, "Numeric columns MUST hold numbers"),
        Rule("NumericFormat", _S, "Numbers MUST NOT carry '+', '+' exponents or padding"),
        Rule("QuotedNumbers", _W, "Numbers written as quoted CSV strings (typed readers may "
             "take them for text)"),
        Rule("FloatStorage", _W, "Money stored as binary floating point cannot be exact"),
        Rule("AllowedValues", _E, "Enumerated columns MUST hold one of the allowed values, "
             "exactly as spelled in the spec"),
        Rule("CurrencyFormat", _E, "Currency columns MUST hold ISO 4217 codes (BillingCurrency: "
             "a national currency)"),
        Rule("VirtualCurrency", _W, "PricingCurrency is outside ISO 4217 (a virtual currency)",
             "1.2"),
        Rule("KeyValueFormat", _E, "Tags and SkuPriceDetails MUST be JSON objects of scalars "
             "with unique keys"),
        Rule("TagKeys", _W, "Tag keys with leading or trailing spaces (kept as written)"),
        Rule("SkuPriceDetailsKeys", _E, "SkuPriceDetails keys MUST be FOCUS-defined or start "
             "with x_", "1.1"),
        Rule("NotNull", _E, "Columns that do not allow nulls MUST NOT be null"),
        # row semantics
        Rule("ChargePeriodOrder", _E, "ChargePeriodStart MUST be before ChargePeriodEnd"),
        Rule("BillingPeriodOrder", _E, "BillingPeriodStart MUST be before BillingPeriodEnd"),
        Rule("ChargeInBillingPeriod", _E, "The charge period MUST lie within the billing period "
             "(except ChargeClass Correction)"),
        Rule("ListCostFormula", _E, "ListCost MUST equal ListUnitPrice x PricingQuantity (when "
             "both are not null, except ChargeClass Correction)"),
        Rule("ContractedCostFormula", _E, "ContractedCost MUST equal ContractedUnitPrice x "
             "PricingQuantity (when both are not null, except ChargeClass Correction)"),
        Rule("UnitPriceNonNegative", _E, "Unit prices MUST NOT be negative"),
        Rule("TaxPricingNull", _E, "Tax rows MUST have null unit prices, PricingQuantity and "
             "PricingCategory"),
        Rule("UsagePricingNotNull", _E, "Usage and Purchase rows (not corrections) MUST have "
             "PricingQuantity, unit prices and PricingCategory"),
        Rule("SkuNullability", _E, "SkuId/SkuPriceId MUST be null for Tax and MUST NOT be null "
             "for Usage and Purchase (not corrections)", "1.2"),
        Rule("ConsumedQuantityUsage", _E, "ConsumedQuantity MUST be null unless ChargeCategory is "
             "Usage (and not Unused commitment), and not null for such usage"),
        Rule("QuantityUnitPairs", _E, "A unit column MUST be null exactly when its quantity is "
             "null", "1.2"),
        Rule("CommitmentDiscountConsistency", _E, "Commitment discount columns MUST be null "
             "without CommitmentDiscountId; category and type (and status for usage) MUST NOT "
             "be null with one"),
        Rule("CapacityReservationConsistency", _E, "CapacityReservationStatus MUST be null "
             "without CapacityReservationId and set on its usage rows", "1.1"),
        Rule("PurchaseNotUsageBased", _E, "ChargeFrequency MUST NOT be Usage-Based for a "
             "Purchase"),
        Rule("IdNamePairs", _E, "Region, sub-account and resource names/types MUST be null "
             "exactly when their id is null", "1.2"),
        Rule("CreditCostsMatchBilled", _W, "A credit unrelated to other charges SHOULD have "
             "EffectiveCost (and List/ContractedCost without unit price) equal to BilledCost"),
        Rule("ServiceSubcategoryParent", _E, "ServiceSubcategory MUST belong to the row's "
             "ServiceCategory", "1.1"),
        Rule("ServiceNameSingleCategory", _E, "A ServiceName MUST have one ServiceCategory",
             "1.2"),
        Rule("SkuPriceDetailsNull", _E, "SkuPriceDetails MUST be null when SkuPriceId is null",
             "1.2"),
        # FOCUS 1.3
        Rule("JsonObjectFormat", _E, "AllocatedMethodDetails and ContractApplied MUST be JSON "
             "objects whose Elements is a non-empty array of key-value objects", "1.3"),
        Rule("AllocationConsistency", _E, "Allocated columns MUST be null unless "
             "AllocatedMethodId is set, AllocatedMethodDetails MUST NOT be null when it is, and "
             "AllocatedResourceName MUST be null without AllocatedResourceId", "1.3"),
        Rule("AllocatedRatioRange", _E, "Every AllocatedMethodDetails element MUST have a "
             "numeric AllocatedRatio from 0 to 1", "1.3"),
    )
}  # fmt: skip

# What each reader finding means in conformance terms.
RULE_FOR_KIND: dict[str, str] = {
    Kind.NULL_LITERAL: "NullHandling",
    Kind.EMPTY_STRING: "NullHandling",
    Kind.QUOTED_NUMBER: "QuotedNumbers",
    Kind.DATETIME_FORMAT: "DateTimeFormat",
    Kind.NUMERIC_FORMAT: "NumericFormat",
    Kind.VALUE_CASE: "AllowedValues",
    Kind.CURRENCY_CASE: "CurrencyFormat",
    Kind.COLUMN_NAME: "ColumnNames",
    Kind.UNPREFIXED_COLUMN: "CustomColumnPrefix",
    Kind.TAG_KEY_SPACES: "TagKeys",
    Kind.VIRTUAL_CURRENCY: "VirtualCurrency",
    Kind.FLOAT_VALUE: "FloatStorage",
    Kind.NOT_FOCUS: "ColumnPresence",
    Kind.MISSING_COLUMN: "ColumnPresence",
    Kind.DUPLICATE_COLUMN: "DuplicateColumn",
    Kind.TRUNCATED_ROW: "FileStructure",
    Kind.EXTRA_FIELDS: "FileStructure",
    Kind.MALFORMED_CSV: "FileStructure",
    Kind.BAD_ENCODING: "FileStructure",
    Kind.UNREADABLE_FILE: "FileStructure",
    Kind.INVALID_DECIMAL: "DecimalType",
    Kind.INVALID_DATETIME: "DateTimeType",
    Kind.INVALID_VALUE: "AllowedValues",
    Kind.UNKNOWN_CURRENCY: "CurrencyFormat",
    Kind.INVALID_KEY_VALUE: "KeyValueFormat",
    Kind.INVALID_JSON_OBJECT: "JsonObjectFormat",
}
