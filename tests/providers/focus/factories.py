"""Deterministic, FOCUS 1.2-conformant normalised rows for tests and the reader benchmark.

Shaped like our own export of Yandex Cloud data: hourly usage rows with exact list and contracted
prices (cost = unit price x quantity, exactly), VAT rows as ChargeCategory "Tax", an occasional
credit, tags, and custom x_ columns.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

PROVIDER = "Yandex Cloud"
VAT_RATE = Decimal("0.22")  # Russian VAT from 2026-01-01
DISCOUNT = Decimal("0.90")  # contracted price = 90% of list

SERVICES = (
    # ServiceName, ServiceCategory, ServiceSubcategory, PricingUnit, SkuPriceDetails
    ("Compute Cloud", "Compute", "Virtual Machines", "Hours", {"CoreCount": 2, "MemorySize": 4}),
    ("Object Storage", "Storage", "Object Storage", "GB-Months", {"StorageClass": "Standard"}),
    ("Managed Service for PostgreSQL", "Databases", "Relational Databases", "Hours", None),
    ("Virtual Private Cloud", "Networking", "Network Connectivity", "GB", None),
    ("Cloud Logging", "Management and Governance", "Observability", "GB", None),
)
PRICES = tuple(Decimal(p) for p in ("1.280000", "0.002100", "3.950000", "0.015000", "0.450000"))
FOLDERS = tuple((f"b1g{n:017d}", f"folder-{n}") for n in range(12))
TAG_SETS = (
    None,
    {"env": "prod", "team": "payments"},
    {"env": "dev", "team": "data", "cost-center": "cc-1042"},
    {"env": "staging", "owner": "ops", "critical": True},
)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def conformant_rows(
    count: int, *, seed: int = 1202, year: int = 2026, month: int = 1
) -> Iterator[dict[str, Any]]:
    """`count` rows: usage, with one VAT row after every 20 usage rows and a credit every 500."""
    rng = random.Random(seed)
    period_start, period_end = month_bounds(year, month)
    hours = int((period_end - period_start).total_seconds() // 3600)
    for n in range(count):
        start = period_start + timedelta(hours=rng.randrange(hours))
        folder_id, folder_name = rng.choice(FOLDERS)
        service = rng.randrange(len(SERVICES))
        row = _common(n, period_start, period_end, start, folder_id, folder_name)
        if n % 500 == 499:
            row.update(_credit(rng))
        elif n % 21 == 20:
            row.update(_tax(rng))
        else:
            row.update(_usage(rng, n, service))
        yield row


def _common(
    n: int,
    period_start: datetime,
    period_end: datetime,
    start: datetime,
    folder_id: str,
    folder_name: str,
) -> dict[str, Any]:
    return {
        # AvailabilityZone and the (null) commitment columns are here because focus-validator
        # 2.2.1 fails ConsumedQuantity-C-006-C and the AvailabilityZone rules without them.
        "availability_zone": None,
        "commitment_discount_id": None,
        "commitment_discount_status": None,
        "billing_account_id": "dn2billing0000000001",
        "billing_account_name": "InfraZen demo",
        "billing_account_type": "Billing Account",
        "billing_currency": "RUB",
        "billing_period_start": period_start,
        "billing_period_end": period_end,
        "charge_period_start": start,
        "charge_period_end": start + timedelta(hours=1),
        "charge_class": None,
        "invoice_id": f"INV-{period_start:%Y%m}",
        "invoice_issuer_name": PROVIDER,
        "provider_name": PROVIDER,
        "publisher_name": PROVIDER,
        "region_id": "ru-central1",
        "region_name": "Russia Central 1",
        "sub_account_id": folder_id,
        "sub_account_name": folder_name,
        "sub_account_type": "Folder",
        "x_cloud_id": "b1gcloud000000000001",
        "x_row_number": n,
    }


def _usage(rng: random.Random, n: int, service: int) -> dict[str, Any]:
    name, category, subcategory, unit, details = SERVICES[service]
    list_price = PRICES[service]
    contracted_price = list_price * DISCOUNT
    quantity = Decimal(rng.randrange(1, 2_000_000)).scaleb(-4)
    tags = TAG_SETS[n % len(TAG_SETS)]
    sku = f"dn2sku{service:014d}"
    return {
        "availability_zone": "ru-central1-a" if category == "Compute" else None,
        "service_name": name,
        "service_category": category,
        "service_subcategory": subcategory,
        "charge_category": "Usage",
        "charge_frequency": "Usage-Based",
        "charge_description": f"{name}, {unit}",
        "pricing_category": "Standard",
        "pricing_quantity": quantity,
        "pricing_unit": unit,
        "consumed_quantity": quantity,
        "consumed_unit": unit,
        "list_unit_price": list_price,
        "contracted_unit_price": contracted_price,
        "list_cost": list_price * quantity,
        "contracted_cost": contracted_price * quantity,
        "billed_cost": contracted_price * quantity,
        "effective_cost": contracted_price * quantity,
        "resource_id": f"fhm{n % 4000:017d}",
        "resource_name": f"{category.lower()}-{n % 4000}",
        "resource_type": subcategory,
        "sku_id": sku,
        "sku_price_id": f"{sku}-rub",
        "sku_meter": unit,
        "sku_price_details": dict(details) if details else None,
        "tags": dict(tags) if tags else None,
        "x_service_id": f"dn2svc{service:014d}",
    }


def _tax(rng: random.Random) -> dict[str, Any]:
    base = Decimal(rng.randrange(1, 10_000_000)).scaleb(-4)
    vat = base * VAT_RATE
    return {
        "service_name": "VAT",
        "service_category": "Other",
        "service_subcategory": "Other (Other)",
        "charge_category": "Tax",
        "charge_frequency": "Recurring",
        "charge_description": "VAT 22%",
        "list_cost": vat,
        "contracted_cost": vat,
        "billed_cost": vat,
        "effective_cost": vat,
        "tags": None,
    }


def _credit(rng: random.Random) -> dict[str, Any]:
    amount = -Decimal(rng.randrange(1, 1_000_000)).scaleb(-2)
    return {
        "service_name": "Grant",
        "service_category": "Other",
        "service_subcategory": "Other (Other)",
        "charge_category": "Credit",
        "charge_frequency": "One-Time",
        "charge_description": "Monetary grant",
        "list_cost": amount,
        "contracted_cost": amount,
        "billed_cost": amount,
        "effective_cost": amount,
        "tags": None,
    }


def focus13_rows(count: int, *, seed: int = 1303, month: int = 1) -> Iterator[dict[str, Any]]:
    """conformant_rows as FOCUS 1.3 would carry them: ServiceProviderName and HostProviderName
    instead of the deprecated ProviderName and PublisherName, every 7th usage row a split of a
    shared charge (Allocated*), every 11th with a contract commitment applied."""
    for n, row in enumerate(conformant_rows(count, seed=seed, month=month)):
        del row["provider_name"], row["publisher_name"]
        usage = row["charge_category"] == "Usage"
        row["service_provider_name"] = PROVIDER
        row["host_provider_name"] = PROVIDER if usage else None  # a tax or credit has no host
        split = usage and n % 7 == 3
        row["allocated_method_id"] = "cpu-share" if split else None
        row["allocated_method_details"] = (
            {
                "Elements": [
                    {
                        "AllocatedRatio": Decimal("0.25"),
                        "UsageUnit": "Core-Hours",
                        "UsageQuantity": Decimal("2.5"),
                    },
                    {"AllocatedRatio": Decimal("0.75"), "UsageUnit": "Core-Hours"},
                ]
            }
            if split
            else None
        )
        row["allocated_resource_id"] = f"pod-{n}" if split else None
        row["allocated_resource_name"] = f"checkout-{n}" if split else None
        row["allocated_tags"] = {"team": "checkout"} if split else None
        row["contract_applied"] = (
            {
                "Elements": [
                    {
                        "ContractId": "MSA-2026",
                        "ContractCommitmentId": "MSA-2026-spend",
                        "ContractCommitmentAppliedCost": row["billed_cost"],
                    }
                ]
            }
            if usage and n % 11 == 5
            else None
        )
        yield row
