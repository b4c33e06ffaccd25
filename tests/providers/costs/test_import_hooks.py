"""The import's extension point: hooks see exactly the rows just loaded, inside the transaction."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from providers.costs import hooks
from providers.models import CostLineItem, ImportRun
from tests.factories import ImportRunFactory
from tests.providers.costs.test_query import focus_bytes, focus_row, load

DAY = dt.date(2026, 1, 10)


@pytest.fixture
def registered():
    calls = []

    def hook(cursor, rows):
        cursor.execute(
            "SELECT count(*) FROM providers_costlineitem WHERE x_import_run_id = %s",
            [rows.import_run_id],
        )
        calls.append((rows, cursor.fetchone()[0]))

    hooks.register_after_rows_loaded(hook)
    yield calls
    hooks._after_rows_loaded.remove(hook)


def test_a_hook_sees_the_rows_of_its_import(world, registered):
    run = load(world.a, [focus_row(DAY, "Compute", "10.00"), focus_row(DAY, "Storage", "2.50")])

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    [(rows, count)] = registered
    assert (rows.tenant_id, rows.import_run_id, count) == (world.a.pk, run.pk, 2)
    assert rows.start <= dt.datetime(2026, 1, 10, tzinfo=dt.UTC) < rows.end


def test_a_failing_hook_fails_the_import_and_keeps_the_previous_rows(world):
    first = load(world.a, [focus_row(DAY, "Compute", "10.00")], source="same")
    assert first.status == ImportRun.Status.SUCCEEDED, first.error

    def broken(cursor, rows):
        raise ValueError("mapping rules could not be applied")

    hooks.register_after_rows_loaded(broken)
    try:
        second = ImportRunFactory(
            tenant=world.a,
            file=io.BytesIO(focus_bytes([focus_row(DAY, "Compute", "99.00")])),
            file_name="test.csv",
            source_key="same",
        )
    finally:
        hooks._after_rows_loaded.remove(broken)

    assert second.status == ImportRun.Status.FAILED
    assert "mapping rules could not be applied" in second.error
    kept = CostLineItem.objects.filter(tenant=world.a)
    assert [(r.x_import_run_id, str(r.billed_cost)) for r in kept] == [(first.pk, "10.00")]
