"""Daily cost rollups, rebuilt for a tenant's day range inside the import's transaction.

``day`` is the charge day in the tenant's time zone, so a Moscow customer's "1 November" holds
what Yandex billed for 1 November MSK (which starts at 31 October 21:00 UTC).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import connection

DIMENSIONS = (
    "x_connection_id",
    "billing_currency",
    "provider_name",
    "service_name",
    "service_category",
    "sub_account_id",
    "sub_account_name",
    "region_id",
    "charge_category",
    "x_business_unit_id",
    "x_project_id",
    "x_feature_id",
    "x_environment_id",
    "x_cost_center_id",
)
RESOURCE_DIMENSIONS = ("resource_id", "x_resource_id", "tags")
MEASURES = """
    coalesce(sum(billed_cost), 0),
    coalesce(sum(effective_cost), 0),
    coalesce(sum(list_cost), 0),
    coalesce(sum(contracted_cost), 0),
    coalesce(sum(x_vat_amount), 0),
    count(*)
"""
MEASURE_COLUMNS = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "vat_amount",
    "line_items",
)


def local_days(start: dt.datetime, end: dt.datetime, time_zone: str) -> tuple[dt.date, dt.date]:
    """The tenant-local days touched by the UTC range [start, end)."""
    tz = zoneinfo.ZoneInfo(time_zone)
    last = end - dt.timedelta(microseconds=1)
    return start.astimezone(tz).date(), last.astimezone(tz).date()


def refresh(*, tenant_id: int, time_zone: str, first_day: dt.date, last_day: dt.date) -> None:
    """Recompute both rollup tables for the tenant's days [first_day, last_day]."""
    tz = zoneinfo.ZoneInfo(time_zone)
    utc_start = dt.datetime.combine(first_day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    utc_end = dt.datetime.combine(
        last_day + dt.timedelta(days=1), dt.time.min, tzinfo=tz
    ).astimezone(dt.UTC)
    params = {
        "tenant": tenant_id,
        "tz": time_zone,
        "first": first_day,
        "last": last_day,
        "start": utc_start,
        "end": utc_end,
    }
    day = "(charge_period_start AT TIME ZONE %(tz)s)::date"
    with connection.cursor() as cursor:
        for table, dims in (
            ("providers_costdailysummary", DIMENSIONS),
            ("providers_costdaily", DIMENSIONS + RESOURCE_DIMENSIONS),
        ):
            cursor.execute(
                f"DELETE FROM {table} WHERE tenant_id = %(tenant)s "
                "AND day BETWEEN %(first)s AND %(last)s",
                params,
            )
            columns = ", ".join(dims)
            cursor.execute(
                f"""
                INSERT INTO {table} (tenant_id, day, {columns}, {", ".join(MEASURE_COLUMNS)})
                SELECT tenant_id, {day} AS day, {columns}, {MEASURES}
                  FROM providers_costlineitem
                 WHERE tenant_id = %(tenant)s
                   AND charge_period_start >= %(start)s AND charge_period_start < %(end)s
                 GROUP BY tenant_id, day, {columns}
                """,
                params,
            )
