"""The row and file rules of rules.RULES as code, applied row by row by RowChecker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from providers.focus.issues import IssueLog
from providers.focus.rules import DEFAULT_TOLERANCE
from providers.focus.spec import BY_FIELD, SERVICE_SUBCATEGORIES, SKU_PRICE_DETAILS_KEYS
from providers.focus.values import format_datetime, format_json_object

Finding = tuple[str, Any, str]  # FOCUS column name, offending value, reason
Check = Callable[[dict[str, Any]], list[Finding] | None]


def show(value: Any) -> str | None:
    """A value as it would appear in a FOCUS file, for reports."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_datetime(value.replace(microsecond=0))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return format_json_object(value)
    return str(value)


def _name(field: str) -> str:
    return BY_FIELD[field].name


def _is_correction(row: dict[str, Any]) -> bool:
    return row.get("charge_class") == "Correction"


def _allowance(cost: Decimal, tolerance: Decimal) -> Decimal:
    allowed = tolerance * max(abs(cost), 1)
    exponent = cost.as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        allowed = max(allowed, Decimal(5).scaleb(exponent - 1))
    return allowed


class RowChecker:
    """Applies the row rules whose columns the file has; collects findings in an IssueLog."""

    def __init__(self, fields: Iterable[str], *, tolerance: Decimal = DEFAULT_TOLERANCE) -> None:
        self._present = set(fields)
        self._tolerance = tolerance
        self._checks: list[tuple[str, Check]] = []
        self._service_categories: dict[str, dict[str, int]] = {}
        self._track_services = {"service_name", "service_category"} <= self._present
        self._register()

    @property
    def rule_ids(self) -> list[str]:
        ids = dict.fromkeys(rule_id for rule_id, _ in self._checks)
        if self._track_services:
            ids["ServiceNameSingleCategory"] = None
        return list(ids)

    def check(self, row: dict[str, Any], line: int, log: IssueLog) -> None:
        for rule_id, check in self._checks:
            findings = check(row)
            if findings:
                for column, value, reason in findings:
                    log.add(rule_id, line, column, show(value), reason)
        if self._track_services:
            name, category = row["service_name"], row["service_category"]
            if name is not None and category is not None:
                lines = self._service_categories.setdefault(name, {})
                lines.setdefault(category, line)

    def finish(self, log: IssueLog) -> None:
        """File-level rules, once every row has been seen."""
        for name, categories in self._service_categories.items():
            if len(categories) > 1:
                first, *others = sorted(categories.items(), key=lambda item: item[1])
                for category, line in others:
                    log.add(
                        "ServiceNameSingleCategory",
                        line,
                        "ServiceCategory",
                        category,
                        f"ServiceName {name!r} is already {first[0]!r} (line {first[1]})",
                    )

    # -- registration -----------------------------------------------------------------------------

    def _add(self, rule_id: str, needs: tuple[str, ...], check: Check) -> None:
        if all(field in self._present for field in needs):
            self._checks.append((rule_id, check))

    def _present_of(self, *fields: str) -> tuple[str, ...]:
        return tuple(field for field in fields if field in self._present)

    def _register(self) -> None:
        self._add(
            "ChargePeriodOrder",
            ("charge_period_start", "charge_period_end"),
            _ordered("charge_period_start", "charge_period_end"),
        )
        self._add(
            "BillingPeriodOrder",
            ("billing_period_start", "billing_period_end"),
            _ordered("billing_period_start", "billing_period_end"),
        )
        self._add(
            "ChargeInBillingPeriod",
            (
                "charge_period_start",
                "charge_period_end",
                "billing_period_start",
                "billing_period_end",
            ),
            _charge_in_billing_period,
        )
        for cost, price, rule_id in (
            ("list_cost", "list_unit_price", "ListCostFormula"),
            ("contracted_cost", "contracted_unit_price", "ContractedCostFormula"),
        ):
            self._add(
                rule_id,
                (cost, price, "pricing_quantity"),
                _cost_formula(cost, price, self._tolerance),
            )
        prices = self._present_of(
            "list_unit_price",
            "contracted_unit_price",
            "pricing_currency_list_unit_price",
            "pricing_currency_contracted_unit_price",
        )
        if prices:
            self._add("UnitPriceNonNegative", (), _non_negative(prices))
        self._add(
            "TaxPricingNull",
            ("charge_category",),
            _when_category(
                ("Tax",),
                must_be_null=self._present_of(
                    "list_unit_price",
                    "contracted_unit_price",
                    "pricing_quantity",
                    "pricing_category",
                    "pricing_currency_list_unit_price",
                    "pricing_currency_contracted_unit_price",
                ),
            ),
        )
        self._add(
            "UsagePricingNotNull",
            ("charge_category",),
            _when_category(
                ("Usage", "Purchase"),
                must_not_be_null=self._present_of(
                    "pricing_quantity",
                    "list_unit_price",
                    "contracted_unit_price",
                    "pricing_category",
                ),
            ),
        )
        skus = self._present_of("sku_id", "sku_price_id")
        self._add(
            "SkuNullability", ("charge_category",), _when_category(("Tax",), must_be_null=skus)
        )
        self._add(
            "SkuNullability",
            ("charge_category",),
            _when_category(("Usage", "Purchase"), must_not_be_null=skus),
        )
        self._add(
            "ConsumedQuantityUsage", ("charge_category", "consumed_quantity"), _consumed_quantity
        )
        for quantity, unit in (
            ("pricing_quantity", "pricing_unit"),
            ("consumed_quantity", "consumed_unit"),
            ("commitment_discount_quantity", "commitment_discount_unit"),
        ):
            self._add("QuantityUnitPairs", (quantity, unit), _null_together(quantity, unit))
        self._add(
            "CommitmentDiscountConsistency",
            ("commitment_discount_id",),
            _commitment_discount(self._present),
        )
        self._add(
            "CapacityReservationConsistency",
            ("capacity_reservation_id", "capacity_reservation_status", "charge_category"),
            _capacity_reservation,
        )
        self._add(
            "PurchaseNotUsageBased", ("charge_category", "charge_frequency"), _purchase_frequency
        )
        for key, dependent in (
            ("region_id", "region_name"),
            ("sub_account_id", "sub_account_name"),
            ("sub_account_id", "sub_account_type"),
            ("resource_id", "resource_type"),
        ):
            self._add("IdNamePairs", (key, dependent), _null_together(key, dependent))
        # A resource may have no display name, so only "null without an id" is checkable.
        self._add(
            "IdNamePairs",
            ("resource_id", "resource_name"),
            _null_without("resource_id", "resource_name"),
        )
        self._add(
            "CreditCostsMatchBilled",
            ("charge_category", "billed_cost", "effective_cost"),
            _credit_matches_billed(self._present),
        )
        self._add(
            "ServiceSubcategoryParent",
            ("service_category", "service_subcategory"),
            _subcategory_parent,
        )
        self._add("SkuPriceDetailsKeys", ("sku_price_details",), _sku_price_details_keys)
        self._add("AllocationConsistency", ("allocated_method_id",), _allocation(self._present))
        self._add(
            "AllocationConsistency",
            ("allocated_resource_id", "allocated_resource_name"),
            _null_without("allocated_resource_id", "allocated_resource_name"),
        )
        self._add("AllocatedRatioRange", ("allocated_method_details",), _allocated_ratios)
        self._add(
            "SkuPriceDetailsNull",
            ("sku_price_details", "sku_price_id"),
            _null_without("sku_price_id", "sku_price_details"),
        )


