"""Provider-specific cost files: a format declared for a provider reads uploads into CostRecords,
loaded through the one loader into the source's days (the VK Cloud detail export plugs in the
same way)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum

from providers.adapters.base import CostRecord
from providers.adapters.registry import (
    cost_file_formats,
    register_cost_file_format,
    unregister_cost_file_format,
)
from providers.adapters.spec import CostFileFormat
from providers.models import CostLineItem, CostSource, ImportRun
from providers.services.cost_api import provider_file_import
from providers.services.cost_sources import cost_source_create
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
KIND = "vk_cloud_test_detail"


def parse_detail(stream, file_name):
    """day;service;resource;amount (RUB with a decimal comma), like a console export."""
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8-sig"), delimiter=";")
    next(reader)  # header
    for line, cells in enumerate(reader, start=2):
        try:
            day, service, resource, amount = cells
            start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min, tzinfo=MSK)
            billed = Decimal(amount.replace(",", "."))
        except Exception as exc:
            raise ValueError(f"line {line}: {type(exc).__name__}: {exc}") from None
        yield CostRecord(
            charge_period_start=start,
            charge_period_end=start + dt.timedelta(days=1),
            billed_cost=billed,
            billing_currency="RUB",
            service_name=service,
            resource_id=resource,
        )


@pytest.fixture(autouse=True)
def detail_format():
    fmt = register_cost_file_format(
        "vk_cloud", CostFileFormat(KIND, "VK Cloud detail (test)", (".csv",), parse_detail)
    )
    yield fmt
    unregister_cost_file_format(KIND)


def _file(rows, name="detail.csv") -> SimpleUploadedFile:
    text = "day;service;resource;amount\n" + "".join(";".join(r) + "\n" for r in rows)
    return SimpleUploadedFile(name, text.encode(), "text/csv")


def _source(world, **extra):
    values = {
        "kind": CostSource.Kind.PROVIDER_FILE,
        "name": f"VK detail {next(_seq)}",
        "file_kind": KIND,
        "connection": ConnectionFactory(tenant=world.a, provider="vk_cloud"),
    }
    return cost_source_create(actor=world.owner_a, tenant=world.a, **{**values, **extra})


_seq = iter(range(10**6))


def _total(source) -> Decimal:
    items = CostLineItem.objects.filter(x_source_key=source.source_key)
    return items.aggregate(s=Sum("billed_cost"))["s"] or Decimal(0)


def test_an_uploaded_file_is_read_by_its_format_and_replaces_its_days(world, api_as):
    source = _source(world)
    assert source.next_pull_at is None  # uploads only: never pulled
    client = api_as(world.owner_a)
    url = f"/api/v1/cost-sources/{source.pk}/upload/"
    first = [
        ("2026-02-13", "Cloud Servers", "vm-1", "120,50"),
        ("2026-02-14", "Cloud Servers", "vm-1", "120,50"),
        ("2026-02-14", "Block Storage", "vol-1", "10,00"),
    ]

    answer = client.post(url, {"file": _file(first)}, format="multipart")

    assert answer.status_code == 201, answer.json()
    run = ImportRun.objects.get(pk=answer.json()["id"])
    assert (run.source, run.rows_read, run.rows_loaded) == ("provider_file", 3, 3)
    assert _total(source) == Decimal("251.00")
    item = CostLineItem.objects.filter(x_source_key=source.source_key).first()
    assert item.provider_name == "VK Cloud" and item.x_connection_id == source.connection_id

    again = client.post(url, {"file": _file(first)}, format="multipart")
    assert ImportRun.objects.get(pk=again.json()["id"]).status == ImportRun.Status.SKIPPED

    revised = [("2026-02-14", "Cloud Servers", "vm-1", "99,00")]
    client.post(url, {"file": _file(revised, "revised.csv")}, format="multipart")
    # 14 February is replaced; 13 February, outside the new file, is kept.
    assert _total(source) == Decimal("120.50") + Decimal("99.00")


def test_an_unreadable_file_fails_whole_with_the_line(world, api_as):
    source = _source(world)
    client = api_as(world.owner_a)
    rows = [("2026-02-14", "Cloud Servers", "vm-1", "1,00"), ("2026-02-30", "x", "y", "2")]

    answer = client.post(
        f"/api/v1/cost-sources/{source.pk}/upload/", {"file": _file(rows)}, format="multipart"
    )

    assert answer.status_code == 400
    assert "line 3" in answer.json()["detail"]
    assert not CostLineItem.objects.exists()


def test_files_of_another_format_or_source_are_refused(world):
    source = _source(world)
    with pytest.raises(ValidationError, match=r"end with \.csv"):
        provider_file_import(
            actor=world.owner_a, source=source, file=io.BytesIO(b"x"), file_name="detail.xlsx"
        )
    with pytest.raises(ValidationError) as caught:
        _source(world, file_kind="nope")
    assert "file_kind" in caught.value.message_dict
    beget = ConnectionFactory(tenant=world.a, provider="beget", name="Hosting")
    with pytest.raises(ValidationError) as caught:
        cost_source_create(
            actor=world.owner_a,
            tenant=world.a,
            kind=CostSource.Kind.PROVIDER_FILE,
            name="Wrong provider",
            file_kind=KIND,
            connection=beget,
        )
    assert "connection" in caught.value.message_dict


def test_formats_are_registered_per_provider_that_declares_cost_files():
    assert cost_file_formats()[KIND][0] == "vk_cloud"
    with pytest.raises(ValueError, match="does not declare cost files"):
        register_cost_file_format("selectel", CostFileFormat("x", "X", (), parse_detail))
