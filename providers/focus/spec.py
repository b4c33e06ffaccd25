"""The FOCUS 1.0-1.3 column catalogue (the cost and usage dataset).

One entry per column: 43 existed in 1.0, 50 in 1.1, 57 in 1.2 and 65 in 1.3. Levels,
nullability and types come from each column's "Content Constraints" table in the spec; they did not
change between 1.0 and 1.2. Where the 1.2 rule text is stricter than the table (ChargeFrequency,
PricingCurrency, PricingCurrencyEffectiveCost, ServiceSubcategory "MUST NOT be null" once present),
the catalogue follows the rule text, because that is what a conformance checker must enforce.

FOCUS 1.3 adds the split-cost-allocation columns (Allocated*), ContractApplied, and
ServiceProviderName and HostProviderName, which replace the deprecated ProviderName and
PublisherName: from 1.3 on those two are no longer required (a 1.3 file may still carry them).
HostProviderName is Recommended and nullable (a tax or a purchase has no host). The 1.3
Contract Commitment dataset is a separate dataset and not part of this catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class DataType(StrEnum):
    STRING = "string"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    JSON = "json"  # the spec's Key-Value Format: a serialized JSON object of scalars
    # 1.3's JSON Object Format: an object whose "Elements" array holds Key-Value objects
    JSON_OBJECT = "json_object"
    ENUM = "enum"  # a string restricted to the spec's allowed values


class Level(StrEnum):
    MANDATORY = "Mandatory"
    CONDITIONAL = "Conditional"
    RECOMMENDED = "Recommended"


VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")
LATEST_VERSION = "1.3"

# Producers write the version in many ways (metadata files, file names, provider docs).
_VERSION_ALIASES = {
    "1": "1.0",
    "1.0": "1.0",
    "1.0.0": "1.0",
    "1.0r2": "1.0",
    "1.1": "1.1",
    "1.1.0": "1.1",
    "1.2": "1.2",
    "1.2.0": "1.2",
    "1.2.0.1": "1.2",
    "1.3": "1.3",
    "1.3.0": "1.3",
    "1.3.0.1": "1.3",
}


def canonical_version(value: str) -> str:
    """'v1.2', 'FOCUS 1.2.0', '1.2' -> '1.2'. Raises ValueError for versions we cannot read."""
    text = value.strip().lower().removeprefix("focus").strip().removeprefix("v")
    try:
        return _VERSION_ALIASES[text]
    except KeyError:
        raise ValueError(f"unsupported FOCUS version {value!r}; supported: {VERSIONS}") from None


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in canonical_version(version).split("."))


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")


def field_name(column_id: str) -> str:
    """snake_case key used in normalised rows: 'ListUnitPrice' -> 'list_unit_price'."""
    words = _NOT_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", column_id)).strip("_")
    return words.lower()


def extension_field(column_name: str) -> str:
    """Row key for a custom column, 'x_CloudId' -> 'x_cloud_id', 'Id' -> 'x_id'."""
    return "x_" + field_name(column_name.removeprefix("x_"))


def extension_column(field: str) -> str:
    """Header name our writer uses for a custom field: 'x_cloud_id' -> 'x_CloudId'."""
    words = field.removeprefix("x_").split("_")
    return "x_" + "".join(word[:1].upper() + word[1:] for word in words if word)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: DataType
    level: Level
    nullable: bool
    since: str
    allowed: tuple[str, ...] = ()
    currency: bool = False  # CurrencyFormat: an ISO 4217 code
    unit: bool = False  # UnitFormat (a SHOULD, so informational only)
    deprecated: str | None = None  # the version from which the column is no longer required
    field: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", field_name(self.name))

    @property
    def mandatory(self) -> bool:
        """Mandatory in some version (see required_in for a given one)."""
        return self.level is Level.MANDATORY

    def required_in(self, version: str) -> bool:
        """A file of this FOCUS version MUST have the column."""
        key = version_key(version)
        return (
            self.mandatory
            and version_key(self.since) <= key
            and (self.deprecated is None or key < version_key(self.deprecated))
        )


CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_CLASSES = ("Correction",)
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
COMMITMENT_DISCOUNT_CATEGORIES = ("Spend", "Usage")
USAGE_STATUSES = ("Used", "Unused")  # CommitmentDiscountStatus and CapacityReservationStatus

# ServiceSubcategory (1.1+) -> its one parent ServiceCategory, in the spec's order.
SERVICE_SUBCATEGORIES: dict[str, str] = {
    sub: parent
    for parent, subs in {
        "AI and Machine Learning": (
            "AI Platforms",
            "Bots",
            "Generative AI",
            "Machine Learning",
            "Natural Language Processing",
        ),
        "Analytics": (
            "Analytics Platforms",
            "Business Intelligence",
            "Data Processing",
            "Search",
            "Streaming Analytics",
        ),
        "Business Applications": ("Productivity and Collaboration",),
        "Compute": (
            "Containers",
            "End User Computing",
            "Quantum Compute",
            "Serverless Compute",
            "Virtual Machines",
        ),
        "Databases": (
            "Caching",
            "Data Warehouses",
            "Ledger Databases",
            "NoSQL Databases",
            "Relational Databases",
            "Time Series Databases",
        ),
        "Developer Tools": (
            "Developer Platforms",
            "Continuous Integration and Deployment",
            "Development Environments",
            "Source Code Management",
            "Quality Assurance",
        ),
        "Identity": ("Identity and Access Management",),
        "Integration": ("API Management", "Messaging", "Workflow Orchestration"),
        "Internet of Things": ("IoT Analytics", "IoT Platforms"),
        "Management and Governance": (
            "Architecture",
            "Compliance",
            "Cost Management",
            "Data Governance",
            "Disaster Recovery",
            "Endpoint Management",
            "Observability",
            "Support",
        ),
        "Media": ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality"),
        "Migration": ("Data Migration", "Resource Migration"),
        "Mobile": (),
        "Multicloud": ("Multicloud Integration",),
        "Networking": (
            "Application Networking",
            "Content Delivery",
            "Network Connectivity",
            "Network Infrastructure",
            "Network Routing",
            "Network Security",
        ),
        "Security": (
            "Secret Management",
            "Security Posture Management",
            "Threat Detection and Response",
        ),
        "Storage": (
            "Backup Storage",
            "Block Storage",
            "File Storage",
            "Object Storage",
            "Storage Platforms",
        ),
        "Web": ("Application Platforms",),
        "Other": (),
    }.items()
    for sub in (*subs, f"Other ({parent})")
}

SERVICE_CATEGORIES = tuple(dict.fromkeys(SERVICE_SUBCATEGORIES.values()))

# SkuPriceDetails keys FOCUS defines; any other key MUST start with x_.
SKU_PRICE_DETAILS_KEYS = frozenset(
    {
        "CoreCount",
        "DiskMaxIops",
        "DiskSpace",
        "DiskType",
        "GpuCount",
        "InstanceSeries",
        "InstanceType",
        "MemorySize",
        "NetworkMaxIops",
        "NetworkMaxThroughput",
        "OperatingSystem",
        "Redundancy",
        "StorageClass",
    }
)

_S, _D, _T, _J, _E = (DataType.STRING, DataType.DECIMAL, DataType.DATETIME, DataType.JSON,
                      DataType.ENUM)  # fmt: skip
_M, _C, _R = Level.MANDATORY, Level.CONDITIONAL, Level.RECOMMENDED

_O = DataType.JSON_OBJECT

# Alphabetical, as in the spec; our writer emits FOCUS columns in this order.
COLUMNS: tuple[Column, ...] = (
    Column("AllocatedMethodDetails", _O, _C, True, "1.3"),
    Column("AllocatedMethodId", _S, _C, True, "1.3"),
    Column("AllocatedResourceId", _S, _C, True, "1.3"),
    Column("AllocatedResourceName", _S, _C, True, "1.3"),
    Column("AllocatedTags", _J, _C, True, "1.3"),
    Column("AvailabilityZone", _S, _R, True, "1.0"),
    Column("BilledCost", _D, _M, False, "1.0"),
    Column("BillingAccountId", _S, _M, False, "1.0"),
    Column("BillingAccountName", _S, _M, True, "1.0"),
    Column("BillingAccountType", _S, _C, False, "1.2"),
    Column("BillingCurrency", _S, _M, False, "1.0", currency=True),
    Column("BillingPeriodEnd", _T, _M, False, "1.0"),
    Column("BillingPeriodStart", _T, _M, False, "1.0"),
    Column("CapacityReservationId", _S, _C, True, "1.1"),
    Column("CapacityReservationStatus", _E, _C, True, "1.1", USAGE_STATUSES),
    Column("ChargeCategory", _E, _M, False, "1.0", CHARGE_CATEGORIES),
    Column("ChargeClass", _E, _M, True, "1.0", CHARGE_CLASSES),
    Column("ChargeDescription", _S, _M, True, "1.0"),
    Column("ChargeFrequency", _E, _R, False, "1.0", CHARGE_FREQUENCIES),
    Column("ChargePeriodEnd", _T, _M, False, "1.0"),
    Column("ChargePeriodStart", _T, _M, False, "1.0"),
    Column("CommitmentDiscountCategory", _E, _C, True, "1.0", COMMITMENT_DISCOUNT_CATEGORIES),
    Column("CommitmentDiscountId", _S, _C, True, "1.0"),
    Column("CommitmentDiscountName", _S, _C, True, "1.0"),
    Column("CommitmentDiscountQuantity", _D, _C, True, "1.1"),
    Column("CommitmentDiscountStatus", _E, _C, True, "1.0", USAGE_STATUSES),
    Column("CommitmentDiscountType", _S, _C, True, "1.0"),
    Column("CommitmentDiscountUnit", _S, _C, True, "1.1", unit=True),
    Column("ConsumedQuantity", _D, _C, True, "1.0"),
    Column("ConsumedUnit", _S, _C, True, "1.0", unit=True),
    Column("ContractApplied", _O, _C, True, "1.3"),
    Column("ContractedCost", _D, _M, False, "1.0"),
    Column("ContractedUnitPrice", _D, _C, True, "1.0"),
    Column("EffectiveCost", _D, _M, False, "1.0"),
    Column("HostProviderName", _S, _R, True, "1.3"),
    Column("InvoiceId", _S, _R, True, "1.2"),
    Column("InvoiceIssuerName", _S, _M, False, "1.0"),
    Column("ListCost", _D, _M, False, "1.0"),
    Column("ListUnitPrice", _D, _C, True, "1.0"),
    Column("PricingCategory", _E, _C, True, "1.0", PRICING_CATEGORIES),
    Column("PricingCurrency", _S, _C, False, "1.2", currency=True),
    Column("PricingCurrencyContractedUnitPrice", _D, _C, True, "1.2"),
    Column("PricingCurrencyEffectiveCost", _D, _C, False, "1.2"),
    Column("PricingCurrencyListUnitPrice", _D, _C, True, "1.2"),
    Column("PricingQuantity", _D, _M, True, "1.0"),
    Column("PricingUnit", _S, _M, True, "1.0", unit=True),
    Column("ProviderName", _S, _M, False, "1.0", deprecated="1.3"),
    Column("PublisherName", _S, _M, False, "1.0", deprecated="1.3"),
    Column("RegionId", _S, _C, True, "1.0"),
    Column("RegionName", _S, _C, True, "1.0"),
    Column("ResourceId", _S, _C, True, "1.0"),
    Column("ResourceName", _S, _C, True, "1.0"),
    Column("ResourceType", _S, _C, True, "1.0"),
    Column("ServiceCategory", _E, _M, False, "1.0", SERVICE_CATEGORIES),
    Column("ServiceName", _S, _M, False, "1.0"),
    Column("ServiceProviderName", _S, _M, False, "1.3"),
    Column("ServiceSubcategory", _E, _R, False, "1.1", tuple(SERVICE_SUBCATEGORIES)),
    Column("SkuId", _S, _C, True, "1.0"),
    Column("SkuMeter", _S, _C, True, "1.1"),
    Column("SkuPriceDetails", _J, _C, True, "1.1"),
    Column("SkuPriceId", _S, _C, True, "1.0"),
    Column("SubAccountId", _S, _C, True, "1.0"),
    Column("SubAccountName", _S, _C, True, "1.0"),
    Column("SubAccountType", _S, _C, True, "1.2"),
    Column("Tags", _J, _C, True, "1.0"),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
BY_FIELD: dict[str, Column] = {c.field: c for c in COLUMNS}


def mandatory_for(version: str) -> tuple[Column, ...]:
    """The columns a file of this FOCUS version MUST have."""
    return tuple(c for c in COLUMNS if c.required_in(version))


MANDATORY: tuple[Column, ...] = mandatory_for("1.2")  # what 1.0-1.2 files must have

# Header spellings we accept for a column, each reported as a warning: any case or spacing of the
# column ID, and the 1.0-preview names that 1.0 renamed.
_PREVIEW_NAMES = {
    "Provider": "ProviderName",
    "Publisher": "PublisherName",
    "InvoiceIssuer": "InvoiceIssuerName",
}
_LOOSE_NAMES: dict[str, Column] = {
    **{c.name.casefold(): c for c in COLUMNS},
    **{old.casefold(): BY_NAME[new] for old, new in _PREVIEW_NAMES.items()},
}


def column(name: str) -> Column:
    """The column with this exact FOCUS column ID (KeyError otherwise)."""
    return BY_NAME[name]


def match_column(header_name: str) -> tuple[Column | None, bool]:
    """(column, exact) for a header cell; exact is False when we had to forgive its spelling."""
    exact = BY_NAME.get(header_name)
    if exact is not None:
        return exact, True
    loose = _LOOSE_NAMES.get(header_name.replace(" ", "").replace("_", "").casefold())
    return loose, False


def columns_for(version: str = LATEST_VERSION) -> tuple[Column, ...]:
    limit = version_key(version)
    return tuple(c for c in COLUMNS if version_key(c.since) <= limit)


def detect_version(columns: list[Column] | tuple[Column, ...]) -> str:
    """The newest version whose new columns the file uses; files without metadata say no more."""
    newest = max((version_key(c.since) for c in columns), default=version_key("1.0"))
    return ".".join(str(part) for part in newest)
