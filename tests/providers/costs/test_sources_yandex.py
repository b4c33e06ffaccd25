"""Pulling the Yandex Cloud billing export from the simulator's Object Storage over real HTTP:
exact totals, MSK days, labels, idempotent re-pulls, rewritten days, bad rows, bad keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from core.models import AuditEvent
from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX
from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.models import (
    CostDailySummary,
    CostLineItem,
    CostSource,
    ImportRun,
    Resource,
    VatRule,
)
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.cost_sources import cost_source_update
from tests.factories import CostSourceFactory

TODAY = dt.date(2026, 2, 14)
DAYS = [TODAY - dt.timedelta(days=n) for n in range(4, -1, -1)]  # 10..14 February
KEYS = {"access_key_id": DEFAULT_ACCESS_KEY_ID, "secret_access_key": DEFAULT_SECRET_KEY}


@pytest.fixture
def sim(yc_sim):
    yc_sim.billing.today = TODAY
    yc_sim.billing.days = len(DAYS)
    return yc_sim


@pytest.fixture
def source(world, sim):
    # An MSP operator: only operators may point a source at a non-public endpoint.
    return CostSourceFactory(
        actor=world.operator_a,
        tenant=world.a,
        name="Alpha billing export",
        endpoint_url=sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials=KEYS,
    )


def _pull(world, source):
    return cost_source_pull(actor=world.operator_a, source_id=source.pk, trigger="manual")


def _billed(tenant, **filters):
    items = CostLineItem.objects.filter(tenant=tenant, **filters)
    return items.aggregate(s=Sum("billed_cost"))["s"] or Decimal(0)


def _day_items(tenant, day):
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - dt.timedelta(hours=3)
    return CostLineItem.objects.filter(tenant=tenant, charge_period_start=start)


def test_pull_loads_every_day_and_reproduces_the_simulators_totals_exactly(world, sim, source):
    result = _pull(world, source)

    assert result.status == "succeeded", result.error
    assert (result.listed, result.imported, result.unchanged) == (5, 5, 0)
    expected = sim.billing.expected_totals()
    assert set(expected) == {"RUB"}
    assert _billed(world.a) == expected["RUB"]
    listed = CostLineItem.objects.filter(tenant=world.a).aggregate(s=Sum("list_cost"))["s"]
    assert listed == sum(Decimal(r["cost"]) for d in DAYS for r in sim.billing.file(d).rows)
    summary = CostDailySummary.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))
    assert summary["s"] == expected["RUB"]
    runs = ImportRun.objects.filter(tenant=world.a, source=ImportRun.Source.YANDEX_BILLING)
    assert runs.count() == 5
    assert sum(Decimal(r.totals["RUB"]["billed_cost"]) for r in runs) == expected["RUB"]
    assert {r.source_key for r in runs} == {f"yc-billing:{source.pk}"}
    for day in DAYS:
        assert _billed(world.a, charge_period_start__in=[_start(day)]) == sum(
            sim.billing.file(day).totals.values()
        )


def _start(day):
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - dt.timedelta(hours=3)


def test_rows_follow_the_focus_mapping(world, sim, source):
    # (the migration seeds these rules, but a transactional test elsewhere may have flushed them)
    VatRule.objects.get_or_create(
        provider_name="Yandex Cloud",
        currency="RUB",
        valid_from=dt.date(2026, 1, 1),
        defaults={"rate": Decimal("0.22"), "included_in_price": True},
    )
    _pull(world, source)

    item = _day_items(world.a, TODAY).filter(x_credits__monetary_grant__startswith="-")
    row = item.first()
    assert row is not None
    # 14 February MSK is [13 Feb 21:00Z, 14 Feb 21:00Z); the billing period is February MSK.
    assert row.charge_period_start == dt.datetime(2026, 2, 13, 21, tzinfo=dt.UTC)
    assert row.charge_period_end == dt.datetime(2026, 2, 14, 21, tzinfo=dt.UTC)
    assert row.billing_period_start == dt.datetime(2026, 1, 31, 21, tzinfo=dt.UTC)
    assert row.billing_period_end == dt.datetime(2026, 2, 28, 21, tzinfo=dt.UTC)
    assert row.provider_name == row.publisher_name == row.invoice_issuer_name == "Yandex Cloud"
    assert row.sub_account_type == "Folder"
    assert row.sub_account_id in sim.inventory.folders
    assert row.charge_category == "Usage" and row.billing_currency == "RUB"
    credit = Decimal(row.x_credits["total"])
    assert credit < 0
    assert "x_credit" not in row.x_extensions  # the credits live in x_credits only
    assert row.billed_cost == row.effective_cost == row.list_cost + credit
    assert row.list_cost == row.contracted_cost
    assert row.list_unit_price * row.pricing_quantity == row.list_cost
    assert row.x_extensions["x_cloud_id"] in sim.inventory.clouds
    assert row.x_vat_rate == Decimal("0.2200")  # Yandex RUB prices include 22% VAT in 2026
    assert row.x_vat_amount == (row.billed_cost * Decimal("0.22") / Decimal("1.22")).quantize(
        Decimal("0.000000000001")
    )
    compute = _day_items(world.a, TODAY).filter(service_name="Compute Cloud").first()
    assert (compute.service_category, compute.service_subcategory) == (
        "Compute",
        "Virtual Machines",
    )
    assert compute.pricing_unit in ("Core-Hours", "GiB-Hours")
    monitoring = _day_items(world.a, TODAY).filter(service_name="Cloud Monitoring")
    assert monitoring.exists() and not monitoring.exclude(resource_id=None).exists()
    day = CostDailySummary.objects.filter(tenant=world.a).order_by("-day").first().day
    assert day == TODAY  # the tenant's (Moscow) day, not the UTC day the period starts on


def test_labels_become_tags(world, sim, source):
    _pull(world, source)

    labelled = [
        vm
        for folder in sim.inventory.folders.values()
        for vm in folder.items["instances"].values()
        if vm.get("labels") and vm.get("status") == "RUNNING"
    ]
    assert labelled
    for vm in labelled[:10]:
        rows = _day_items(world.a, TODAY).filter(resource_id=vm["id"])
        assert rows.exists()
        assert {tuple(sorted(r.tags.items())) for r in rows} == {
            tuple(sorted(vm["labels"].items()))
        }
    untagged = _day_items(world.a, TODAY).filter(service_name="Cloud Monitoring").first()
    assert untagged.tags is None


def test_rows_link_to_the_resources_discovered_for_the_connection(world, sim, yc_connection):
    from providers.services.sync import connection_sync

    connection_sync(connection_id=yc_connection.pk)
    source = CostSourceFactory(
        actor=world.operator_a,
        tenant=world.a,
        name="Linked export",
        connection=yc_connection,
        endpoint_url=sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials=KEYS,
    )

    _pull(world, source)

    items = CostLineItem.objects.filter(tenant=world.a)
    assert items.filter(x_connection_id=yc_connection.pk).count() == items.count()
    with_resource = items.exclude(resource_id=None)
    linked = with_resource.exclude(x_resource_id=None)
    assert linked.count() == with_resource.count() > 0  # every charged resource is known
    sample = linked.first()
    assert Resource.objects.get(pk=sample.x_resource_id).provider_id == sample.resource_id


def test_re_pull_skips_unchanged_objects_and_a_rewritten_day_replaces_only_that_day(
    world, sim, source
):
    _pull(world, source)
    before = {day: set(_day_items(world.a, day).values_list("id", flat=True)) for day in DAYS}
    events = AuditEvent.objects.count()

    again = _pull(world, source)

    assert (again.unchanged, again.imported, again.skipped) == (5, 0, 0)
    assert AuditEvent.objects.count() == events + 1  # the pull's summary only
    assert ImportRun.objects.filter(tenant=world.a).count() == 5

    sim.billing.rewrite()  # today's file gains three more hours
    sim.billing.rewrite(DAYS[1])  # and a past day gets a late traffic charge
    third = _pull(world, source)

    assert (third.imported, third.unchanged) == (2, 3)
    for day in (DAYS[0], DAYS[2], DAYS[3]):
        assert set(_day_items(world.a, day).values_list("id", flat=True)) == before[day]
    for day in (DAYS[1], TODAY):
        assert not set(_day_items(world.a, day).values_list("id", flat=True)) & before[day]
        assert _billed(world.a, charge_period_start=_start(day)) == sum(
            sim.billing.file(day).totals.values()
        )
    assert _billed(world.a) == sim.billing.expected_totals()["RUB"]
    latest = ImportRun.objects.filter(tenant=world.a).order_by("-id").first()
    assert latest.rows_replaced > 0


def test_a_file_with_the_same_bytes_under_a_new_etag_is_recognised(world, sim, source):
    _pull(world, source)
    source.bucket_objects.update(etag="stale")  # as if the object had been re-uploaded

    again = _pull(world, source)

    assert (again.skipped, again.imported) == (5, 0)
    skipped = ImportRun.objects.filter(tenant=world.a, status=ImportRun.Status.SKIPPED)
    assert skipped.count() == 5
    assert _billed(world.a) == sim.billing.expected_totals()["RUB"]


def test_malformed_rows_reject_the_file_and_keep_the_days_previous_data(world, sim, source):
    _pull(world, source)
    bad_day = DAYS[2]
    kept = set(_day_items(world.a, bad_day).values_list("id", flat=True))
    bad_lines = sim.billing.set_malformed(bad_day, 4).bad_lines

    result = _pull(world, source)

    assert (result.rejected, result.status) == (1, "partial")
    run = ImportRun.objects.filter(tenant=world.a).order_by("-id").first()
    assert run.status == ImportRun.Status.FAILED
    assert "4 row(s) failed validation" in run.error
    assert run.rows_rejected == 4 and run.rows_loaded == 0
    found = {
        (issue["line"], issue["column"], kind)
        for kind, entry in run.errors.items()
        for issue in entry["examples"]
    }
    assert found == {(b["line"], b["column"], b["kind"]) for b in bad_lines}
    comma = run.errors["invalid_decimal"]["examples"][0]
    assert comma["value"] == "12,50" and comma["reason"]
    assert set(_day_items(world.a, bad_day).values_list("id", flat=True)) == kept
    source.refresh_from_db()
    assert source.status == CostSource.Status.ERROR
    assert source.bucket_objects.get(key__endswith=f"{bad_day:%Y%m%d}.csv").outcome == "rejected"

    # Unchanged and still under the same policy: not retried on every pull.
    assert _pull(world, source).unchanged == 5

    cost_source_update(actor=world.operator_a, source=source, policy="skip_rows")
    retried = _pull(world, source)

    assert (retried.imported, retried.status) == (1, "succeeded")
    run = ImportRun.objects.filter(tenant=world.a).order_by("-id").first()
    assert (run.status, run.rows_rejected) == (ImportRun.Status.SUCCEEDED, 4)
    assert run.errors["truncated_row"]["count"] == 1
    assert _billed(world.a) == sim.billing.expected_totals()["RUB"]


def test_bad_keys_fail_the_pull_with_a_clear_reason_and_lose_nothing(world, sim, source):
    _pull(world, source)
    before = _billed(world.a)
    cost_source_update(
        actor=world.operator_a,
        source=source,
        credentials={"access_key_id": DEFAULT_ACCESS_KEY_ID, "secret_access_key": "wrong"},
    )
    sim.billing.rewrite()

    result = _pull(world, source)

    assert result.status == "failed"
    source.refresh_from_db()
    assert source.status == CostSource.Status.AUTH_FAILED
    assert "SignatureDoesNotMatch" in source.last_error
    assert "refused the access key" in source.last_error
    failed = ImportRun.objects.filter(tenant=world.a).order_by("-id").first()
    assert failed.status == ImportRun.Status.FAILED and failed.error == source.last_error
    assert _billed(world.a) == before
    event = AuditEvent.objects.filter(event_type="cost_source.pulled").order_by("-id").first()
    assert event.extra["status"] == "failed"
    assert "wrong" not in str(event.extra)

    cost_source_update(
        actor=world.operator_a,
        source=source,
        credentials={"access_key_id": "YCAJEunknown", "secret_access_key": "x" * 40},
    )
    source.refresh_from_db()
    assert source.status == CostSource.Status.PENDING  # new keys deserve a new try
    assert "InvalidAccessKeyId" in _pull(world, source).error


def test_a_broken_download_is_retried_from_the_start(world, sim, source):
    sim.storage.truncate_next(1)

    result = _pull(world, source)

    assert (result.imported, result.failed) == (5, 0)
    assert _billed(world.a) == sim.billing.expected_totals()["RUB"]


def test_a_header_only_day_file_clears_that_day_and_nothing_else(world, sim, source):
    _pull(world, source)
    cleared_day = DAYS[2]
    kept = {day: set(_day_items(world.a, day).values_list("id", flat=True)) for day in DAYS}
    assert kept[cleared_day]
    day_summary = CostDailySummary.objects.filter(tenant=world.a, day=cleared_day)
    assert day_summary.exists()

    sim.billing.set_empty(cleared_day)  # Yandex rewrites the day: no charges after all
    result = _pull(world, source)

    assert (result.status, result.imported, result.unchanged) == ("succeeded", 1, 4)
    run = ImportRun.objects.filter(tenant=world.a).order_by("-id").first()
    assert run.status == ImportRun.Status.SUCCEEDED
    assert (run.rows_read, run.rows_loaded, run.rows_replaced) == (0, 0, len(kept[cleared_day]))
    assert "empty_file" in run.warnings
    assert not _day_items(world.a, cleared_day).exists()
    assert not day_summary.exists()  # the rollups follow
    for day in DAYS:
        if day != cleared_day:
            assert set(_day_items(world.a, day).values_list("id", flat=True)) == kept[day]
    assert _billed(world.a) == sim.billing.expected_totals()["RUB"]  # the empty day adds 0


def _credit_sums(tenant) -> dict[str, Decimal]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum((x_credits->>'total')::numeric), 0), "
            "coalesce(sum((x_credits->>'monetary_grant')::numeric), 0), "
            "coalesce(sum((x_credits->>'cud')::numeric), 0), "
            "coalesce(sum((x_credits->>'misc')::numeric), 0), count(x_credits) "
            "FROM providers_costlineitem WHERE tenant_id = %s",
            [tenant.pk],
        )
        total, grant, cud, misc, rows = cursor.fetchone()
    return {"total": total, "grant": grant, "cud": cud, "misc": misc, "rows": rows}


def test_credits_are_in_x_credits_with_exact_totals(world, sim, source):
    _pull(world, source)

    rows = [row for day in DAYS for row in sim.billing.file(day).rows]
    expected = {
        "total": sum(Decimal(r["credit"]) for r in rows),
        "grant": sum(Decimal(r["monetary_grant_credit"]) for r in rows),
        "cud": sum(Decimal(r["cud_credit"]) for r in rows),
        "misc": sum(Decimal(r["misc_credit"]) for r in rows),
        "rows": sum(1 for r in rows if Decimal(r["credit"])),
    }
    assert expected["total"] < 0 and expected["grant"] < 0 and expected["cud"] < 0
    assert _credit_sums(world.a) == expected
    assert expected["total"] == expected["grant"] + expected["cud"] + expected["misc"]
    # Billed is list minus the credits, to the last digit.
    items = CostLineItem.objects.filter(tenant=world.a)
    listed = items.aggregate(s=Sum("list_cost"))["s"]
    assert _billed(world.a) == listed + expected["total"]
    assert not items.filter(x_credits__isnull=False, x_extensions__has_key="x_credit").exists()


def test_migration_0007_brings_rows_of_the_old_mapping_to_what_an_import_now_stores(
    world, sim, source
):
    import importlib

    from django.db import connection

    migration = importlib.import_module("providers.migrations.0007_focus_costlineitem_focus13")
    _pull(world, source)
    fields = ("x_credits", "x_extensions", "invoice_id", "sku_price_id", "service_provider_name",
              "host_provider_name")  # fmt: skip
    items = CostLineItem.objects.filter(tenant=world.a).order_by("id")
    fresh = list(items.values_list("id", *fields))
    assert any(row[1] for row in fresh) and any(row[1] is None for row in fresh)
    # As the old mapping stored them: every credit column in x_extensions, no 1.2/1.3 ids.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE providers_costlineitem SET
                x_extensions = x_extensions || jsonb_build_object(
                    'x_credit', (list_cost - billed_cost) * -1,
                    'x_monetary_grant_credit', coalesce(x_credits->>'monetary_grant', '0'),
                    'x_volume_incentive_credit', coalesce(x_credits->>'volume_incentive', '0'),
                    'x_cud_credit', coalesce(x_credits->>'cud', '0'),
                    'x_misc_credit', coalesce(x_credits->>'misc', '0')),
                x_credits = NULL, invoice_id = NULL, sku_price_id = NULL,
                service_provider_name = NULL, host_provider_name = NULL
             WHERE tenant_id = %s
            """,
            [world.a.pk],
        )
        cursor.execute(
            "UPDATE providers_costlineitem SET x_extensions = jsonb_set(x_extensions, "
            "'{x_credit}', to_jsonb(trim_scale((x_extensions->>'x_credit')::numeric)::text)) "
            "WHERE tenant_id = %s",
            [world.a.pk],
        )
        assert not items.exclude(x_credits=None).exists()

        cursor.execute(migration.YANDEX_ROWS_TO_CURRENT_MAPPING)

    migrated = list(items.values_list("id", *fields))
    assert migrated == fresh
