"""Load FOCUS-shaped text rows into CostLineItem: one streaming COPY, then swap atomically.

Everything happens inside the caller's transaction:
1. the source's imports are serialised (a transaction-scoped advisory lock on tenant + source);
2. rows are rendered to COPY text and streamed into the line-item table, tagged with this import
   run. Before the first row of a new month its partition is created, and before the first row of
   a new replace range (``replace(t, t)``: its month for FOCUS files, the day for a daily export)
   the source's previous rows in that range are deleted; both need the COPY to pause (no other
   statement can run mid-COPY), which happens once per month or range, not per chunk;
3. after the last row, the rest of ``replace(first, last)`` (months the file skipped) is deleted;
4. statistics of the partitions that changed a lot are refreshed, totals taken, and the rollups
   of the touched days rebuilt.
Readers see the old data until the commit and the new data after it; a failure or a killed
process rolls everything back, leaving the previous data untouched.

Memory is bounded by one batch of rendered rows, never by the file size. Rows are streamed as they
are read: PostgreSQL parses and indexes one batch while Python reads and renders the next (the
socket buffers in between), so on two cores the load runs at the speed of the slower side.

Two ways in: ``load`` takes rows (lists of cell text, rendered one by one: provider API records,
Yandex exports), ``load_batches`` takes pyarrow Tables of text columns (FOCUS files, read and
vetted a column at a time by ``FocusReader.text_batches``), rendered by ``arrow_rows.ArrowPlan``
in a producer thread that feeds COPY through a bounded queue. Both share everything from step 1
to 4; the columnar path also fills linked rows from the inventory in the stream.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from operator import itemgetter

from django.db import OperationalError, connection, transaction

from providers.costs import enrichment, hooks, rollups
from providers.costs.arrow_rows import ArrowPlan
from providers.costs.vat import VatResolver
from providers.focus import spec
from providers.partitions import ensure_monthly_partitions

TABLE = "providers_costlineitem"
BATCH_ROWS = 2_000  # rendered rows per COPY write: about 1.5 MB of text
PROGRESS_ROWS = 20_000  # rows between progress callbacks
FOCUS_FIELDS = frozenset(c.field for c in spec.columns_for("1.3"))
# A FOCUS 1.3 file may name its provider only in ServiceProviderName (ProviderName and
# PublisherName are deprecated); the older columns, which VAT rules, rollups and queries use, are
# then filled from it.
PROVIDER_FALLBACKS = {
    "provider_name": "service_provider_name",
    "publisher_name": "service_provider_name",
}
# A row field holding the credit breakdown as JSON text (the Yandex export reader emits it).
CREDITS_FIELD = "x_credits"
# Statistics are refreshed when a load adds at least this share of a partition's rows (or the
# partition never had any): the replace, totals and rollup queries that follow plan on them.
ANALYZE_SHARE = 0.1
ANALYZE_COLUMNS = "(tenant_id, x_source_key, charge_period_start, x_import_run_id)"
ANALYZE_LOCK_TIMEOUT = "200ms"  # another import of the same month holds it: skip, never wait

_NUL = "\x00"  # marks None cells while a row is joined (PostgreSQL text never holds NUL)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_json_string = json.encoder.encode_basestring_ascii  # what json.dumps() uses for str


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
    # Every row of this load is an estimate (x_estimated), not a billed cost.
    estimated: bool = False


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


Replace = Callable[[dt.datetime, dt.datetime], tuple[dt.datetime, dt.datetime]]


def load(
    target: LoadTarget,
    fields: Sequence[str],
    rows: Iterable[Sequence[str | None]],
    *,
    replace: Replace,
    progress: Callable[[int], None] | None = None,
    empty_is_null: bool = False,
    clear_when_empty: tuple[dt.datetime, dt.datetime] | None = None,
) -> LoadResult:
    """COPY ``rows`` (text cells in ``fields`` order) and replace the source's older rows.

    ``replace(first, last)`` turns the loaded rows' first and last ChargePeriodStart into the
    [start, end) range whose previous rows of this source are replaced (whole months for FOCUS
    files, one MSK day for a Yandex daily export). It must be monotone (a sub-span's range lies
    within the whole span's), which lets each range be cleared as the rows reach it; a load whose
    ranges break that rule fails with ValueError (and rolls back).

    Null cells are None; with ``empty_is_null`` "" is null too (and there are no empty strings),
    as in ``FocusReader.text_rows(null="")``, which lets rows go to COPY without a pass over their
    cells.

    Without rows, nothing changes, unless ``clear_when_empty`` names the range the (empty) source
    covers: its previous rows are then deleted, as the source says there is nothing there now.
    Rows linked to a resource get the inventory's region, zone, name and type where the source
    has none (``enrichment.enrich_import``).
    """
    plan = _ColumnPlan(fields, target, empty_is_null)

    def stream(cursor, window: _ReplaceWindow, result: LoadResult) -> None:
        _stream(cursor, plan, rows, window, result, progress)

    return _load(target, stream, replace=replace, clear_when_empty=clear_when_empty)


def load_batches(
    target: LoadTarget,
    fields: Sequence[str],
    batches: Iterable,
    *,
    replace: Replace,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """``load`` for rows that come as pyarrow Tables of text columns named by ``fields`` ("" for
    null), as ``FocusReader.text_batches()`` yields them: rendered a column at a time
    (arrow_rows.ArrowPlan) in a producer thread while this one streams the previous batches to
    COPY. Same guarantees as ``load``: one transaction, the replace, resource links, VAT,
    enrichment, hooks and rollups."""
    plan = ArrowPlan(
        fields,
        target,
        focus_fields=FOCUS_FIELDS,
        provider_fallbacks=PROVIDER_FALLBACKS,
        credits_field=CREDITS_FIELD,
        table=TABLE,
        inventory=resource_inventory(target.tenant_id) if target.resource_ids else None,
    )

    def stream(cursor, window: _ReplaceWindow, result: LoadResult) -> None:
        _pipeline(cursor, plan, batches, window, result, progress)

    # Linked rows are enriched in the stream (no UPDATE of them after the COPY).
    enriched = bool(plan.enriched)
    return _load(target, stream, replace=replace, clear_when_empty=None, enriched=enriched)


def resource_inventory(tenant_id: int) -> dict[int, tuple[str, str, str, str]]:
    """Resource pk -> (region, zone, name, type): what enrichment fills in linked rows."""
    from providers.models import Resource

    return {
        pk: (region, zone, name, kind)
        for pk, region, zone, name, kind in Resource.objects.filter(tenant_id=tenant_id)
        .values_list("pk", "region", "zone", "name", "type")
        .iterator(chunk_size=10_000)
    }


def _load(
    target: LoadTarget, stream, *, replace: Replace, clear_when_empty, enriched: bool = False
) -> LoadResult:
    result = LoadResult()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
            [target.source_key, target.tenant_id],
        )
        window = _ReplaceWindow(cursor, target, replace)
        stream(cursor, window, result)
        if window.first is None:
            if clear_when_empty is None:
                return result
            start, end = clear_when_empty
            window.clear(start, end)
        else:
            start, end = window.finish()
            _refresh_statistics(cursor, window.partitions, result.rows_loaded)
            if result.linked_resources and not enriched:
                enrichment.enrich_import(
                    cursor,
                    tenant_id=target.tenant_id,
                    import_run_id=target.import_run_id,
                    start=start,
                    end=end,
                )
            hooks.after_rows_loaded(
                cursor, hooks.LoadedRows(target.tenant_id, target.import_run_id, start, end)
            )
            result.totals = _totals(cursor, target.import_run_id, start, end)
        result.rows_replaced = window.rows_replaced
        result.period_start, result.period_end = start, end
    first_day, last_day = rollups.local_days(start, end, target.time_zone)
    rollups.refresh(
        tenant_id=target.tenant_id,
        time_zone=target.time_zone,
        first_day=first_day,
        last_day=last_day,
    )
    hooks.after_rollups(target.tenant_id, target.time_zone, first_day, last_day)
    return result


# Rendered batches waiting for COPY: bounds memory, and makes the parser wait (back-pressure)
# when PostgreSQL is the slower side.
PIPELINE_DEPTH = 4
_DONE = object()


def _pipeline(cursor, plan, batches, window: _ReplaceWindow, result, progress) -> None:
    """Render batches in a producer thread, COPY them in this one (which owns the connection).

    pyarrow's parser and kernels and psycopg's socket writes release the GIL, so on two cores
    parsing the next batches and PostgreSQL's COPY of the previous ones overlap. The queue is
    bounded: memory stays at PIPELINE_DEPTH batches whatever the file's size.
    """
    rendered: queue.Queue = queue.Queue(maxsize=PIPELINE_DEPTH)
    stop = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                rendered.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if batch.num_rows and not hand_over(
                    (*plan.render(batch), batch.num_rows, plan.starts(batch))
                ):
                    return
        except BaseException as exc:  # handed to the COPY side, which raises it
            hand_over(exc)
        else:
            hand_over(_DONE)

    producer = threading.Thread(target=produce, name="cost-import-render", daemon=True)
    copy = _Copy(cursor, plan.copy_sql)
    next_progress = PROGRESS_ROWS
    producer.start()
    try:
        while (item := rendered.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            payload, linked, rows, starts = item
            seen = window.seen
            admitted = [window.admit(start) for start in starts if start not in seen]
            if any(admitted):
                copy.close()  # no other statement can run mid-COPY
                window.prepare()
            copy.write(memoryview(payload))
            result.rows_loaded += rows
            result.linked_resources += linked
            if progress and result.rows_loaded >= next_progress:
                next_progress = result.rows_loaded + PROGRESS_ROWS
                progress(result.rows_loaded)
        copy.close()
    except BaseException as exc:
        stop.set()
        copy.close(exc)
        raise
    finally:
        stop.set()
        producer.join()
    if progress and result.rows_loaded:
        progress(result.rows_loaded)


def _stream(cursor, plan: _ColumnPlan, rows, window: _ReplaceWindow, result, progress) -> None:
    (render, linked), start_index, seen = plan.renderer(), plan.start_index, window.seen
    copy = _Copy(cursor, plan.copy_sql)
    batch: list[str] = []
    next_progress = PROGRESS_ROWS
    try:
        for row in rows:
            start = row[start_index]
            if start not in seen and window.admit(start):
                if batch:
                    copy.write("".join(batch))
                    result.rows_loaded += len(batch)
                    batch.clear()
                copy.close()  # no other statement can run mid-COPY
                window.prepare()
            batch.append(render(row))
            if len(batch) >= BATCH_ROWS:
                copy.write("".join(batch))
                result.rows_loaded += len(batch)
                batch.clear()
                if progress and result.rows_loaded >= next_progress:
                    next_progress = result.rows_loaded + PROGRESS_ROWS
                    progress(result.rows_loaded)
        if batch:
            copy.write("".join(batch))
            result.rows_loaded += len(batch)
        copy.close()
    except BaseException as exc:
        copy.close(exc)
        raise
    finally:
        result.linked_resources = linked()
    if progress and result.rows_loaded:
        progress(result.rows_loaded)


class _Copy:
    """A COPY FROM STDIN that is opened on the first write and can be closed and reopened."""

    def __init__(self, cursor, sql: str) -> None:
        self._cursor, self._sql = cursor, sql
        self._context = self._copy = None

    def write(self, text: str) -> None:
        if self._copy is None:
            self._context = self._cursor.copy(self._sql)
            self._copy = self._context.__enter__()
        self._copy.write(text)

    def close(self, exc: BaseException | None = None) -> None:
        context, self._context, self._copy = self._context, None, None
        if context is not None:
            if exc is None:
                context.__exit__(None, None, None)
            else:
                context.__exit__(type(exc), exc, exc.__traceback__)


class _ReplaceWindow:
    """Partitions to create and previous rows to delete, as the loaded rows reach them."""

    SEEN_LIMIT = 100_000  # distinct ChargePeriodStart texts remembered (a re-check is cheap)

    def __init__(self, cursor, target: LoadTarget, replace: Replace) -> None:
        self.cursor, self.target, self.replace = cursor, target, replace
        self.seen: set[str] = set()
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.months: set[dt.date] = set()
        self.partitions: list[str] = []
        self.ranges: set[tuple[dt.datetime, dt.datetime]] = set()  # every replace(t, t) met
        self.cleared: list[tuple[dt.datetime, dt.datetime]] = []  # sorted, disjoint
        self.rows_replaced = 0
        self._new_months: set[dt.date] = set()
        self._to_clear: list[tuple[dt.datetime, dt.datetime]] = []

    def admit(self, start: str) -> bool:
        """Note a ChargePeriodStart not seen before; True if statements must run before its row."""
        if len(self.seen) >= self.SEEN_LIMIT:
            self.seen.clear()
        self.seen.add(start)
        instant = _parse_instant(start)
        if self.first is None or instant < self.first:
            self.first = instant
        if self.last is None or instant > self.last:
            self.last = instant
        month = dt.date(instant.year, instant.month, 1)
        if month not in self.months:
            self._new_months.add(month)
        span = self.replace(instant, instant)
        if span not in self.ranges:
            self.ranges.add(span)
            self._to_clear += _subtract(span, _union(self.cleared, self._to_clear))
        return bool(self._new_months or self._to_clear)

    def prepare(self) -> None:
        if self._new_months:
            self.partitions += ensure_monthly_partitions(TABLE, self._new_months)
            self.months |= self._new_months
            self._new_months = set()
        for span in self._to_clear:
            self._delete(span)
        self.cleared = _union(self.cleared, self._to_clear)
        self._to_clear = []

    def finish(self) -> tuple[dt.datetime, dt.datetime]:
        """Delete what is left of replace(first, last); returns that range."""
        assert self.first is not None
        assert self.last is not None
        start, end = self.replace(self.first, self.last)
        for low, high in self.ranges:
            if low < start or high > end:
                raise ValueError(
                    f"replace range [{low}, {high}) of one row is outside the load's range "
                    f"[{start}, {end}): the replace function is not monotone"
                )
        for span in _subtract((start, end), self.cleared):
            self._delete(span)
        self.cleared = _union(self.cleared, [(start, end)])
        return start, end

    def clear(self, start: dt.datetime, end: dt.datetime) -> None:
        """Delete the source's rows in [start, end) for a load without rows."""
        self._delete((start, end))
        self.cleared = _union(self.cleared, [(start, end)])

    def _delete(self, span: tuple[dt.datetime, dt.datetime]) -> None:
        target = self.target
        self.cursor.execute(
            f"DELETE FROM {TABLE} WHERE tenant_id = %s AND x_source_key = %s "
            "AND charge_period_start >= %s AND charge_period_start < %s "
            "AND x_import_run_id <> %s",
            [target.tenant_id, target.source_key, span[0], span[1], target.import_run_id],
        )
        self.rows_replaced += self.cursor.rowcount


def _union(spans, more) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for low, high in sorted([*spans, *more]):
        if merged and low <= merged[-1][1]:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def _subtract(span, covered) -> list[tuple[dt.datetime, dt.datetime]]:
    """Parts of [low, high) outside the sorted, disjoint ``covered`` spans."""
    low, high = span
    parts = []
    for start, end in covered:
        if end <= low or start >= high:
            continue
        if start > low:
            parts.append((low, start))
        low = max(low, end)
        if low >= high:
            return parts
    if low < high:
        parts.append((low, high))
    return parts


class _ColumnPlan:
    """Maps the source's cells onto the table's columns once, so each row is a cheap render."""

    def __init__(self, fields: Sequence[str], target: LoadTarget, empty_is_null: bool) -> None:
        self.target, self.empty_is_null = target, empty_is_null
        # COPY's text for NULL: "" when no cell can be an empty string, else the default \N.
        self.copy_null = "" if empty_is_null else "\\N"
        self.focus = [(i, f) for i, f in enumerate(fields) if f in FOCUS_FIELDS]
        given = {f: i for i, f in self.focus}
        self.focus += [
            (given[source], field)
            for field, source in PROVIDER_FALLBACKS.items()
            if field not in given and source in given
        ]
        self.extensions = [
            (i, f) for i, f in enumerate(fields) if f not in FOCUS_FIELDS and f != CREDITS_FIELD
        ]
        positions = {f: i for i, f in enumerate(fields)}
        try:
            self.start_index = positions["charge_period_start"]
        except KeyError as exc:
            raise ValueError("ChargePeriodStart is required to load cost rows") from exc
        self.billed_index = positions.get("billed_cost")
        self.currency_index = positions.get("billing_currency")
        self.provider_index = positions.get("provider_name", positions.get("service_provider_name"))
        self.resource_index = positions.get("resource_id")
        self.credits_index = positions.get(CREDITS_FIELD)
        self.category_index = positions.get("charge_category")
        self.focus_indexes = [i for i, _ in self.focus]
        columns = [
            *(f for _, f in self.focus),
            "x_resource_id",
            "x_vat_rate",
            "x_vat_amount",
            "x_extensions",
            "x_credits",
            "tenant_id",
            "x_import_run_id",
            "x_source_key",
            "x_connection_id",
            "x_estimated",
        ]
        self.copy_sql = f"COPY {TABLE} ({', '.join(columns)}) FROM STDIN" + (
            " (NULL '')" if empty_is_null else ""
        )

    def renderer(self) -> tuple[Callable[[Sequence], str], Callable[[], int]]:
        """A function turning one row into one line of COPY text, and one telling how many rows
        it linked to a resource."""
        target, empty_is_null, null = self.target, self.empty_is_null, self.copy_null
        focus_cells = _getter(self.focus_indexes)
        tabs = len(self.focus_indexes) - 1
        constants = (
            str(target.tenant_id),
            str(target.import_run_id),
            _escape(target.source_key),
            null if target.connection_id is None else str(target.connection_id),
            "t" if target.estimated else "f",
        )
        suffix = "\t" + "\t".join(constants) + "\n"
        resource_index = self.resource_index if target.resource_ids else None
        resource_ids = {key: str(pk) for key, pk in target.resource_ids.items()}
        if empty_is_null:
            resource_ids.pop("", None)  # "" is a null ResourceId here, never a resource
        extension = self._extension_renderer()
        vat = self._vat_renderer()
        credits = self._credits_renderer()
        start_index = self.start_index
        linked = 0

        def careful_line(cells) -> str:
            return "\t".join(
                null if cell is None or (empty_is_null and cell == "") else _escape(_text(cell))
                for cell in cells
            )

        def joined_line(cells) -> str:
            """Cells as they are ("" is null)."""
            line = "\t".join(cells)
            if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != tabs:
                return careful_line(cells)
            return line

        def marked_line(cells) -> str:
            """Cells whose nulls are None, marked with NUL for the join (a cell that holds NUL
            itself shows in the count and takes the careful path)."""
            marked = [_NUL if cell is None else cell for cell in cells]
            line = "\t".join(marked)
            if (
                "\\" in line
                or "\n" in line
                or "\r" in line
                or line.count("\t") != tabs
                or line.count(_NUL) != marked.count(_NUL)
            ):
                return careful_line(cells)
            return line.replace(_NUL, null)

        cell_line = joined_line if empty_is_null else marked_line
        no_vat = (null, null)

        def render(row) -> str:
            nonlocal linked
            cells = focus_cells(row)
            try:
                line = cell_line(cells)
            except TypeError:  # a cell that is not text
                line = careful_line(cells)
            resource_pk = null
            if resource_index is not None:
                found = resource_ids.get(row[resource_index])
                if found is not None:
                    resource_pk = found
                    linked += 1
            vat_rate, vat_amount = vat(row, row[start_index]) if vat else no_vat
            return (
                f"{line}\t{resource_pk}\t{vat_rate}\t{vat_amount}\t{extension(row)}"
                f"\t{credits(row)}{suffix}"
            )

        return render, lambda: linked

    def _extension_renderer(self) -> Callable[[Sequence], str]:
        """x_extensions: the custom columns as the JSON object json.dumps() would write."""
        null, extensions = self.copy_null, self.extensions
        keys = [(i, _json_string(name) + ":") for i, name in extensions]
        empty = "" if self.empty_is_null else None  # also null

        def render(row) -> str:
            if not keys:
                return null
            try:
                parts = [
                    key + _json_string(row[i])
                    for i, key in keys
                    if row[i] is not None and row[i] != empty
                ]
                text = "{" + ",".join(parts) + "}" if parts else null
            except TypeError:  # a value that is not text, e.g. from a custom row source
                values = {
                    name: row[i] for i, name in extensions if row[i] is not None and row[i] != empty
                }
                text = json.dumps(values, separators=(",", ":")) if values else null
            if text is null or "\\" not in text:
                return text
            return text.replace("\\", "\\\\")

        return render

    def _credits_renderer(self) -> Callable[[Sequence], str]:
        """x_credits: the source's breakdown (JSON text) if it gives one; else, for a FOCUS row
        of ChargeCategory Credit, the credit itself as its total (what it took off the bill)."""
        null, index = self.copy_null, self.credits_index
        if index is not None:

            def given(row) -> str:
                value = row[index]
                return null if value is None or value == "" else _escape(_text(value))

            return given
        category_index, billed_index = self.category_index, self.billed_index
        if category_index is None or billed_index is None:
            return lambda row: null

        def from_credit_rows(row) -> str:
            if row[category_index] != "Credit":
                return null
            billed = row[billed_index]
            if billed is None or billed == "":
                return null
            return '{"total":' + _escape(_json_string(_text(billed))) + "}"

        return from_credit_rows

    def _vat_renderer(self):
        """(x_vat_rate, x_vat_amount) as COPY text, or None when no VAT can apply."""
        resolver, null = self.target.vat, self.copy_null
        provider_index, billed_index = self.provider_index, self.billed_index
        currency_index = self.currency_index
        if not resolver or provider_index is None or billed_index is None:
            return None
        rules: dict[tuple, tuple | None] = {}  # (provider, currency, start) -> rule
        local_tz = zoneinfo.ZoneInfo(self.target.time_zone)
        no_vat = (null, null)

        def render(row, start: str) -> tuple[str, str]:
            provider = row[provider_index]
            currency = row[currency_index] if currency_index is not None else None
            key = (provider, currency, start)
            rule = rules.get(key, False)
            if rule is False:
                if len(rules) >= 50_000:
                    rules.clear()
                rule = rules[key] = _vat_rule(resolver, provider, currency, start, local_tz)
            billed = row[billed_index]
            if rule is None or billed is None or billed == "":  # no rule, or no BilledCost
                return no_vat
            try:
                amount = Decimal(billed)
            except InvalidOperation:
                return no_vat
            rate, included, rate_text = rule
            return rate_text, str(resolver.vat_amount(amount, rate, included))

        return render


def _vat_rule(resolver: VatResolver, provider, currency, start: str, local_tz):
    # VAT follows the day of supply where the tenant is billed: a Moscow 1 January charge
    # starts at 31 December 21:00 UTC and must get the new year's rate.
    day = _parse_instant(start).astimezone(local_tz).date().isoformat()
    rule = resolver.rule_for(provider, currency or "", day)
    if rule is None:
        return None
    rate, included = rule
    return rate, included, str(rate)


def _getter(indexes: list[int]) -> Callable[[Sequence], tuple]:
    if len(indexes) == 1:  # itemgetter with one index returns a bare item, not a tuple
        index = indexes[0]
        return lambda row: (row[index],)
    return itemgetter(*indexes)


def _escape(text: str) -> str:
    return text.translate(_COPY_ESCAPES)


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _parse_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _refresh_statistics(cursor, partitions: list[str], rows_loaded: int) -> None:
    """ANALYZE the partitions this load changed a lot, so what follows plans on real numbers.

    Only the columns those queries filter on, and never waiting: ANALYZE in a transaction holds
    its lock until the commit, so a concurrent import of the same month keeps the old figures.
    """
    if not partitions:
        return
    cursor.execute(
        "SELECT coalesce(sum(greatest(reltuples, 0)), 0), bool_or(reltuples < 0) "
        "FROM pg_class WHERE relname = ANY(%s)",
        [partitions],
    )
    known, never = cursor.fetchone()
    if not never and rows_loaded < ANALYZE_SHARE * known:
        return
    cursor.execute("SELECT current_setting('lock_timeout')")
    (lock_timeout,) = cursor.fetchone()
    for name in partitions:
        try:
            with transaction.atomic():
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true)", [ANALYZE_LOCK_TIMEOUT]
                )
                cursor.execute(f"ANALYZE {name} {ANALYZE_COLUMNS}")
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
        except OperationalError:
            continue  # busy: plan on the old statistics


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
