"""Importing FOCUS files: exact totals, idempotent re-imports, atomic replacement."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count, Sum

from core.models import AuditEvent
from providers.models import CostDaily, CostDailySummary, CostLineItem, ImportRun
from providers.services.costs import cost_file_import

SAMPLE_DIR = Path(__file__).resolve().parents[4] / "shared" / "focus-sample"
SAMPLE = SAMPLE_DIR / "focus_sample.csv"
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="shared FOCUS sample not present")


def _expected():
    return json.loads((SAMPLE_DIR / "expected_aggregates.json").read_text())


def _import(world, path=SAMPLE, **kwargs):
    return cost_file_import(actor=world.operator_a, tenant=world.a, file=path, **kwargs)


def _totals(tenant):
    return CostLineItem.objects.filter(tenant=tenant).aggregate(
        billed=Sum("billed_cost"), effective=Sum("effective_cost"), rows=Count("id")
    )


def test_sample_totals_are_reproduced_exactly(world):
    run = _import(world)

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    expected = _expected()
    assert run.rows_loaded == expected["rows"]
    items = CostLineItem.objects.filter(tenant=world.a)
    sums = items.aggregate(
        billed=Sum("billed_cost"),
        effective=Sum("effective_cost"),
        listed=Sum("list_cost"),
        contracted=Sum("contracted_cost"),
    )
    assert sums["billed"] == Decimal(expected["totals"]["BilledCost"])
    assert sums["effective"] == Decimal(expected["totals"]["EffectiveCost"])
    assert sums["listed"] == Decimal(expected["totals"]["ListCost"])
    assert sums["contracted"] == Decimal(expected["totals"]["ContractedCost"])
    for group in expected["by_ProviderName"]:
        provider = items.filter(provider_name=group["key"]).aggregate(
            billed=Sum("billed_cost"), effective=Sum("effective_cost"), rows=Count("id")
        )
        assert provider["rows"] == group["rows"]
        assert provider["billed"] == Decimal(group["BilledCost"])
        assert provider["effective"] == Decimal(group["EffectiveCost"])
    for group in expected["top5_by_ServiceName"]:
        service = items.filter(service_name=group["key"]).aggregate(billed=Sum("billed_cost"))
        assert service["billed"] == Decimal(group["BilledCost"])
    assert run.totals["USD"]["billed_cost"] == expected["totals"]["BilledCost"]


def test_rollups_hold_the_same_money(world):
    _import(world)
    expected = Decimal(_expected()["totals"]["BilledCost"])
    for model in (CostDaily, CostDailySummary):
        total = model.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))["s"]
        assert total == expected, model.__name__
    assert (
        CostDailySummary.objects.filter(tenant=world.a).aggregate(n=Sum("line_items"))["n"] == 1000
    )


def test_reimporting_the_same_file_three_times_changes_nothing(world):
    first = _import(world)
    before = _totals(world.a)
    runs = [_import(world) for _ in range(3)]

    assert [r.status for r in runs] == [ImportRun.Status.SKIPPED] * 3
    assert _totals(world.a) == before
    forced = _import(world, force=True)
    assert forced.status == ImportRun.Status.SUCCEEDED
    assert forced.rows_replaced == first.rows_loaded
    assert _totals(world.a) == before


def test_quirks_are_counted_as_warnings(world):
    run = _import(world)
    assert run.warnings["null_literal"]["count"] > 0
    assert run.warnings["datetime_format"]["count"] > 0
    assert run.warnings["unprefixed_column"]["count"] == 1
    item = CostLineItem.objects.filter(tenant=world.a).first()
    assert "x_Id" in item.x_extensions or "x_id" in item.x_extensions


def test_import_is_audited_once(world):
    run = _import(world)
    event = AuditEvent.objects.get(event_type="costs.imported")
    assert event.tenant_id == world.a.pk
    assert event.target_id == str(run.pk)
    assert event.extra["rows_loaded"] == 1000


def test_other_tenants_never_see_the_rows(world):
    _import(world)
    assert not CostLineItem.objects.for_user(world.owner_b, "view").exists()
    assert CostLineItem.objects.for_user(world.owner_a, "view").count() == 1000


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_bad_file_is_refused_and_the_old_data_stays(world, tmp_path):
    _import(world)
    before = _totals(world.a)
    lines = SAMPLE.read_text().splitlines()
    broken = [*lines[:50], lines[50].replace("USD", "XXX", 1)]
    bad = _write(tmp_path, "bad.csv", "\n".join(broken) + "\n")

    run = _import(world, path=bad, force=True)

    assert run.status == ImportRun.Status.FAILED
    assert "failed validation" in run.error
    assert run.errors["unknown_currency"]["examples"][0]["line"] == 51
    assert _totals(world.a) == before
    assert AuditEvent.objects.filter(event_type="costs.import_failed").count() == 1


def test_skip_policy_loads_the_good_rows(world, tmp_path):
    lines = SAMPLE.read_text().splitlines()
    text = "\n".join([*lines[:11], lines[11].replace("USD", "XXX", 1)]) + "\n"
    run = _import(world, path=_write(tmp_path, "partly.csv", text), policy="skip_rows")
    assert run.status == ImportRun.Status.SUCCEEDED
    assert (run.rows_read, run.rows_loaded, run.rows_rejected) == (11, 10, 1)


def test_a_wrong_header_is_refused_before_any_row(world, tmp_path):
    run = _import(world, path=_write(tmp_path, "nope.csv", "a,b,c\n1,2,3\n"))
    assert run.status == ImportRun.Status.FAILED
    assert "header" in run.error
    assert not CostLineItem.objects.filter(tenant=world.a).exists()


def test_a_truncated_gzip_is_refused_under_any_policy(world, tmp_path):
    import gzip

    whole = gzip.compress(SAMPLE.read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])

    run = _import(world, path=cut, policy="skip_rows")

    assert run.status == ImportRun.Status.FAILED
    assert "damaged" in run.error
    assert not CostLineItem.objects.filter(tenant=world.a).exists()


def test_vat_follows_the_tenants_local_day_at_the_new_year(world, tmp_path):
    """A Moscow 1 January 2026 charge starts 2025-12-31T21:00Z and carries the 22% rate."""
    import io

    from providers.focus import write_focus_csv
    from providers.models import VatRule
    from tests.providers.focus.factories import conformant_rows

    for valid_from, rate in ((dt.date(2019, 1, 1), "0.2000"), (dt.date(2026, 1, 1), "0.2200")):
        VatRule.objects.get_or_create(
            provider_name="Yandex Cloud",
            currency="RUB",
            valid_from=valid_from,
            defaults={"rate": Decimal(rate), "included_in_price": True},
        )
    rows = []
    for start in ("2025-12-31T20:00:00Z", "2025-12-31T21:00:00Z"):
        row = next(conformant_rows(1, seed=7, year=2025, month=12))
        instant = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        row.update(
            provider_name="Yandex Cloud",
            publisher_name="Yandex Cloud",
            invoice_issuer_name="Yandex Cloud",
            billing_currency="RUB",
            pricing_currency="RUB",
            charge_category="Usage",
            charge_period_start=instant,
            charge_period_end=instant + dt.timedelta(hours=1),
            billed_cost=Decimal("122"),
        )
        rows.append(row)
    text = io.StringIO()
    write_focus_csv(text, rows)
    path = tmp_path / "new-year.csv"
    path.write_text(text.getvalue())

    run = _import(world, path=path)

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    rates = dict(
        CostLineItem.objects.filter(tenant=world.a)
        .order_by("charge_period_start")
        .values_list("charge_period_start", "x_vat_rate")
    )
    assert list(rates.values()) == [Decimal("0.2000"), Decimal("0.2200")]
    vat = CostLineItem.objects.get(tenant=world.a, x_vat_rate=Decimal("0.2200")).x_vat_amount
    assert vat == Decimal("22.000000000000")  # 122 gross = 100 net + 22 VAT
