"""Load FOCUS-shaped text rows into CostLineItem: COPY in chunks, then swap atomically.

Everything happens inside the caller's transaction:
1. rows stream into the line-item table by COPY, tagged with this import run, in chunks whose
   monthly partitions are created just before (a partition cannot be created mid-COPY);
2. the source's previous rows for the replaced range (other runs) are deleted;
3. the rollups of the touched days are rebuilt.
Readers see the old data until the commit and the new data after it; a failure or a killed
process rolls everything back, leaving the previous data untouched. Memory is bounded by the
chunk size, never by the file size.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import islice

from django.db import connection

from providers.costs import rollups
from providers.costs.vat import VatResolver
from providers.focus import spec
from providers.partitions import ensure_monthly_partitions

TABLE = "providers_costlineitem"
CHUNK_ROWS = 20_000
FOCUS_FIELDS = frozenset(c.field for c in spec.columns_for("1.2"))


@dataclass
class LoadTarget:
    tenant_id: int
    time_zone: str
    import_run_id: int
    source_key: str
    connection_id: int | None = None
    # Provider resource id -> Resource.pk, to link rows to the resource registry.
    resource_ids: dict[str, int] = field(default_factory=dict)
    vat: VatResolver | None = None


@dataclass
class LoadResult:
    rows_loaded: int = 0
    rows_replaced: int = 0
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    linked_resources: int = 0
    totals: dict = field(default_factory=dict)


def resource_index(tenant_id: int) -> dict[str, int]:
    from providers.models import Resource

    index: dict[str, int] = {}
    for provider_id, pk in Resource.objects.filter(tenant_id=tenant_id).values_list(
        "provider_id", "pk"
    ):
        index.setdefault(provider_id, pk)
    return index


def load(
    target: LoadTarget,
    fields: Sequence[str],
    rows: Iterable[Sequence[str | None]],
    *,
    replace: Callable[[dt.datetime, dt.datetime], tuple[dt.datetime, dt.datetime]],
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """COPY ``rows`` (text cells in ``fields`` order) and replace the source's older rows.

    ``replace(first, last)`` turns the loaded rows' first and last ChargePeriodStart into the
    [start, end) range whose previous rows of this source are replaced (whole months for FOCUS
    files, one MSK day for a Yandex daily export).
    """
    plan = _ColumnPlan(fields)
    result = LoadResult()
    first = last = None
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, CHUNK_ROWS):
            starts = [row[plan.start_index] for row in chunk]
            ensure_monthly_partitions(TABLE, {_month_of(value) for value in starts})
            low, high = min(starts), max(starts)
            first = low if first is None or low < first else first
            last = high if last is None or high > last else last
            with cursor.copy(f"COPY {TABLE} ({', '.join(plan.columns)}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(plan.render(row, target, result))
            result.rows_loaded += len(chunk)
            if progress:
                progress(result.rows_loaded)
        if first is None:
            return result
        start, end = replace(_parse_instant(first), _parse_instant(last))
        result.period_start, result.period_end = start, end
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE tenant_id = %s AND x_source_key = %s "
            "AND charge_period_start >= %s AND charge_period_start < %s "
            "AND x_import_run_id <> %s",
            [target.tenant_id, target.source_key, start, end, target.import_run_id],
        )
        result.rows_replaced = cursor.rowcount
        result.totals = _totals(cursor, target.import_run_id, start, end)
    first_day, last_day = rollups.local_days(start, end, target.time_zone)
    rollups.refresh(
        tenant_id=target.tenant_id,
        time_zone=target.time_zone,
        first_day=first_day,
        last_day=last_day,
    )
    return result


class _ColumnPlan:
    """Maps the source's cells onto the table's columns once, so each row is a cheap render."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.focus = [(i, f) for i, f in enumerate(fields) if f in FOCUS_FIELDS]
        self.extensions = [(i, f) for i, f in enumerate(fields) if f not in FOCUS_FIELDS]
        positions = {f: i for i, f in enumerate(fields)}
        try:
            self.start_index = positions["charge_period_start"]
        except KeyError as exc:
            raise ValueError("ChargePeriodStart is required to load cost rows") from exc
        self.billed_index = positions.get("billed_cost")
        self.currency_index = positions.get("billing_currency")
        self.provider_index = positions.get("provider_name")
        self.resource_index = positions.get("resource_id")
        self.focus_indexes = [i for i, _ in self.focus]
        self.columns = [
            *(f for _, f in self.focus),
            "tenant_id",
            "x_import_run_id",
            "x_source_key",
            "x_connection_id",
            "x_resource_id",
            "x_vat_rate",
            "x_vat_amount",
            "x_extensions",
        ]

    def render(self, row, target: LoadTarget, result: LoadResult) -> list:
        out = [row[i] for i in self.focus_indexes]
        resource_pk = None
        if self.resource_index is not None and target.resource_ids:
            resource_pk = target.resource_ids.get(row[self.resource_index])
            if resource_pk is not None:
                result.linked_resources += 1
        vat_rate = vat_amount = None
        if target.vat and self.provider_index is not None and self.billed_index is not None:
            rule = target.vat.rule_for(
                row[self.provider_index], row[self.currency_index] or "", row[self.start_index]
            )
            if rule is not None and row[self.billed_index] is not None:
                try:
                    billed = Decimal(row[self.billed_index])
                except InvalidOperation:
                    billed = None
                if billed is not None:
                    vat_rate = rule[0]
                    vat_amount = target.vat.vat_amount(billed, rule[0], rule[1])
        extensions = None
        if self.extensions:
            values = {name: row[i] for i, name in self.extensions if row[i] is not None}
            extensions = json.dumps(values, separators=(",", ":")) if values else None
        out.extend(
            (
                target.tenant_id,
                target.import_run_id,
                target.source_key,
                target.connection_id,
                resource_pk,
                vat_rate,
                vat_amount,
                extensions,
            )
        )
        return out


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _month_of(value: str) -> dt.date:
    return dt.date(int(value[0:4]), int(value[5:7]), 1)


def _parse_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _totals(cursor, run_id: int, start, end) -> dict:
    cursor.execute(
        f"""
        SELECT billing_currency, count(*), coalesce(sum(billed_cost), 0),
               coalesce(sum(effective_cost), 0), coalesce(sum(list_cost), 0),
               coalesce(sum(x_vat_amount), 0)
          FROM {TABLE}
         WHERE x_import_run_id = %s AND charge_period_start >= %s AND charge_period_start < %s
         GROUP BY billing_currency ORDER BY billing_currency
        """,
        [run_id, start, end],
    )
    return {
        currency: {
            "rows": rows,
            "billed_cost": str(billed),
            "effective_cost": str(effective),
            "list_cost": str(listed),
            "vat_amount": str(vat),
        }
        for currency, rows, billed, effective, listed, vat in cursor.fetchall()
    }


def whole_months(first: dt.datetime, last: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """FOCUS files replace whole months of their source."""
    from providers.partitions import next_month

    start = dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC)
    end_month = next_month(dt.date(last.year, last.month, 1))
    return start, dt.datetime(end_month.year, end_month.month, 1, tzinfo=dt.UTC)
