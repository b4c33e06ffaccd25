"""FOCUS files (CSV, CSV.gz, Parquet) pulled from a bucket through cost_file_import."""

from __future__ import annotations

import datetime as dt
import gzip as gzip_module
import io
from decimal import Decimal

import pytest
from django.db.models import Sum

from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.focus import write_focus_csv, write_focus_parquet
from providers.models import CostLineItem, CostSource, ImportRun
from providers.services.cost_source_pulls import cost_source_pull
from tests.factories import CostSourceFactory
from tests.providers.focus.factories import conformant_rows

KEYS = {"access_key_id": DEFAULT_ACCESS_KEY_ID, "secret_access_key": DEFAULT_SECRET_KEY}
BUCKET = "focus-exports"


def _csv(rows, *, gzip=False) -> bytes:
    out = io.StringIO()
    write_focus_csv(out, rows)
    data = out.getvalue().encode()
    return gzip_module.compress(data) if gzip else data


def _parquet(rows) -> bytes:
    out = io.BytesIO()
    write_focus_parquet(out, rows)
    return out.getvalue()


def _rows(count, *, month, seed=1):
    return list(conformant_rows(count, seed=seed, month=month))


def _billed(rows) -> Decimal:
    return sum((r["billed_cost"] for r in rows), Decimal(0))


def _when(minutes: int) -> dt.datetime:
    return dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)


@pytest.fixture
def bucket(yc_sim):
    yc_sim.storage.add_bucket(BUCKET)
    return yc_sim.storage


def _source(world, sim, **extra):
    return CostSourceFactory(
        actor=world.operator_a,
        tenant=world.a,
        kind=CostSource.Kind.FOCUS_BUCKET,
        name=extra.pop("name", "FOCUS exports"),
        endpoint_url=sim.s3_url,
        bucket=BUCKET,
        prefix="exports/",
        credentials=KEYS,
        **extra,
    )


def _total(tenant):
    return CostLineItem.objects.filter(tenant=tenant).aggregate(s=Sum("billed_cost"))["s"]


def test_csv_gzip_and_parquet_files_are_imported_and_unchanged_ones_skipped(world, yc_sim, bucket):
    january, february, march = _rows(40, month=1), _rows(30, month=2), _rows(20, month=3)
    bucket.put_object(BUCKET, "exports/2026-01.csv", _csv(january), last_modified=_when(1))
    bucket.put_object(
        BUCKET, "exports/2026-02.csv.gz", _csv(february, gzip=True), last_modified=_when(2)
    )
    bucket.put_object(BUCKET, "exports/2026-03.parquet", _parquet(march), last_modified=_when(3))
    bucket.put_object(BUCKET, "exports/README.txt", b"not a billing file")
    bucket.put_object(BUCKET, "elsewhere/2026-01.csv", _csv(january))
    source = _source(world, yc_sim)

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.listed, result.imported, result.status) == (3, 3, "succeeded")
    assert _total(world.a) == _billed(january) + _billed(february) + _billed(march)
    runs = ImportRun.objects.filter(tenant=world.a)
    assert {r.source for r in runs} == {ImportRun.Source.FOCUS_BUCKET}
    assert {r.source_key for r in runs} == {f"focus-bucket:{source.pk}"}
    assert {r.file_name for r in runs} == {
        "exports/2026-01.csv",
        "exports/2026-02.csv.gz",
        "exports/2026-03.parquet",
    }

    again = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (again.unchanged, again.imported) == (3, 0)
    assert ImportRun.objects.filter(tenant=world.a).count() == 3


def test_a_newer_delivery_replaces_the_months_it_covers(world, yc_sim, bucket):
    first, corrected = _rows(40, month=1, seed=1), _rows(25, month=1, seed=2)
    bucket.put_object(BUCKET, "exports/jan-v1.csv", _csv(first), last_modified=_when(1))
    source = _source(world, yc_sim)
    cost_source_pull(actor=world.operator_a, source_id=source.pk)
    # A month-to-date delivery under a new name, listed before the old one by key.
    bucket.put_object(
        BUCKET, "exports/jan-v0-corrected.csv", _csv(corrected), last_modified=_when(9)
    )

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.imported, result.unchanged) == (1, 1)
    assert _total(world.a) == _billed(corrected)


def test_multi_part_deliveries_keep_every_part(world, yc_sim, bucket):
    part1, part2 = _rows(30, month=1, seed=3), _rows(30, month=1, seed=4)
    bucket.put_object(BUCKET, "exports/2026-01/part-1.csv", _csv(part1), last_modified=_when(1))
    bucket.put_object(BUCKET, "exports/2026-01/part-2.csv", _csv(part2), last_modified=_when(2))
    source = _source(world, yc_sim, focus_replace=CostSource.FocusReplace.FILE)

    cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert _total(world.a) == _billed(part1) + _billed(part2)
    rewritten = _rows(10, month=1, seed=5)
    bucket.put_object(BUCKET, "exports/2026-01/part-2.csv", _csv(rewritten), last_modified=_when(5))

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.imported, result.unchanged) == (1, 1)
    assert _total(world.a) == _billed(part1) + _billed(rewritten)
    keys = set(CostLineItem.objects.filter(tenant=world.a).values_list("x_source_key", flat=True))
    assert len(keys) == 2 and all(k.startswith(f"focus-bucket:{source.pk}:") for k in keys)


def test_a_broken_file_is_rejected_and_the_rest_still_load(world, yc_sim, bucket):
    good = _rows(20, month=1)
    bucket.put_object(BUCKET, "exports/good.csv", _csv(good), last_modified=_when(1))
    bucket.put_object(
        BUCKET, "exports/bad.csv", b"BilledCost,Nonsense\n1,2\n", last_modified=_when(2)
    )
    source = _source(world, yc_sim)

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.imported, result.rejected, result.status) == (1, 1, "partial")
    assert _total(world.a) == _billed(good)
    source.refresh_from_db()
    assert source.status == CostSource.Status.ERROR and "bad.csv" in source.last_error


def test_start_date_leaves_older_objects_alone(world, yc_sim, bucket):
    bucket.put_object(
        BUCKET,
        "exports/old.csv",
        _csv(_rows(5, month=1)),
        last_modified=dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
    )
    bucket.put_object(BUCKET, "exports/new.csv", _csv(_rows(5, month=2)), last_modified=_when(1))
    source = _source(world, yc_sim, start_date=dt.date(2026, 1, 1))

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.listed, result.imported) == (1, 1)
