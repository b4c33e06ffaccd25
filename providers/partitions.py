"""Monthly range partitions for the big time-series tables, created on demand.

Bounds are UTC month edges. ``CREATE TABLE IF NOT EXISTS … PARTITION OF`` keeps concurrent
writers safe; the names (``<table>_yYYYYmMM``) are what retention uses to find old months.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def ensure_monthly_partitions(table: str, months) -> list[str]:
    """Create the partitions of ``table`` for the given months (dates or datetimes)."""
    wanted = sorted({month_start(_utc_date(m)) for m in months})
    names = []
    with connection.cursor() as cursor:
        for month in wanted:
            name = partition_name(table, month)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') "
                f"TO ('{next_month(month).isoformat()} 00:00:00+00')"
            )
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
