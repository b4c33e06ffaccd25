"""The columnar import (FocusReader.text_batches + loader.load_batches) stores exactly what the
row-by-row load (text_rows + loader.load, then the SQL enrichment) stores for the same file: every
column of every line item, resource links, enrichment from the inventory, VAT, custom columns as
JSON, credits; and the rollups hold the same money."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from providers.costs import loader
from providers.costs.vat import VatResolver
from providers.focus import FocusReader, batches, write_focus_csv
from providers.models import CostDailySummary, CostLineItem, ImportRun, VatRule
from providers.services.costs import cost_file_import
from tests.factories import ConnectionFactory, ResourceFactory
from tests.providers.focus.factories import conformant_rows

SOURCE = "focus-upload"
SKIP = {"id", "tenant_id", "x_import_run_id", "x_connection_id", "x_resource_id"}
THREADS_BEFORE = [threading.active_count()]


@pytest.fixture(autouse=True)
def count_threads():
    THREADS_BEFORE[0] = threading.active_count()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(batches, "CHUNK_CHARS", 20_000)  # many batches, and refused rows in them


def quirky_file(tmp_path):
    rows = []
    for n, row in enumerate(conformant_rows(1200, seed=11)):
        if n % 7 == 0:
            row["region_id"] = row["region_name"] = None  # the inventory fills these
        if n % 11 == 0:
            row["resource_name"] = None
            row["resource_type"] = None
        row["x_note"] = ["plain", 'with "quotes"', "back\\slash", "Яндекс", None, ""][n % 6]
        rows.append(row)
    text = io.StringIO()
    write_focus_csv(text, rows)
    lines = text.getvalue().splitlines(keepends=True)
    lines[40] = lines[40].replace("RUB", "rub", 1)  # repaired by the careful path
    lines[41] = lines[41].replace("Usage", "usage", 1)
    path = tmp_path / "month.csv"
    path.write_text("".join(lines), newline="")
    return path


def register(tenant):
    conn = ConnectionFactory(tenant=tenant, provider="yandex_cloud")
    for n in range(0, 4000, 3):
        ResourceFactory(
            connection=conn,
            provider_id=f"fhm{n:017d}",
            type=("vm", "disk", "bucket", "unknown")[n % 4],
            name="" if n % 5 == 0 else f"inventory-{n}",
            region="" if n % 2 == 0 else "ru-central1",
            zone="ru-central1-b" if n % 3 == 0 else "",
        )


def stored(tenant) -> list[tuple]:
    names = [f.column for f in CostLineItem._meta.concrete_fields if f.column not in SKIP]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join('c.' + n for n in names)}, r.provider_id "  # noqa: S608
            "FROM providers_costlineitem c "
            "LEFT JOIN providers_resource r ON r.id = c.x_resource_id WHERE c.tenant_id = %s",
            [tenant.pk],
        )
        return sorted(cursor.fetchall(), key=repr)


def row_load(tenant, path):
    """The import as it was: rows one by one, then SQL enrichment."""
    run = ImportRun.objects.create(tenant=tenant, source_key=SOURCE, status="running")
    target = loader.LoadTarget(
        tenant_id=tenant.pk,
        time_zone=tenant.time_zone,
        import_run_id=run.pk,
        source_key=SOURCE,
        resource_ids=loader.resource_index(tenant.pk),
        vat=VatResolver.load(),
    )
    with FocusReader(path) as reader, transaction.atomic():
        return loader.load(
            target,
            reader.text_fields,
            reader.text_rows(null=""),
            replace=loader.whole_months,
            empty_is_null=True,
        )


def test_columnar_import_stores_what_the_row_load_stores(world, tmp_path):
    VatRule.objects.get_or_create(
        provider_name="Yandex Cloud",
        currency="RUB",
        valid_from=dt.date(2026, 1, 1),
        defaults={"rate": Decimal("0.2200"), "included_in_price": True},
    )
    path = quirky_file(tmp_path)
    for tenant in (world.a, world.b):
        register(tenant)

    run = cost_file_import(actor=world.operator_a, tenant=world.a, file=path, source_key=SOURCE)
    expected = row_load(world.b, path)

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert run.rows_loaded == expected.rows_loaded == 1200
    assert run.totals == expected.totals
    assert run.progress["linked_resources"] == expected.linked_resources > 0
    got, want = stored(world.a), stored(world.b)
    assert got == want
    # The file's gaps were filled from the inventory, as the SQL enrichment fills them.
    assert (
        CostLineItem.objects.filter(
            tenant=world.a, region_id__isnull=True, x_resource_id__isnull=False
        ).count()
        == CostLineItem.objects.filter(
            tenant=world.b, region_id__isnull=True, x_resource_id__isnull=False
        ).count()
    )
    assert CostLineItem.objects.filter(tenant=world.a, x_vat_amount__isnull=False).exists()
    assert CostLineItem.objects.filter(tenant=world.a, x_credits__isnull=False).count() == 2
    assert CostLineItem.objects.filter(
        tenant=world.a, x_extensions__x_note='with "quotes"'
    ).exists()
    for field in ("billed_cost", "vat_amount", "line_items"):
        totals = [
            sorted(CostDailySummary.objects.filter(tenant=tenant).values_list("day", field))
            for tenant in (world.a, world.b)
        ]
        assert totals[0] == totals[1], field


def test_bad_rows_are_reported_at_their_line_and_skipped_by_policy(world, tmp_path):
    text = io.StringIO()
    write_focus_csv(text, conformant_rows(600, seed=3))
    lines = text.getvalue().splitlines(keepends=True)
    lines[99] = lines[99].replace("RUB", "XXX", 1)  # line 100
    lines[450] = lines[450].replace("2026-01-", "2026-13-", 1)  # line 451
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines), newline="")

    refused = cost_file_import(actor=world.operator_a, tenant=world.a, file=path)
    assert refused.status == ImportRun.Status.FAILED and "failed validation" in refused.error
    assert refused.errors["unknown_currency"]["examples"][0]["line"] == 100
    assert refused.errors["invalid_datetime"]["examples"][0]["line"] == 451
    assert not CostLineItem.objects.filter(tenant=world.a).exists()

    run = cost_file_import(
        actor=world.operator_a, tenant=world.a, file=path, policy="skip_rows", force=True
    )
    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert (run.rows_read, run.rows_loaded, run.rows_rejected) == (600, 598, 2)
    assert run.errors["unknown_currency"]["examples"][0]["column"] == "BillingCurrency"
    assert CostLineItem.objects.filter(tenant=world.a).count() == 598


def test_a_value_the_database_refuses_fails_the_import_and_keeps_the_old_data(world, tmp_path):
    text = io.StringIO()
    write_focus_csv(text, conformant_rows(3000, seed=5))
    good = tmp_path / "good.csv"
    good.write_text(text.getvalue(), newline="")
    first = cost_file_import(actor=world.operator_a, tenant=world.a, file=good)
    assert first.status == ImportRun.Status.SUCCEEDED, first.error
    before = sorted(CostLineItem.objects.filter(tenant=world.a).values_list("id", "billed_cost"))

    # A plain FOCUS number, but wider than NUMERIC(38, 18): PostgreSQL refuses it mid-COPY,
    # after earlier batches went in, while the producer is still rendering later ones.
    lines = text.getvalue().splitlines(keepends=True)
    row = next(csv.reader([lines[2000]]))
    header = next(csv.reader([lines[0]]))
    row[header.index("BilledCost")] = "1" + "0" * 30
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    lines[2000] = out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines), newline="")

    run = cost_file_import(actor=world.operator_a, tenant=world.a, file=bad, force=True)

    assert run.status == ImportRun.Status.FAILED
    assert "refused the data" in run.error
    after = sorted(CostLineItem.objects.filter(tenant=world.a).values_list("id", "billed_cost"))
    assert after == before
    assert threading.active_count() == THREADS_BEFORE[0]  # the producer thread is gone
