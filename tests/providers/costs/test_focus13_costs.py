"""FOCUS 1.3 through the product: imported beside 1.0-1.2 files, exported with
``export_focus --version 1.3``, checked by ``focus_check``, totals exact both ways."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Sum

from providers.focus import FocusReader, check_focus, write_focus_csv
from providers.models import CostLineItem
from tests.providers.costs.test_query import yandex_vat  # noqa: F401  (autouse fixture)
from tests.providers.focus.factories import PROVIDER, conformant_rows, focus13_rows


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def totals(tenant):
    return CostLineItem.objects.filter(tenant=tenant).aggregate(
        rows=Count("id"),
        billed=Sum("billed_cost"),
        effective=Sum("effective_cost"),
        vat=Sum("x_vat_amount"),
    )


@pytest.fixture
def focus13_file(tmp_path):
    path = tmp_path / "focus13.csv"
    rows = list(focus13_rows(700))
    write_focus_csv(path, rows, version="1.3")
    return path, rows


def test_a_1_3_file_imports_its_new_columns_and_names_the_provider(world, focus13_file):
    path, rows = focus13_file

    output = run("import_focus", str(path), "--tenant", "alpha")

    assert "700 loaded, 0 rejected" in output
    items = CostLineItem.objects.filter(tenant=world.a)
    assert items.aggregate(s=Sum("billed_cost"))["s"] == sum(r["billed_cost"] for r in rows)
    # ProviderName is deprecated in 1.3: ServiceProviderName names the provider for VAT,
    # rollups and queries, and the VAT rule of Yandex Cloud applies.
    assert set(items.values_list("service_provider_name", "provider_name", "publisher_name")) == {
        (PROVIDER, PROVIDER, PROVIDER)
    }
    assert not items.filter(charge_category="Usage", x_vat_rate=None).exists()
    splits = items.exclude(allocated_method_id=None)
    assert splits.count() == sum(1 for r in rows if r["allocated_method_id"])
    split = splits.first()
    assert split.allocated_method_details["Elements"][1]["AllocatedRatio"] == 0.75
    assert split.allocated_tags == {"team": "checkout"}
    assert split.allocated_resource_name.startswith("checkout-")
    applied = items.exclude(contract_applied=None)
    assert applied.count() == sum(1 for r in rows if r["contract_applied"])
    assert set(items.values_list("host_provider_name", flat=True)) == {PROVIDER, None}


def test_export_version_1_3_passes_focus_check_and_round_trips_exactly(
    world, focus13_file, tmp_path
):
    path, _ = focus13_file
    run("import_focus", str(path), "--tenant", "alpha")
    target = tmp_path / "export13.csv"

    output = run(
        "export_focus", "--tenant", "alpha", "--period", "2026-01", "--version", "1.3",
        "-o", str(target),
    )  # fmt: skip

    assert "as FOCUS 1.3 csv" in output and "700 rows" in output
    assert "PASS" in run("focus_check", str(target), "--strict")
    report = check_focus(target, strict=True)
    assert report.passed and report.version == "1.3"
    with FocusReader(target) as reader:
        header = [h.output_name for h in reader.columns]
        exported = list(reader)
    for name in ("ServiceProviderName", "HostProviderName", "AllocatedMethodId",
                 "AllocatedMethodDetails", "AllocatedTags", "ContractApplied"):  # fmt: skip
        assert name in header
    split = next(r for r in exported if r["allocated_method_id"])
    assert split["allocated_method_details"]["Elements"][0] == {
        "AllocatedRatio": Decimal("0.25"),
        "UsageUnit": "Core-Hours",
        "UsageQuantity": Decimal("2.5"),
    }
    run("import_focus", str(target), "--tenant", "beta")
    assert totals(world.b) == totals(world.a)

    def details(tenant):
        items = CostLineItem.objects.filter(tenant=tenant).exclude(allocated_method_id=None)
        return sorted(map(repr, items.values_list("allocated_method_details", "contract_applied")))

    assert details(world.b) == details(world.a) != []


def test_a_1_2_import_exports_as_1_3_with_derived_provider_names(world, tmp_path):
    source = tmp_path / "in12.csv"
    write_focus_csv(source, conformant_rows(250, seed=5))
    run("import_focus", str(source), "--tenant", "alpha")
    target = tmp_path / "out13.parquet"

    run("export_focus", "--tenant", "alpha", "--period", "2026-01", "--version", "1.3",
        "-o", str(target))  # fmt: skip

    report = check_focus(target, strict=True)
    assert report.passed, report.format_text()
    assert report.version == "1.3"
    with FocusReader(target) as reader:
        rows = list(reader)
    assert {(r["service_provider_name"], r["host_provider_name"]) for r in rows} == {
        (PROVIDER, PROVIDER)
    }
    assert {r["provider_name"] for r in rows} == {PROVIDER}  # still written, deprecated


def test_the_default_export_stays_1_2_and_unknown_versions_are_refused(
    world, focus13_file, tmp_path
):
    path, _ = focus13_file
    run("import_focus", str(path), "--tenant", "alpha")
    target = tmp_path / "export12.csv"

    run("export_focus", "--tenant", "alpha", "--period", "2026-01", "-o", str(target))

    report = check_focus(target, strict=True)
    assert report.passed and report.version == "1.2"
    with FocusReader(target) as reader:
        names = {h.output_name for h in reader.columns}
    assert "ProviderName" in names and not {"ServiceProviderName", "AllocatedMethodId"} & names
    with pytest.raises(CommandError):
        run("export_focus", "--tenant", "alpha", "--period", "2026-01", "--version", "1.4",
            "-o", str(target))  # fmt: skip


def test_the_api_exports_1_3_when_asked_and_refuses_an_unknown_version(
    world, focus13_file, tmp_path, client
):
    """Before: the API wrote 1.2 whatever was asked; 1.3 was reachable only from the CLI."""
    path, _ = focus13_file
    run("import_focus", str(path), "--tenant", "alpha")
    client.force_login(world.operator_a)

    response = client.get(
        "/api/v1/cost-export/", {"tenant": "alpha", "period": "2026-01", "version": "1.3"}
    )

    assert response.status_code == 200
    assert response["X-Focus-Version"] == "1.3"
    target = tmp_path / "api13.csv"
    target.write_bytes(b"".join(response.streaming_content))
    report = check_focus(target, strict=True)
    assert report.passed and report.version == "1.3"

    bad = client.get("/api/v1/cost-export/", {"tenant": "alpha", "version": "2.0"})
    assert bad.status_code == 400
    assert "FOCUS version must be one of 1.2, 1.3" in bad.json()["detail"]
