from __future__ import annotations

import pytest

from providers.focus import spec
from providers.focus.spec import DataType, Level


def test_column_counts_per_version_match_the_spec():
    assert [len(spec.columns_for(v)) for v in spec.VERSIONS] == [43, 50, 57, 65]
    assert len(spec.COLUMNS) == 65


def test_mandatory_columns_all_exist_since_1_0():
    assert {c.since for c in spec.MANDATORY} == {"1.0"}
    assert {"BilledCost", "ChargeClass", "ContractedCost", "PricingUnit"} <= {
        c.name for c in spec.MANDATORY
    }
    assert len(spec.MANDATORY) == 21


def test_names_and_fields_are_unique_and_snake_case():
    fields = [c.field for c in spec.COLUMNS]
    assert len(set(fields)) == len(fields)
    assert spec.BY_NAME["PricingCurrencyContractedUnitPrice"].field == (
        "pricing_currency_contracted_unit_price"
    )
    assert spec.BY_NAME["SkuPriceId"].field == "sku_price_id"


def test_enum_columns_carry_allowed_values_and_only_they_do():
    for column in spec.COLUMNS:
        assert bool(column.allowed) == (column.type is DataType.ENUM), column.name
    assert spec.BY_NAME["ChargeFrequency"].allowed == ("One-Time", "Recurring", "Usage-Based")
    assert len(spec.SERVICE_CATEGORIES) == 19


def test_every_service_subcategory_has_one_known_parent():
    assert len(spec.SERVICE_SUBCATEGORIES) == 82
    assert set(spec.SERVICE_SUBCATEGORIES.values()) == set(spec.SERVICE_CATEGORIES)
    assert spec.SERVICE_SUBCATEGORIES["Virtual Machines"] == "Compute"
    assert spec.SERVICE_SUBCATEGORIES["Other (Other)"] == "Other"


def test_levels_and_nullability_follow_the_rule_text():
    assert spec.BY_NAME["ChargeFrequency"].level is Level.RECOMMENDED
    assert spec.BY_NAME["ChargeFrequency"].nullable is False
    assert spec.BY_NAME["PricingQuantity"].nullable is True
    assert spec.BY_NAME["BillingCurrency"].currency is True


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("1.2", "1.2"), ("v1.1", "1.1"), ("FOCUS 1.0", "1.0"), ("1.2.0", "1.2"), ("1", "1.0")],
)
def test_version_aliases(written, canonical):
    assert spec.canonical_version(written) == canonical


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unsupported FOCUS version"):
        spec.canonical_version("0.5")


def test_detect_version_from_the_newest_column_present():
    assert spec.detect_version(spec.columns_for("1.0")) == "1.0"
    assert spec.detect_version([spec.BY_NAME["BilledCost"], spec.BY_NAME["SkuMeter"]]) == "1.1"
    assert spec.detect_version(spec.columns_for("1.2")) == "1.2"
    assert spec.detect_version(spec.COLUMNS) == "1.3"
    assert spec.detect_version([spec.BY_NAME["ServiceProviderName"]]) == "1.3"


def test_1_3_replaces_provider_and_publisher_with_service_provider_name():
    required = {v: {c.name for c in spec.mandatory_for(v)} for v in spec.VERSIONS}
    assert required["1.0"] == required["1.1"] == required["1.2"] == {c.name for c in spec.MANDATORY}
    assert required["1.3"] == required["1.2"] - {"ProviderName", "PublisherName"} | {
        "ServiceProviderName"
    }
    new = [c.name for c in spec.COLUMNS if c.since == "1.3"]
    assert new == [
        "AllocatedMethodDetails",
        "AllocatedMethodId",
        "AllocatedResourceId",
        "AllocatedResourceName",
        "AllocatedTags",
        "ContractApplied",
        "HostProviderName",
        "ServiceProviderName",
    ]
    assert spec.BY_NAME["AllocatedMethodDetails"].type is DataType.JSON_OBJECT
    assert spec.BY_NAME["AllocatedTags"].type is DataType.JSON
    assert spec.BY_NAME["HostProviderName"].nullable is True
    assert spec.canonical_version("1.3.0") == "1.3"


def test_header_names_are_matched_exactly_or_forgiven_with_a_flag():
    assert spec.match_column("BilledCost") == (spec.BY_NAME["BilledCost"], True)
    assert spec.match_column("billed_cost") == (spec.BY_NAME["BilledCost"], False)
    assert spec.match_column("Provider") == (spec.BY_NAME["ProviderName"], False)  # 1.0-preview
    assert spec.match_column("Id") == (None, False)


def test_extension_names_round_trip_through_snake_case():
    assert spec.extension_field("x_CloudId") == "x_cloud_id"
    assert spec.extension_field("Id") == "x_id"
    assert spec.extension_column("x_cloud_id") == "x_CloudId"