# -- rule implementations -------------------------------------------------------------------------


def _ordered(start: str, end: str) -> Check:
    def check(row: dict[str, Any]) -> list[Finding] | None:
        begins, ends = row[start], row[end]
        if begins is not None and ends is not None and not begins < ends:
            return [(_name(end), ends, f"not after {_name(start)} {show(begins)}")]
        return None

    return check


def _charge_in_billing_period(row: dict[str, Any]) -> list[Finding] | None:
    starts, ends = row["charge_period_start"], row["charge_period_end"]
    billing_starts, billing_ends = row["billing_period_start"], row["billing_period_end"]
    if None in (starts, ends, billing_starts, billing_ends) or _is_correction(row):
        return None
    if starts < billing_starts or ends > billing_ends:
        reason = (
            f"charge period {show(starts)}..{show(ends)} is outside billing period "
            f"{show(billing_starts)}..{show(billing_ends)}"
        )
        return [("ChargePeriodStart", starts, reason)]
    return None


def _cost_formula(cost_field: str, price_field: str, tolerance: Decimal) -> Check:
    cost_name, price_name = _name(cost_field), _name(price_field)

    def check(row: dict[str, Any]) -> list[Finding] | None:
        price, quantity, cost = row[price_field], row["pricing_quantity"], row[cost_field]
        if price is None or quantity is None or cost is None or _is_correction(row):
            return None
        expected = price * quantity
        if abs(expected - cost) <= _allowance(cost, tolerance):
            return None
        reason = f"{price_name} {show(price)} x PricingQuantity {show(quantity)} = {show(expected)}"
        return [(cost_name, cost, reason)]

    return check


