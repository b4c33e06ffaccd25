"""Storage for resource metric samples: monthly partitions, COPY loads, downsampling, retention.

Raw samples land in ``providers_resourcemetric`` (partitioned by month on ``ts``). A partition is
created before the first sample of its month is written. Once a day's samples are complete they
are summarised into ``ResourceMetricDaily``; partitions whose whole month is older than the raw
retention are dropped (a metadata operation, no row-by-row delete, no bloat).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection

from providers import partitions
from providers.partitions import ensure_monthly_partitions, months_between, next_month

TABLE = "providers_resourcemetric"


def partition_name(month: dt.date) -> str:
    return partitions.partition_name(TABLE, month)


def ensure_partitions(start: dt.datetime, end: dt.datetime) -> list[str]:
    """Create the monthly partitions covering [start, end]; returns their names."""
    return ensure_monthly_partitions(TABLE, months_between(start, end))


def samples_write(rows: Iterable[tuple[int, int, str, dt.datetime, float]]) -> int:
    """COPY (tenant_id, resource_id, metric, ts, value) rows; replaces nothing, so callers
    delete the window they re-fetch first."""
    rows = list(rows)
    if not rows:
        return 0
    ensure_partitions(min(r[3] for r in rows), max(r[3] for r in rows))
    with connection.cursor() as cursor:
        copy_sql = f"COPY {TABLE} (tenant_id, resource_id, metric, ts, value) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)


def downsample_day(day: dt.date) -> int:
    """Summarise one UTC day of raw samples into ResourceMetricDaily (upsert)."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO providers_resourcemetricdaily
                   (tenant_id, resource_id, metric, day, avg, min, max, samples)
            SELECT tenant_id, resource_id, metric, %(day)s, avg(value), min(value), max(value),
                   count(*)
              FROM providers_resourcemetric
             WHERE ts >= %(start)s AND ts < %(end)s
             GROUP BY tenant_id, resource_id, metric
            ON CONFLICT (resource_id, metric, day) DO UPDATE
               SET avg = EXCLUDED.avg, min = EXCLUDED.min, max = EXCLUDED.max,
                   samples = EXCLUDED.samples
            """,
            {"day": day, "start": start, "end": end},
        )
        return cursor.rowcount


def drop_expired_partitions(*, keep_days: int, today: dt.date | None = None) -> list[str]:
    """Drop raw partitions whose whole month ended more than ``keep_days`` ago."""
    today = today or dt.datetime.now(dt.UTC).date()
    cutoff = today - dt.timedelta(days=keep_days)
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname FROM pg_inherits
              JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
              JOIN pg_class child ON child.oid = pg_inherits.inhrelid
             WHERE parent.relname = %s
            """,
            [TABLE],
        )
        for (name,) in cursor.fetchall():
            try:
                month = dt.date(int(name[-7:-3]), int(name[-2:]), 1)
            except ValueError:
                continue
            if next_month(month) <= cutoff:
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
    return sorted(dropped)
