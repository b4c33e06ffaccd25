"""The portal's Costs page: the month by service in the tenant's currency, net/gross, FOCUS
downloads, and uploads for people who manage connections."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from providers.models import ImportRun
from providers.services.costs import cost_file_import
from providers.tasks import cost_file_import_task
from tests.providers.costs.test_query import (
    JAN,
    focus_bytes,
    focus_row,
    load,
    yandex_vat,  # noqa: F401  (autouse fixture)
)

URL = reverse("portal:costs")
UPLOAD = reverse("portal:costs_upload")


@pytest.fixture
def queued(monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(
        cost_file_import_task, "apply_async", lambda kwargs, **kw: calls.append(kwargs)
    )
    return calls


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_month_by_service_with_totals_in_the_tenants_currency(login, world):
    load(
        world.a,
        [
            focus_row(JAN, "Compute Cloud", "1220.50"),
            focus_row(JAN, "Object Storage", "12.20"),
            focus_row(dt.date(2026, 2, 2), "Compute Cloud", "999"),
        ],
    )
    load(world.b, [focus_row(JAN, "Secret Service", "5")])

    response = login(world.owner_a).get(URL, {"month": "2026-01"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    rows = response.context["result"].rows
    assert [(r["service"], r["billed_cost"]) for r in rows] == [
        ("Compute Cloud", Decimal("1220.5")),
        ("Object Storage", Decimal("12.2")),
    ]
    assert "RUB\xa01,232.70" in html  # the month's total, formatted with the currency
    assert "Gross: including VAT." in html
    assert "Secret Service" not in html
    assert f"/api/v1/cost-export/?tenant={world.a.pk}&amp;period=2026-01&amp;format=csv" in html
    assert "format=parquet" in html


def test_net_tenants_see_net_amounts_in_russian(login, world):
    world.a.cost_amounts = "net"
    world.a.save()
    load(world.a, [focus_row(JAN, "Compute Cloud", "122")])

    response = login(world.owner_a).get(URL, {"month": "2026-01"}, HTTP_ACCEPT_LANGUAGE="ru")

    html = response.content.decode()
    assert response.context["result"].totals["billed_cost"] == 100
    assert "100,00\xa0₽" in html
    assert "Без НДС" in html
    assert "Расходы" in html


def test_a_missing_exchange_rate_is_explained(login, world):
    load(world.a, [focus_row(JAN, "EC2", "3", currency="USD", provider="AWS")])
    response = login(world.owner_a).get(URL, {"month": "2026-01"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "USD: 2026-01-10" in response.content.decode()


def test_viewers_see_costs_but_no_upload_form(login, world):
    response = login(world.viewer_a).get(URL)
    assert response.status_code == 200
    assert response.context["can_upload"] is False
    assert UPLOAD not in response.content.decode()
    refused = login(world.viewer_a).post(UPLOAD, {})
    assert refused.status_code == 403


def test_upload_queues_the_file_and_lists_it(
    login, world, queued, django_capture_on_commit_callbacks
):
    client = login(world.owner_a)
    data = focus_bytes([focus_row(JAN, "Compute Cloud", "3")])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            UPLOAD,
            {
                "file": SimpleUploadedFile("azure.csv", data),
                "source_key": "azure",
                "policy": "skip_rows",
            },
        )

    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert (run.tenant, run.source_key, run.policy, run.status) == (
        world.a,
        "azure",
        "skip_rows",
        "pending",
    )
    assert queued and queued[0]["run_id"] == run.pk
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert "azure.csv" in page.content.decode()
    assert page.context["imports_running"] is True


def test_a_bad_upload_shows_why_on_the_page(login, world, queued):
    response = login(world.owner_a).post(
        UPLOAD,
        {
            "file": SimpleUploadedFile("notes.txt", b"hello"),
            "source_key": "x",
            "policy": "reject_file",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "not a loadable FOCUS file" in response.content.decode()
    assert not ImportRun.objects.exists() and not queued


def test_failed_imports_show_their_first_error(login, world):
    text = focus_bytes([focus_row(JAN, "Compute Cloud", "3")]).replace(b"RUB", b"RUR", 1)

    cost_file_import(actor=None, tenant=world.a, file=io.BytesIO(text), file_name="bad.csv")
    html = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "bad.csv" in html and "unknown_currency" in html and "line 2" in html
