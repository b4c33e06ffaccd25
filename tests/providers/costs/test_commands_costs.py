"""manage.py import_focus / export_focus: progress, summaries, exit status, exact round trip."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Sum

from core.models import AuditEvent
from providers.focus import check_focus, write_focus_csv
from providers.models import CostLineItem, ImportRun
from tests.providers.costs.test_query import yandex_vat  # noqa: F401  (autouse fixture)
from tests.providers.focus.factories import conformant_rows

SAMPLE_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "focus-sample"
SAMPLE = SAMPLE_DIR / "focus_sample.csv"
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="shared FOCUS sample not present")


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def totals(tenant, **filters):
    return CostLineItem.objects.filter(tenant=tenant, **filters).aggregate(
        rows=Count("id"), billed=Sum("billed_cost"), effective=Sum("effective_cost")
    )


@needs_sample
def test_sample_round_trip_through_the_commands_keeps_every_total(world, tmp_path):
    expected = json.loads((SAMPLE_DIR / "expected_aggregates.json").read_text())

    imported = run("import_focus", str(SAMPLE), "--tenant", "alpha", "--source", "sample")

    assert "1,000 read, 1,000 loaded, 0 rejected, 0 replaced" in imported
    assert f"USD: 1,000 rows, BilledCost {expected['totals']['BilledCost']}" in imported
    assert "null_literal" in imported and "datetime_format" in imported  # warnings by kind
    assert "Import succeeded." in imported

    exported_path = tmp_path / "sample-export.csv"
    exported = run(
        "export_focus", "--tenant", "alpha", "--period", "2024-09", "-o", str(exported_path)
    )
    assert "1,000 rows" in exported
    assert f"USD: BilledCost {expected['totals']['BilledCost']}" in exported

    run("import_focus", str(exported_path), "--tenant", "beta")

    assert totals(world.b) == totals(world.a)
    assert totals(world.b)["billed"] == Decimal(expected["totals"]["BilledCost"])
    assert totals(world.b)["effective"] == Decimal(expected["totals"]["EffectiveCost"])
    for group in expected["by_ProviderName"]:
        assert totals(world.b, provider_name=group["key"])["billed"] == Decimal(group["BilledCost"])
    # The commands act as the system, recorded with source "cli".
    event = AuditEvent.objects.filter(event_type="costs.imported", tenant=world.b).get()
    assert event.actor_id is None and event.source == "cli"


def test_parquet_export_passes_the_checker(world, tmp_path):
    source = tmp_path / "in.csv"
    write_focus_csv(source, conformant_rows(250, seed=3))
    run("import_focus", str(source), "--tenant", "alpha")
    target = tmp_path / "out.parquet"

    output = run("export_focus", "--tenant", "alpha", "--period", "2026-01", "-o", str(target))

    assert "250 rows" in output and target.read_bytes()[:4] == b"PAR1"
    assert check_focus(target, strict=True).passed


def test_a_second_import_of_the_same_file_is_skipped_unless_forced(world, tmp_path):
    source = tmp_path / "in.csv"
    write_focus_csv(source, conformant_rows(20, seed=4))
    run("import_focus", str(source), "--tenant", "alpha")

    again = run("import_focus", str(source), "--tenant", "alpha")
    forced = run("import_focus", str(source), "--tenant", "alpha", "--force")

    assert "skipped" in again and "--force" in again
    assert "20 replaced" in forced
    assert totals(world.a)["rows"] == 20


def test_a_bad_file_exits_non_zero_with_examples(world, tmp_path):
    text = io.StringIO()
    write_focus_csv(text, conformant_rows(5, seed=9))
    lines = text.getvalue().splitlines()
    lines[3] = lines[3].replace("RUB", "RUR", 1)
    source = tmp_path / "bad.csv"
    source.write_text("\n".join(lines) + "\n")
    out = io.StringIO()

    with pytest.raises(CommandError, match="import failed"):
        call_command("import_focus", str(source), "--tenant", "alpha", stdout=out)

    assert "unknown_currency: 1" in out.getvalue()
    assert "line 4 BillingCurrency = 'RUR'" in out.getvalue()
    assert ImportRun.objects.get().status == ImportRun.Status.FAILED
    assert not CostLineItem.objects.exists()


def test_skip_rows_policy_loads_the_good_rows(world, tmp_path):
    text = io.StringIO()
    write_focus_csv(text, conformant_rows(5, seed=9))
    source = tmp_path / "bad.csv"
    source.write_text(text.getvalue().replace("RUB", "RUR", 1))
    output = run("import_focus", str(source), "--tenant", "alpha", "--policy", "skip_rows")
    assert "5 read, 4 loaded, 1 rejected" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import_focus", "/no/such/file.csv", "--tenant", "alpha"], "no such file"),
        (["import_focus", "/no/such/file.csv", "--tenant", "nobody"], "No tenant"),
        (
            ["export_focus", "--tenant", "alpha", "--period", "2026-1x", "-o", "/tmp/x.csv"],
            "period",
        ),
    ],
)
def test_command_errors_name_the_problem(world, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_a_failed_export_leaves_no_file(world, tmp_path):
    target = tmp_path / "missing-dir" / "out.csv"
    with pytest.raises(CommandError):
        run("export_focus", "--tenant", "alpha", "--period", "2026-01", "-o", str(target))
    assert not target.exists()
