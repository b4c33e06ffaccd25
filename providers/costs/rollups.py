"""Daily cost rollups, rebuilt for a tenant's day range inside the import's transaction.

``day`` is the charge day in the tenant's time zone, so a Moscow customer's "1 November" holds
what Yandex billed for 1 November MSK (which starts at 31 October 21:00 UTC).

A month of line items can hold hundreds of thousands of (day, resource, tags, …) groups. The
rebuild runs with more work_mem (ROLLUP_WORK_MEM) and hash aggregation (which spills to disk when
it must): left to itself, on a partition just loaded, the planner sorts a million wide rows by
nineteen keys on disk, which takes three times as long. Both settings last for the rebuild only.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import connection, transaction

# Memory for the rebuild's aggregation (PostgreSQL work_mem; hashing may use hash_mem_multiplier
# times as much).
ROLLUP_WORK_MEM = "64MB"
# Hash aggregation, in this backend (parallel workers would each hash most of the groups).
PLANNER_SETTINGS = {
    "work_mem": ROLLUP_WORK_MEM,
    "enable_sort": "off",
    "max_parallel_workers_per_gather": "0",
}
SCRATCH = "costrollup_scratch"  # a temporary table, dropped before the transaction ends

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
    # Estimates (inventory x price list) stay apart from billed costs in every rollup row.
    "x_estimated",
)
RESOURCE_DIMENSIONS = ("resource_id", "x_resource_id", "tags", "x_virtual_tags")
MEASURES = """
    coalesce(sum(billed_cost), 0) AS billed_cost,
    coalesce(sum(effective_cost), 0) AS effective_cost,
    coalesce(sum(list_cost), 0) AS list_cost,
    coalesce(sum(contracted_cost), 0) AS contracted_cost,
    coalesce(sum(x_vat_amount), 0) AS vat_amount,
    count(*) AS line_items
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
    dims, per_res = ", ".join(DIMENSIONS), ", ".join(RESOURCE_DIMENSIONS)
    measures = ", ".join(MEASURE_COLUMNS)
    summed = ", ".join(f"sum({column})" for column in MEASURE_COLUMNS)
    # Atomic: readers never see the days emptied (and local settings need a transaction).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for table in ("providers_costdailysummary", "providers_costdaily"):
            cursor.execute(
                f"DELETE FROM {table} WHERE tenant_id = %(tenant)s "
                "AND day BETWEEN %(first)s AND %(last)s",
                params,
            )
        # One pass over the line items into a scratch table (not WAL-logged), then the
        # per-resource rows as they are and the summary as their sums (exactly the line items'
        # sums: every resource group lies within one summary group). GROUP BY lists the
        # many-valued keys first: should a sort be chosen after all, its comparisons end sooner.
        previous = _set_local(cursor, PLANNER_SETTINGS)
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {SCRATCH} ON COMMIT DROP AS
            SELECT tenant_id, {day} AS day, {dims}, {per_res}, {MEASURES}
              FROM providers_costlineitem
             WHERE tenant_id = %(tenant)s
               AND charge_period_start >= %(start)s AND charge_period_start < %(end)s
             GROUP BY tenant_id, day, {per_res}, {dims}
            """,
            params,
        )
        cursor.execute(
            f"INSERT INTO providers_costdaily (tenant_id, day, {dims}, {per_res}, {measures}) "
            f"SELECT tenant_id, day, {dims}, {per_res}, {measures} FROM {SCRATCH}"
        )
        cursor.execute(
            f"INSERT INTO providers_costdailysummary (tenant_id, day, {dims}, {measures}) "
            f"SELECT tenant_id, day, {dims}, {summed} "
            f"FROM {SCRATCH} GROUP BY tenant_id, day, {dims}"
        )
        cursor.execute(f"DROP TABLE {SCRATCH}")
        _set_local(cursor, previous)


def _set_local(cursor, settings: dict[str, str]) -> dict[str, str]:
    """Set PostgreSQL settings for the current transaction; returns their previous values."""
    names = list(settings)
    cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
    previous = dict(zip(names, cursor.fetchone(), strict=True))
    for name, value in settings.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    return previous
