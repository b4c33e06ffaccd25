"""Monthly range partitions for the big time-series tables, created on demand, race-free.

Bounds are UTC month edges; the names (``<table>_yYYYYmMM``) are what retention uses to find old
months. Two importers reaching a new month at once must both succeed, and neither may wait for
the other's (long) import transaction:

- a partition is made in a short transaction of its own, on a side connection, and committed at
  once: it outlives the import that needed it (a rolled-back import leaves an empty partition,
  which the next import uses). Creators of one partition are serialised by a transaction-scoped
  advisory lock on its name, and each looks for it again once it holds the lock, so the second
  one finds it instead of failing with "already exists";
- the table is created alone and then attached (``ATTACH PARTITION`` takes a SHARE UPDATE
  EXCLUSIVE lock on the parent, which running inserts and deletes do not block), whereas
  ``CREATE TABLE … PARTITION OF`` needs ACCESS EXCLUSIVE on the parent and so waits for every
  transaction that has touched the table — including the caller's own;
- when the caller's transaction itself holds a lock the side connection would wait for (e.g. it
  wrote a tenant, and the metrics table's foreign key makes attaching lock ``core_tenant``), or
  the side connection cannot get its locks in time, the partition is made inside the caller's
  transaction instead, under the same advisory lock: correct, only less concurrent.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from django.db import OperationalError, connection, transaction

from core.locks import LockKey

# How long the side connection waits for its locks before the caller's transaction does the work.
SIDE_LOCK_TIMEOUT = "10s"
# Lock modes that conflict with what attaching a partition takes: SHARE UPDATE EXCLUSIVE on the
# partitioned table, SHARE ROW EXCLUSIVE on each table its foreign keys reference.
_PARENT_CONFLICTS = (
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
_REFERENCED_CONFLICTS = ("RowExclusiveLock", *_PARENT_CONFLICTS)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def ensure_monthly_partitions(table: str, months) -> list[str]:
    """Make sure ``table`` has the partitions of the given months (dates or datetimes); returns
    their names. Safe to call from any number of processes at once, in or out of a transaction."""
    wanted = sorted({month_start(_utc_date(m)) for m in months})
    names = []
    for month in wanted:
        name = partition_name(table, month)
        with connection.cursor() as cursor:
            if not _exists(cursor, name):
                _create(table, month, name)
        names.append(name)
    return names


def months_between(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    month, last = month_start(_utc_date(start)), month_start(_utc_date(end))
    months = []
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def _utc_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date()
    return value


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def _create(table: str, month: dt.date, name: str) -> None:
    if not connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            _attach(cursor, table, month, name)
        return
    if not _holds_conflicting_locks(table):
        try:
            with connection.wrap_database_errors:
                _create_beside(table, month, name)
            return
        except OperationalError:
            pass  # no locks in time (or no side connection): do it in the caller's transaction
    with connection.cursor() as cursor:
        _attach(cursor, table, month, name)


def _create_beside(table: str, month: dt.date, name: str) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(**params) as side, side.cursor() as cursor:  # commits on leaving
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [SIDE_LOCK_TIMEOUT])
        _attach(cursor, table, month, name)


def _attach(cursor, table: str, month: dt.date, name: str) -> None:
    """Create and attach one partition in the cursor's transaction, unless someone has already."""
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [int(LockKey.PARTITION_CREATE), name]
    )
    if _exists(cursor, name):
        return
    low = f"{month.isoformat()} 00:00:00+00"
    high = f"{next_month(month).isoformat()} 00:00:00+00"
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"
    )


def _holds_conflicting_locks(table: str) -> bool:
    """True when this session's transaction holds a lock that attaching a partition of ``table``
    on another connection would have to wait for (it would wait for us, and we for it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_locks
                 WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted
                   AND ((relation = %(table)s::regclass AND mode = ANY(%(parent)s))
                        OR (mode = ANY(%(referenced)s) AND relation IN (
                            SELECT confrelid FROM pg_constraint
                             WHERE conrelid = %(table)s::regclass AND contype = 'f')))
            )
            """,
            {
                "table": table,
                "parent": list(_PARENT_CONFLICTS),
                "referenced": list(_REFERENCED_CONFLICTS),
            },
        )
        return cursor.fetchone()[0]
