"""Monthly partitions are created idempotently and race-free.

Two importers loading into a month that has no partition yet must both succeed: each holds its
own long transaction while it loads, and neither may fail because the other created the
partition first, nor wait for the other's commit. A partition outlives the transaction that
needed it, so a rolled-back import leaves it for the next one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction

from providers import metrics_store
from providers.benchmarks.ingest import write_csv
from providers.models import CostLineItem, ImportRun, ResourceMetric
from providers.partitions import ensure_monthly_partitions, partition_name
from providers.services.costs import cost_file_import
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LINE_ITEMS = "providers_costlineitem"
METRICS = "providers_resourcemetric"
# Months no other test writes to, so the partitions start absent.
IMPORT_MONTH = dt.date(2031, 7, 1)
METRICS_MONTH = dt.date(2031, 8, 1)
ROLLBACK_MONTH = dt.date(2031, 9, 1)
# How long one importer waits, inside its transaction, for the other to have loaded its rows too.
MEET_TIMEOUT_S = 5


def _drop(table: str, month: dt.date) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partition_name(table, month)}")


def _exists(table: str, month: dt.date) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(table, month)])
        return cursor.fetchone()[0]


def _in_threads(work, count: int = 2) -> list[BaseException]:
    """Run ``work(n)`` in ``count`` threads, each on its own database connection."""
    errors: list[BaseException] = []

    def target(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an importer hung"
    return errors


def test_two_importers_into_an_empty_month_both_succeed(tmp_path):
    _drop(LINE_ITEMS, IMPORT_MONTH)
    tenants = [TenantFactory(), TenantFactory()]
    files = []
    for n in range(2):
        path = tmp_path / f"costs-{n}.csv"
        write_csv(path, 300, resources=20, seed=n, year=IMPORT_MONTH.year, month=IMPORT_MONTH.month)
        files.append(path)
    meet = threading.Barrier(2)
    runs: dict[int, ImportRun] = {}

    def loaded(run: ImportRun) -> None:
        # Called inside the import's transaction after its rows are in: both importers must get
        # this far (each past the partition) before either commits.
        # If the other importer is stuck, this one goes on so that the failure shows.
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait(timeout=MEET_TIMEOUT_S)

    def work(n: int) -> None:
        runs[n] = cost_file_import(
            actor=None,
            tenant=tenants[n],
            file=files[n],
            source_key=f"pull-{n}",
            progress=loaded,
        )

    errors = _in_threads(work)

    assert errors == []
    assert [runs[n].status for n in range(2)] == [ImportRun.Status.SUCCEEDED] * 2, [
        runs[n].error for n in range(2)
    ]
    assert not meet.broken  # neither waited for the other's commit
    for n in range(2):
        assert CostLineItem.objects.filter(tenant=tenants[n]).count() == 300
    assert _exists(LINE_ITEMS, IMPORT_MONTH)


def test_two_metric_writers_into_an_empty_month_both_succeed():
    _drop(METRICS, METRICS_MONTH)
    tenant = TenantFactory()
    moment = dt.datetime(METRICS_MONTH.year, METRICS_MONTH.month, 3, tzinfo=dt.UTC)
    meet = threading.Barrier(2)

    def work(n: int) -> None:
        with transaction.atomic():
            metrics_store.samples_write([(tenant.pk, 1000 + n, "cpu_utilization", moment, 1.5)])
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait(timeout=MEET_TIMEOUT_S)

    errors = _in_threads(work)

    assert errors == []
    assert not meet.broken
    assert ResourceMetric.objects.filter(tenant=tenant, ts=moment).count() == 2
    assert _exists(METRICS, METRICS_MONTH)


def test_a_partition_outlives_the_transaction_that_created_it():
    _drop(LINE_ITEMS, ROLLBACK_MONTH)

    def failing_import():
        with transaction.atomic():
            ensure_monthly_partitions(LINE_ITEMS, [ROLLBACK_MONTH])
            raise RuntimeError("the import failed after the partition was made")

    with pytest.raises(RuntimeError):
        failing_import()

    assert _exists(LINE_ITEMS, ROLLBACK_MONTH)
    # Idempotent: asking again (inside or outside a transaction) is a no-op.
    with transaction.atomic():
        assert ensure_monthly_partitions(LINE_ITEMS, [ROLLBACK_MONTH]) == [
            partition_name(LINE_ITEMS, ROLLBACK_MONTH)
        ]
    ensure_monthly_partitions(LINE_ITEMS, [ROLLBACK_MONTH])
    assert _exists(LINE_ITEMS, ROLLBACK_MONTH)


def test_a_transaction_holding_conflicting_locks_still_gets_its_partition():
    """A metrics partition needs a lock on core_tenant (its foreign key); a transaction that has
    just written a tenant holds a conflicting one, so creating the partition beside it would wait
    for ourselves. It is created inside that transaction instead."""
    _drop(METRICS, ROLLBACK_MONTH)
    moment = dt.datetime(ROLLBACK_MONTH.year, ROLLBACK_MONTH.month, 5, tzinfo=dt.UTC)

    started = time.monotonic()
    with transaction.atomic():
        tenant = TenantFactory()
        assert metrics_store.samples_write([(tenant.pk, 1, "cpu_utilization", moment, 2.0)]) == 1

    assert _exists(METRICS, ROLLBACK_MONTH)
    # Made at once, not after the side connection gave up waiting for our own lock.
    assert time.monotonic() - started < MEET_TIMEOUT_S