def _non_negative(fields: tuple[str, ...]) -> Check:
    def check(row: dict[str, Any]) -> list[Finding] | None:
        return [
            (_name(field), row[field], "negative unit price")
            for field in fields
            if row[field] is not None and row[field] < 0
        ]

    return check


def _when_category(
    categories: tuple[str, ...],
    must_be_null: tuple[str, ...] = (),
    must_not_be_null: tuple[str, ...] = (),
) -> Check:
    def check(row: dict[str, Any]) -> list[Finding] | None:
        category = row["charge_category"]
        if category not in categories:
            return None
        findings = [
            (_name(field), row[field], f"MUST be null when ChargeCategory is {category}")
            for field in must_be_null
            if row[field] is not None
        ]
        if must_not_be_null and not _is_correction(row):
            findings += [
                (_name(field), None, f"MUST NOT be null when ChargeCategory is {category}")
                for field in must_not_be_null
                if row[field] is None
            ]
        return findings

    return check


def _consumed_quantity(row: dict[str, Any]) -> list[Finding] | None:
    quantity = row["consumed_quantity"]
    unused = row.get("commitment_discount_status") == "Unused"
    if row["charge_category"] != "Usage" or unused:
        if quantity is not None:
            why = "an Unused commitment" if unused else f"ChargeCategory {row['charge_category']}"
            return [("ConsumedQuantity", quantity, f"MUST be null for {why}")]
    elif quantity is None and not _is_correction(row):
        return [("ConsumedQuantity", None, "MUST NOT be null for usage")]
    return None


def _null_together(key: str, dependent: str) -> Check:
    def check(row: dict[str, Any]) -> list[Finding] | None:
        if (row[key] is None) == (row[dependent] is None):
            return None
        if row[key] is None:
            return [(_name(dependent), row[dependent], f"MUST be null when {_name(key)} is null")]
        return [(_name(dependent), None, f"MUST NOT be null when {_name(key)} is not null")]

    return check


def _null_without(key: str, dependent: str) -> Check:
    def check(row: dict[str, Any]) -> list[Finding] | None:
        if row[key] is None and row[dependent] is not None:
            return [(_name(dependent), row[dependent], f"MUST be null when {_name(key)} is null")]
        return None

    return check


