"""A Yandex Cloud month the product mapped itself, exported as FOCUS 1.2: enriched from the
inventory, passing our strict checker and the FinOps Foundation's validator."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum

from providers.costs import conformance, export
from providers.costs.enrichment import RESOURCE_TYPE_NAMES
from providers.focus import check_focus
from providers.models import CostDaily, CostLineItem, Resource
from providers.services.sync import connection_sync

PERIOD = "2026-01"
JANUARY = datetime(2026, 1, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


def _validator() -> Path | None:
    """The runner CI uses: $FOCUS_VALIDATE, else ../shared/tools beside the checkout, else the
    machines' /work/shared/tools."""
    for candidate in (
        os.environ.get("FOCUS_VALIDATE"),
        REPO.parent / "shared" / "tools" / "focus-validate",
        "/work/shared/tools/focus-validate",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _runner_environment() -> dict[str, str]:
    """The runner finds Python 3.12 through `pyenv root`, as the CI step does: put pyenv on
    PATH when the environment (a bare CI shell) lacks it."""
    env = dict(os.environ)
    pyenv = Path(env.get("PYENV_ROOT") or Path.home() / ".pyenv") / "bin"
    if not shutil.which("pyenv") and (pyenv / "pyenv").exists():
        env["PATH"] = f"{pyenv}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def month_sim():
    with conformance.simulator(PERIOD) as sim:
        yield sim


def _export(tenant, path: Path, fmt: str = "csv") -> export.ExportSummary:
    return export.focus_export(actor=None, tenant=tenant, period=PERIOD, fmt=fmt, target=path)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _inventory(tenant) -> dict[str, Resource]:
    return {r.provider_id: r for r in Resource.objects.filter(tenant=tenant)}


@pytest.mark.skipif(_validator() is None, reason="the focus-validate runner is not installed")
def test_an_exported_yandex_month_passes_the_finops_validator(world, month_sim, tmp_path):
    conformance.load_yandex_month(month_sim, world.a)
    path = tmp_path / "yandex-month.csv"
    assert _export(world.a, path).rows > 1000

    result = subprocess.run(  # noqa: S603 (the validator runner, fixed arguments)
        [str(_validator()), str(path), "1.2"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env=_runner_environment(),
    )

    # Exit 0: no failing rule but the validator's own false InvoiceId-C-004-C (1: other rules
    # failed, 2: it could not run). The summary line proves the rules were actually evaluated.
    assert result.returncode == 0, result.stdout + result.stderr
    summary = re.search(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+)", result.stdout)
    assert summary, result.stdout
    _total, passed, failed = map(int, summary.groups())
    assert passed >= 200 and failed <= 1, summary.group(0)


def test_an_exported_yandex_month_passes_our_strict_checker_with_every_claimed_column(
    world, month_sim, tmp_path
):
    loaded = conformance.load_yandex_month(month_sim, world.a)
    csv_path, parquet_path = tmp_path / "month.csv", tmp_path / "month.parquet"

    summary = _export(world.a, csv_path)
    _export(world.a, parquet_path, "parquet")

    for path in (csv_path, parquet_path):
        report = check_focus(path, strict=True)
        assert report.passed, report.format_text()
        assert report.version == "1.2" and report.rows_read == summary.rows
    rows = _rows(csv_path)
    for column in (
        "AvailabilityZone",
        "RegionId",
        "RegionName",
        "ResourceId",
        "ResourceName",
        "ResourceType",
        "SkuId",
        "SkuPriceId",
        "SkuPriceDetails",
        "SkuMeter",
        "InvoiceId",
        "SubAccountId",
        "SubAccountName",
        "SubAccountType",
        "Tags",
        "ConsumedQuantity",
        "ConsumedUnit",
        "ListUnitPrice",
        "ContractedUnitPrice",
        "BillingAccountName",
    ):
        assert column in rows[0], column
    # Exact money: the export holds the month's rows and their sum, to the last digit.
    month = CostLineItem.objects.filter(
        tenant=world.a,
        charge_period_start__gte=JANUARY,
        charge_period_start__lt=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert sum(Decimal(r["BilledCost"]) for r in rows) == month.aggregate(s=Sum("billed_cost"))["s"]
    assert (
        loaded.expected_totals["RUB"]
        == CostLineItem.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))["s"]
    )
    # The same month as FOCUS 1.3: our checker's 1.3 rules, Yandex as service and host provider.
    focus13 = tmp_path / "month13.csv"
    export.focus_export(
        actor=None, tenant=world.a, period=PERIOD, fmt="csv", target=focus13, version="1.3"
    )
    report = check_focus(focus13, strict=True)
    assert report.passed and report.version == "1.3", report.format_text()
    assert {(r["ServiceProviderName"], r["HostProviderName"]) for r in _rows(focus13)} == {
        ("Yandex Cloud", "Yandex Cloud")
    }


def test_yandex_rows_carry_the_inventorys_region_zone_name_and_type(world, month_sim, tmp_path):
    conformance.load_yandex_month(month_sim, world.a)
    inventory = _inventory(world.a)
    path = tmp_path / "month.csv"

    _export(world.a, path)

    rows = _rows(path)
    with_resource = [r for r in rows if r["ResourceId"]]
    assert with_resource and len(with_resource) < len(rows)  # Monitoring is billed per folder
    types = set()
    for row in with_resource:
        resource = inventory[row["ResourceId"]]
        assert row["ResourceType"] == RESOURCE_TYPE_NAMES[resource.type]
        assert row["ResourceName"] == (resource.name or "")
        assert row["RegionId"] == resource.region
        assert row["RegionName"] == ("Russia" if resource.region == "ru-central1" else "")
        assert row["AvailabilityZone"] == resource.zone
        types.add(row["ResourceType"])
    assert {"Virtual Machine", "Disk", "Database Host"} <= types
    zoned = [r for r in with_resource if r["AvailabilityZone"]]
    assert zoned and all(r["AvailabilityZone"].startswith(r["RegionId"] + "-") for r in zoned)
    for row in rows:
        if not row["ResourceId"]:
            assert (row["ResourceType"], row["RegionId"], row["AvailabilityZone"]) == ("", "", "")
        # The SKU price id is the SKU at its unit price in the billing currency.
        sku_price = f"{row['SkuId']}:RUB:{Decimal(row['ListUnitPrice']).normalize():f}"
        assert row["SkuPriceId"] == sku_price
        assert row["InvoiceId"] in {
            "dn2simbilling00000001/2026-01",  # MSK January (the UTC month starts at 03:00 MSK)
            "dn2simbilling00000001/2026-02",  # its last three hours are MSK 1 February
        }


def test_the_import_stores_what_the_inventory_knows_for_linked_rows(world, month_sim):
    conformance.load_yandex_month(month_sim, world.a)
    inventory = _inventory(world.a)

    linked = CostLineItem.objects.filter(tenant=world.a).exclude(x_resource_id=None)

    assert linked.exists()
    assert not linked.filter(resource_type=None).exists()
    for item in linked.order_by("id")[:200]:
        resource = inventory[item.resource_id]
        assert item.x_resource_id == resource.pk
        assert item.resource_type == RESOURCE_TYPE_NAMES[resource.type]
        assert (item.region_id, item.availability_zone) == (
            resource.region or None,
            resource.zone or None,
        )
        assert item.region_name == ("Russia" if resource.region else None)
        assert item.resource_name == (resource.name or None)
    # The day's rollups are built after the enrichment, so they see the regions too.
    regions = set(CostDaily.objects.filter(tenant=world.a).values_list("region_id", flat=True))
    assert "ru-central1" in regions


def test_a_resource_discovered_after_the_import_still_enriches_the_export(
    world, month_sim, tmp_path, yc_connection_factory
):
    # The billing export is pulled before the inventory is known: nothing links at import.
    source = conformance_source_without_inventory(world, month_sim)
    unlinked = CostLineItem.objects.filter(tenant=world.a).exclude(resource_id=None)
    assert unlinked.exists() and not unlinked.exclude(x_resource_id=None).exists()
    assert not unlinked.exclude(region_id=None).exists()
    before = tmp_path / "before.csv"
    _export(world.a, before)
    unknown = [r for r in _rows(before) if r["ResourceId"]]
    # Unknown to the inventory: the type is what is known (the billing service), no region.
    assert all(r["ResourceType"] == r["ServiceName"] for r in unknown)
    assert all(r["RegionId"] == "" for r in unknown)
    assert check_focus(before, strict=True).passed

    connection = yc_connection_factory(month_sim)
    connection_sync(connection_id=connection.pk)
    after = tmp_path / "after.csv"
    _export(world.a, after)

    inventory = _inventory(world.a)
    rows = [r for r in _rows(after) if r["ResourceId"]]
    assert len(rows) == len(unknown)
    for row in rows:
        resource = inventory[row["ResourceId"]]
        assert row["ResourceType"] == RESOURCE_TYPE_NAMES[resource.type]
        assert (row["RegionId"], row["AvailabilityZone"]) == (resource.region, resource.zone)
    assert check_focus(after, strict=True).passed
    # Export-time enrichment reads; it never rewrites the stored rows.
    assert not unlinked.exclude(region_id=None).exists()
    assert source.pk


def test_what_the_source_says_wins_over_the_inventory(world, month_sim, tmp_path):
    conformance.load_yandex_month(month_sim, world.a)
    linked = CostLineItem.objects.filter(tenant=world.a, charge_period_start__gte=JANUARY)
    item = linked.exclude(x_resource_id=None).exclude(availability_zone=None).first()
    CostLineItem.objects.filter(pk=item.pk, charge_period_start=item.charge_period_start).update(
        region_id="kz1", region_name=None, resource_type="Custom Type", availability_zone=None
    )
    path = tmp_path / "month.csv"

    _export(world.a, path)

    [row] = [r for r in _rows(path) if r["ResourceType"] == "Custom Type"]
    assert (row["RegionId"], row["RegionName"]) == ("kz1", "Kazakhstan")  # named from its id
    resource = Resource.objects.get(pk=item.x_resource_id)
    assert resource.region == "ru-central1" and resource.zone
    assert row["AvailabilityZone"] == resource.zone  # null in the row: the inventory fills it


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def yc_connection_factory(world):
    from providers.services.connections import connection_create

    def create(sim):
        return connection_create(
            actor=world.operator_a,
            tenant=world.a,
            provider="yandex_cloud",
            name="Alpha production",
            credentials={"oauth_token": sim.oauth_token},
            endpoints={"*": sim.url},
            start_sync=False,
        )

    return create


def conformance_source_without_inventory(world, sim):
    from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX
    from providers.adapters.yandex.simulator_storage import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_KEY,
    )
    from providers.models import CostSource
    from providers.services.cost_source_pulls import cost_source_pull
    from providers.services.cost_sources import cost_source_create

    source = cost_source_create(
        actor=world.operator_a,
        tenant=world.a,
        kind=CostSource.Kind.YANDEX_BILLING_EXPORT,
        name="Billing export before any sync",
        endpoint_url=sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials={
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
        start_pull=False,
    )
    result = cost_source_pull(actor=world.operator_a, source_id=source.pk, trigger="manual")
    assert result.status == "succeeded", result.error
    return source