def _commitment_discount(present: set[str]) -> Check:
    dependents = tuple(
        field
        for field in (
            "commitment_discount_category",
            "commitment_discount_name",
            "commitment_discount_status",
            "commitment_discount_type",
            "commitment_discount_quantity",
            "commitment_discount_unit",
        )
        if field in present
    )
    required = tuple(
        field
        for field in ("commitment_discount_category", "commitment_discount_type")
        if field in present
    )
    status_required = "commitment_discount_status" in present and "charge_category" in present

    def check(row: dict[str, Any]) -> list[Finding] | None:
        if row["commitment_discount_id"] is None:
            return [
                (_name(field), row[field], "MUST be null when CommitmentDiscountId is null")
                for field in dependents
                if row[field] is not None
            ]
        findings = [
            (_name(field), None, "MUST NOT be null when CommitmentDiscountId is set")
            for field in required
            if row[field] is None
        ]
        if (
            status_required
            and row["charge_category"] == "Usage"
            and row["commitment_discount_status"] is None
        ):
            findings.append(
                ("CommitmentDiscountStatus", None, "MUST NOT be null for commitment usage")
            )
        return findings

    return check


def _capacity_reservation(row: dict[str, Any]) -> list[Finding] | None:
    status = row["capacity_reservation_status"]
    if row["capacity_reservation_id"] is None:
        if status is not None:
            return [("CapacityReservationStatus", status, "MUST be null without a reservation")]
    elif status is None and row["charge_category"] == "Usage":
        return [("CapacityReservationStatus", None, "MUST NOT be null for reservation usage")]
    return None


def _purchase_frequency(row: dict[str, Any]) -> list[Finding] | None:
    if row["charge_category"] == "Purchase" and row["charge_frequency"] == "Usage-Based":
        return [("ChargeFrequency", "Usage-Based", "a Purchase cannot be Usage-Based")]
    return None


def _credit_matches_billed(present: set[str]) -> Check:
    pairs = [("effective_cost", None)]
    pairs += [
        (cost, price)
        for cost, price in (
            ("list_cost", "list_unit_price"),
            ("contracted_cost", "contracted_unit_price"),
        )
        if cost in present
    ]

    def check(row: dict[str, Any]) -> list[Finding] | None:
        billed = row["billed_cost"]
        if row["charge_category"] != "Credit" or billed is None:
            return None
        return [
            (_name(cost), row[cost], f"differs from BilledCost {show(billed)}")
            for cost, price in pairs
            if (price is None or row.get(price) is None)
            and row[cost] is not None
            and row[cost] != billed
        ]

    return check


def _subcategory_parent(row: dict[str, Any]) -> list[Finding] | None:
    subcategory, category = row["service_subcategory"], row["service_category"]
    if subcategory is None or category is None:
        return None
    parent = SERVICE_SUBCATEGORIES.get(subcategory)
    if parent is not None and parent != category:
        return [("ServiceSubcategory", subcategory, f"belongs to {parent}, not {category}")]
    return None


def _allocation(present: set[str]) -> Check:
    dependents = tuple(
        field
        for field in (
            "allocated_method_details",
            "allocated_resource_id",
            "allocated_resource_name",
            "allocated_tags",
        )
        if field in present
    )
    details = "allocated_method_details" in present

    def check(row: dict[str, Any]) -> list[Finding] | None:
        if row["allocated_method_id"] is None:
            return [
                (_name(field), row[field], "MUST be null when AllocatedMethodId is null")
                for field in dependents
                if row[field] is not None
            ]
        if details and row["allocated_method_details"] is None:
            return [("AllocatedMethodDetails", None, "MUST NOT be null for a split charge")]
        return None

    return check


def _allocated_ratios(row: dict[str, Any]) -> list[Finding] | None:
    details = row["allocated_method_details"]
    if not details:
        return None
    findings = []
    for n, element in enumerate(details.get("Elements") or ()):
        ratio = element.get("AllocatedRatio")
        if isinstance(ratio, bool) or not isinstance(ratio, int | Decimal) or not 0 <= ratio <= 1:
            findings.append(
                ("AllocatedMethodDetails", ratio, f"Elements[{n}].AllocatedRatio not from 0 to 1")
            )
    return findings


def _sku_price_details_keys(row: dict[str, Any]) -> list[Finding] | None:
    details = row["sku_price_details"]
    if not details:
        return None
    return [
        ("SkuPriceDetails", key, "key is neither FOCUS-defined nor x_-prefixed")
        for key in details
        if key not in SKU_PRICE_DETAILS_KEYS and not key.startswith("x_")
    ]
