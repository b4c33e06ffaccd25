"""FOCUS 1.2 (or 1.3) export of a tenant's cost line items for a period (CSV or Parquet), streaming.

Rows are read through a server-side cursor inside one read transaction (a consistent snapshot:
an import committing meanwhile cannot leave the file half old, half new) and written in chunks,
so memory does not grow with the number of rows; Parquet holds one row group at a time.

Columns: every FOCUS column that holds a value in the period, the mandatory ones always, and the
1.0 columns that may always be null and that the criteria we claim for focus-validator 2.2.1 need
(availability zone, region, resource and its type, tags, commitment discount id and status; see
``ALWAYS``), and SkuPriceDetails beside a SkuPriceId. A FOCUS 1.0 source therefore exports as a
valid 1.2 file (1.2 added no mandatory columns) instead of growing columns full of forbidden nulls
(SubAccountType beside a SubAccountId, say). Region, zone and resource name and type are
completed from the inventory the rows link to (``providers.costs.enrichment``). Custom columns
follow:
our own ``x_`` columns (VAT, credits, linked resource, provenance, allocation ids), the names of
the allocation values (``x_BusinessUnit`` … ``x_CostCenter``, and ``x_VirtualTags``: a JSON object
of virtual tag key to value; names come from ``providers.costs.hooks.dimension_names``), then the
source file's own custom columns (``x_extensions``), unless one has the name of ours.

A member limited to some dimension values (``core.dimensions``) exports only their rows: the plan
carries the ``scope`` and every statement applies it.

The period is a calendar month of ChargePeriodStart in UTC, as FOCUS data and billing periods are.
Estimated costs (``x_estimated``: inventory x price list) are not billing data and are left out.

CSV cells are exact by default: FOCUS consumers (tools, the API, the CLI) must read back what was
billed, even a tag value such as ``=SUM(A1)``. ``escape_formulas`` prefixes spreadsheet formulas
with a quote (core.csv_safety, OWASP); the portal's and the admin's download links ask for it,
because people open those files in a spreadsheet.

FOCUS 1.2 is the default: focus-validator 2.2.1 checks it, and most consumers read it. FOCUS 1.3
adds ServiceProviderName (the stored value, else ProviderName: a 1.0-1.2 row's provider is the one
that sold it), HostProviderName (the stored value, else the provider when it also published what
it sold: a marketplace resale's host is not known), the Allocated* columns and ContractApplied.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from providers.costs import enrichment, hooks
from providers.costs.query import scope_conditions
from providers.focus import spec
from providers.focus.spec import DataType
from providers.focus.values import (
    format_datetime,
    format_decimal,
    format_json_object,
    format_key_value,
)
from providers.focus.writer import (
    PARQUET_BATCH_ROWS,
    PARQUET_DECIMAL_PRECISION,
    PARQUET_DECIMAL_SCALE,
    FocusCsvWriter,
    choose_columns,
)

TABLE = "providers_costlineitem"
FORMATS = ("csv", "parquet")
EXPORT_VERSIONS = ("1.2", "1.3")
DEFAULT_VERSION = "1.2"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
CURSOR_ROWS = 2_000
CSV_CHUNK_BYTES = 256 * 1024
ALWAYS = (
    "availability_zone",
    "commitment_discount_id",
    "commitment_discount_status",
    "region_id",
    "region_name",
    "resource_id",
    "resource_name",
    "resource_type",
    "tags",
)
# Written (if only as nulls) whenever the column they describe is.
COMPANIONS = {"sku_price_details": "sku_price_id"}
FOCUS_FIELDS = {v: tuple(c.field for c in spec.columns_for(v)) for v in EXPORT_VERSIONS}
# Always written in 1.3 besides its required columns: derived for every row (see above).
ALWAYS_13 = ("host_provider_name",)
JSON_FIELDS = frozenset(
    c.field for c in spec.COLUMNS if c.type in (DataType.JSON, DataType.JSON_OBJECT)
) | {"x_credits"}
# Our x_ columns: (row key = table column, header). Provenance columns are never null.
OWN_EXTENSIONS = {
    "x_vat_rate": "x_VatRate",
    "x_vat_amount": "x_VatAmount",
    "x_credits": "x_Credits",
    "x_resource_id": "x_ResourceLink",
    "x_connection_id": "x_ConnectionId",
    "x_source_key": "x_SourceKey",
    "x_import_run_id": "x_ImportRunId",
    "x_business_unit_id": "x_BusinessUnitId",
    "x_project_id": "x_ProjectId",
    "x_feature_id": "x_FeatureId",
    "x_environment_id": "x_EnvironmentId",
    "x_cost_center_id": "x_CostCenterId",
}
ALWAYS_OWN = ("x_source_key", "x_import_run_id")
# Names of the allocation values: (row key, header, the id column it names).
NAMED_EXTENSIONS = (
    ("x_business_unit_name", "x_BusinessUnit", "x_business_unit_id"),
    ("x_project_name", "x_Project", "x_project_id"),
    ("x_feature_name", "x_Feature", "x_feature_id"),
    ("x_environment_name", "x_Environment", "x_environment_id"),
    ("x_cost_center_name", "x_CostCenter", "x_cost_center_id"),
    ("x_virtual_tag_names", "x_VirtualTags", "x_virtual_tags"),
)
NAME_DIMENSIONS = {
    "x_business_unit_id": "business_unit",
    "x_project_id": "project",
    "x_feature_id": "feature",
    "x_environment_id": "environment",
    "x_cost_center_id": "cost_center",
}


class ExportError(ValueError):
    """The export cannot be made as asked (bad period or format); the message says why."""


@dataclass
class ExportPlan:
    tenant_id: int
    start: dt.datetime
    end: dt.datetime
    rows: int
    focus_fields: list[str]
    own: dict[str, str]  # our x_ columns: table column -> header
    extensions: dict[str, str]  # source custom columns: x_extensions key -> header
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    version: str = DEFAULT_VERSION
    scope: dict[str, list[int]] | None = None  # a limited member's dimension values
    named: dict[str, str] = field(default_factory=dict)  # name columns: row key -> header
    names: hooks.DimensionNames | None = None
    # FOCUS 1.3: (SQL, params) of the shares pooled line items split into (see _split).
    splits: tuple[str, list] | None = None

    @property
    def custom(self) -> dict[str, str]:
        return {**self.own, **self.named, **self.extensions}


@dataclass
class ExportSummary:
    rows: int
    columns: int
    bytes: int
    seconds: float
    totals: dict[str, dict[str, str]]


def parse_period(period: str) -> tuple[dt.datetime, dt.datetime]:
    """'2026-01' -> [2026-01-01T00:00Z, 2026-02-01T00:00Z)."""
    try:
        month = dt.datetime.strptime(period or "", "%Y-%m").replace(tzinfo=dt.UTC)
        following = (month + dt.timedelta(days=32)).replace(day=1)
    except (ValueError, OverflowError):  # OverflowError: 9999-12 has no following month
        raise ExportError(f"period must be a month as YYYY-MM (got {period!r})") from None
    return month, following


def parse_format(value: str | None) -> str:
    fmt = "csv" if value is None else value.lower()  # an empty format is no format
    if fmt not in FORMATS:
        raise ExportError(f"format must be csv or parquet (got {value!r})")
    return fmt


def parse_version(value: str | None) -> str:
    version = value or DEFAULT_VERSION
    if version not in EXPORT_VERSIONS:
        raise ExportError(f"FOCUS version must be one of {', '.join(EXPORT_VERSIONS)}")
    return version


def file_name(tenant, period: str, fmt: str) -> str:
    return f"focus-{tenant.slug}-{period}.{fmt}"


def export_plan(
    tenant_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    with_totals: bool = False,
    version: str = DEFAULT_VERSION,
    scope: dict[str, list[int]] | None = None,
) -> ExportPlan:
    """Which columns hold data in the period and its row count (and totals, for summaries).

    ``scope``: the dimension values a limited member may see (None: every row)."""
    version = parse_version(version)
    always = (*ALWAYS, *ALWAYS_13) if version == "1.3" else ALWAYS
    fields = FOCUS_FIELDS[version]

    def required(f: str) -> bool:
        return f in always or spec.BY_FIELD[f].required_in(version)

    nullable = (
        [f for f in fields if not required(f)]
        + [f for f in OWN_EXTENSIONS if f not in ALWAYS_OWN]
        + ["x_virtual_tags"]
    )
    # Billed costs only: a FOCUS file is billing data, and its consumers would add estimates
    # (x_estimated) to the bill without knowing.
    where = (
        "tenant_id = %s AND charge_period_start >= %s AND charge_period_start < %s "
        "AND x_estimated = false"
    )
    params = [tenant_id, start, end]
    scoped, scoped_params = scope_conditions(scope)
    if scoped:
        where = " AND ".join([where, *scoped])
        params += scoped_params
    expression, joins, join_params = _sources(tenant_id)
    presence = ", ".join(f"bool_or(({expression(f)}) IS NOT NULL)" for f in nullable)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), {presence} FROM {TABLE} c {joins} WHERE {_aliased(where)}",
            [*join_params, *params],
        )
        count, *present = cursor.fetchone()
        cursor.execute(
            f"SELECT DISTINCT jsonb_object_keys(x_extensions) FROM {TABLE} "
            f"WHERE {where} AND x_extensions IS NOT NULL",
            params,
        )
        keys = sorted(row[0] for row in cursor.fetchall())
        totals = {}
        if with_totals:
            cursor.execute(
                f"SELECT billing_currency, coalesce(sum(billed_cost), 0), "
                f"coalesce(sum(effective_cost), 0), coalesce(sum(list_cost), 0) FROM {TABLE} "
                f"WHERE {where} GROUP BY billing_currency ORDER BY billing_currency",
                params,
            )
            totals = {
                currency: {"billed_cost": billed, "effective_cost": effective, "list_cost": lst}
                for currency, billed, effective, lst in cursor.fetchall()
            }
    has = dict(zip(nullable, present, strict=True))
    splits = hooks.split_allocations(tenant_id, start, end) if version == "1.3" else None
    if splits is not None:
        extra = _split_rows(splits, tenant_id, start, end, scope)
        if extra is None:
            splits = None
        else:
            count += extra
            has.update(dict.fromkeys(SPLIT_FIELDS, True))
    focus = [f for f in fields if required(f) or has.get(f)]
    focus = [f for f in fields if f in focus or (f in COMPANIONS and COMPANIONS[f] in focus)]
    own = {f: h for f, h in OWN_EXTENSIONS.items() if f in ALWAYS_OWN or has.get(f)}
    named = {key: header for key, header, source in NAMED_EXTENSIONS if has.get(source)}
    taken = set(own) | set(named) | {h.lower() for h in (*own.values(), *named.values())}
    extensions = {}
    for key in keys:
        header = spec.extension_column(key)
        if key.startswith("x_") and key not in taken and header.lower() not in taken:
            extensions[key] = header
    return ExportPlan(
        tenant_id,
        start,
        end,
        count,
        focus,
        own,
        extensions,
        totals,
        version,
        scope=scope,
        named=named,
        names=hooks.dimension_names(tenant_id) if named or splits else None,
        splits=splits,
    )


# --- FOCUS 1.3 split cost allocation -------------------------------------------------------------
# A line item in a shared-cost pool is written once per share of its pool (the allocation app's
# ``register_split_allocations``), its costs and quantities multiplied by the share's ratio (the
# ratios of one origin charge sum to exactly 1, so the split rows add up to the charge exactly),
# with AllocatedMethodId/Details (the ratio, and the basis as UsageQuantity), the target as
# AllocatedResourceId/Name and AllocatedTags {dimension: target name}. Days on which a pool had
# no basis keep their charges whole, as billed.
SPLIT_FIELDS = (
    "allocated_method_id",
    "allocated_method_details",
    "allocated_resource_id",
    "allocated_resource_name",
    "allocated_tags",
)
SPLIT_SCALED = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "pricing_quantity",
    "consumed_quantity",
    "pricing_currency_effective_cost",
    "x_vat_amount",
)
SPLIT_COLUMNS = ("rule_id", "method", "dimension", "target_id", "ratio", "basis")
_EXACT = decimal.Context(prec=80)


def _split_rows(splits, tenant_id, start, end, scope) -> int | None:
    """How many rows the split adds (shares minus the charges they replace); None: none."""
    text, params = splits
    scoped, scoped_params = scope_conditions(scope, alias="c.")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(DISTINCT s.line_id) FROM ({text}) s JOIN {TABLE} c "
            "ON c.id = s.line_id AND c.tenant_id = %s AND c.charge_period_start >= %s "
            "AND c.charge_period_start < %s" + "".join(f" AND {condition}" for condition in scoped),
            [*params, tenant_id, start, end, *scoped_params],
        )
        shares, lines = cursor.fetchone()
    return shares - lines if shares else None


def _split(row: dict, share: tuple, names) -> None:
    rule_id, method, dimension, target_id, ratio, basis = share
    with decimal.localcontext(_EXACT):
        for key in SPLIT_SCALED:
            if row.get(key) is not None:
                row[key] = row[key] * ratio
    name = (names.values.get(dimension, {}) if names else {}).get(target_id) or f"#{target_id}"
    unit = {"direct_cost": row.get("billing_currency"), "fixed": "Percent", "even": "Share"}
    row["allocated_method_id"] = f"infrazen:{method}:rule-{rule_id}"
    row["allocated_method_details"] = {
        "Elements": [
            {
                "AllocatedRatio": ratio,
                "UsageUnit": unit.get(method, method),
                "UsageQuantity": basis,
            }
        ]
    }
    row["allocated_resource_id"] = f"{dimension}:{target_id}"
    row["allocated_resource_name"] = name
    row["allocated_tags"] = {dimension: name}


def export_rows(plan: ExportPlan) -> Iterator[dict[str, Any]]:
    """The period's rows as writer dicts, in (ChargePeriodStart, id) order, from a server cursor.

    Runs inside its own read transaction; JSON columns are read as text and parsed with Decimal
    numbers, so tag values are written back exactly as they were loaded.
    """
    columns = [*plan.focus_fields, *plan.own]
    # The id columns the name columns name, read even when they are not written themselves.
    sources = [s for k, _h, s in NAMED_EXTENSIONS if k in plan.named and s not in columns]
    columns += sources
    expression, joins, join_params = _sources(plan.tenant_id)
    select = [
        f"({expression(c)})::text" if c in JSON_FIELDS or c == "x_virtual_tags" else expression(c)
        for c in columns
    ]
    if plan.extensions:
        select.append("c.x_extensions::text")
    split_params: list = []
    order = "ORDER BY c.charge_period_start, c.id"
    if plan.splits is not None:
        split_sql, split_params = plan.splits
        joins = f"{joins} LEFT JOIN ({split_sql}) s ON s.line_id = c.id"
        select += [f"s.{column}" for column in SPLIT_COLUMNS]
        order += ", s.target_id"
    join_params = [*join_params, *split_params]
    scoped, scoped_params = scope_conditions(plan.scope, alias="c.")
    sql = (
        f"SELECT {', '.join(select)} FROM {TABLE} c {joins} WHERE c.tenant_id = %s "
        "AND c.charge_period_start >= %s AND c.charge_period_start < %s AND c.x_estimated = false "
        + "".join(f"AND {condition} " for condition in scoped)
        + order
    )
    json_positions = [i for i, c in enumerate(columns) if c in JSON_FIELDS or c == "x_virtual_tags"]
    add_names = _namer(plan)
    with transaction.atomic():
        connection.ensure_connection()
        name = f"focus_export_{uuid.uuid4().hex}"
        with connection.connection.cursor(name=name) as cursor:
            cursor.itersize = CURSOR_ROWS
            cursor.execute(
                sql, [*join_params, plan.tenant_id, plan.start, plan.end, *scoped_params]
            )
            for record in cursor:
                values = list(record[: len(columns)])
                for i in json_positions:
                    if values[i] is not None:
                        values[i] = _json(values[i])
                row = dict(zip(columns, values, strict=True))
                share = None
                if plan.splits is not None:
                    share, record = record[-len(SPLIT_COLUMNS) :], record[: -len(SPLIT_COLUMNS)]
                if plan.extensions and record[-1] is not None:
                    extra = json.loads(record[-1])
                    for key in plan.extensions:
                        row[key] = extra.get(key)
                if add_names is not None:
                    add_names(row)
                if share is not None and share[0] is not None:
                    _split(row, share, plan.names)
                yield row


def csv_chunks(
    plan: ExportPlan, rows: Iterator[dict], *, escape_formulas: bool = False
) -> Iterator[bytes]:
    focus, custom = choose_columns(None, plan.focus_fields, plan.custom, plan.version)
    buffer = io.StringIO()
    writer = FocusCsvWriter(buffer, focus, custom, escape_formulas=escape_formulas)
    writer.write_header()
    for row in rows:
        writer.write_row(row)
        if buffer.tell() >= CSV_CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def parquet_chunks(
    plan: ExportPlan, rows: Iterator[dict], *, batch_rows: int = PARQUET_BATCH_ROWS
) -> Iterator[bytes]:
    """The same schema as providers.focus.writer.write_focus_parquet, one row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    focus, custom = choose_columns(None, plan.focus_fields, plan.custom, plan.version)
    arrow_types = {
        DataType.DECIMAL: pa.decimal128(PARQUET_DECIMAL_PRECISION, PARQUET_DECIMAL_SCALE),
        DataType.DATETIME: pa.timestamp("s", tz="UTC"),
    }
    schema = pa.schema(
        [pa.field(c.name, arrow_types.get(c.type, pa.string())) for c in focus]
        + [pa.field(header, pa.string()) for header in custom.values()]
    )
    cells: list[tuple[str, Callable[[Any], Any]]] = [
        (c.field, _parquet_cell(c.type)) for c in focus
    ] + [(key, _custom_text) for key in custom]
    sink = _Sink()
    stream = pa.PythonFile(sink, mode="w")
    writer = pq.ParquetWriter(stream, schema)
    try:
        batch: list[dict] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_rows:
                writer.write_batch(_record_batch(pa, schema, cells, batch))
                batch = []
                yield sink.take()
        if batch:
            writer.write_batch(_record_batch(pa, schema, cells, batch))
    finally:
        writer.close()
        stream.close()
    yield sink.take()


def stream_export(plan: ExportPlan, fmt: str, *, escape_formulas: bool = False) -> Iterator[bytes]:
    """``escape_formulas`` (CSV only) guards spreadsheets; see core.csv_safety for the choice."""
    rows = export_rows(plan)
    if fmt == "parquet":
        return parquet_chunks(plan, rows)
    return csv_chunks(plan, rows, escape_formulas=escape_formulas)


def focus_export(
    *,
    actor,
    tenant,
    period: str,
    fmt: str,
    target: str | Path,
    progress: Callable[[int, int], None] | None = None,
    escape_formulas: bool = False,
    version: str = DEFAULT_VERSION,
) -> ExportSummary:
    """Write the export to a file (for the CLI and the admin); ``progress(rows_done, rows)``.

    ``actor`` must be able to view the tenant's costs (None: the system, e.g. a command).
    """
    from core.access import dimension_scope_for
    from core.capabilities import Capability
    from core.services.guards import require_capability

    require_capability(actor, Capability.VIEW_COSTS, tenant, action="view")
    start, end = parse_period(period)
    fmt = parse_format(fmt)
    started = time.monotonic()
    scope = dimension_scope_for(actor, tenant, Capability.VIEW_COSTS)
    plan = export_plan(tenant.pk, start, end, with_totals=True, version=version, scope=scope)
    done = 0

    def counted() -> Iterator[dict]:
        nonlocal done
        for row in export_rows(plan):
            yield row
            done += 1
            if progress and done % 10_000 == 0:
                progress(done, plan.rows)

    size = 0
    if fmt == "parquet":
        chunks = parquet_chunks(plan, counted())
    else:
        chunks = csv_chunks(plan, counted(), escape_formulas=escape_formulas)
    target = Path(target)
    partial = target.with_name(target.name + ".part")  # a failed export leaves no half file
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    if progress:
        progress(done, plan.rows)
    return ExportSummary(
        rows=done,
        columns=len(plan.focus_fields) + len(plan.custom),
        bytes=size,
        seconds=time.monotonic() - started,
        totals={
            currency: {name: format_decimal(value) for name, value in sums.items()}
            for currency, sums in plan.totals.items()
        },
    )


def _sources(tenant_id: int) -> tuple[Callable[[str], str], str, list]:
    """(field -> its SQL over the line items ``c`` and the inventory, JOIN clauses, their
    parameters): stored values, enriched from the inventory where ``enrichment`` says so."""
    enriched, joins, params = enrichment.export_columns(tenant_id)
    enriched |= {
        "service_provider_name": "coalesce(c.service_provider_name, c.provider_name)",
        "host_provider_name": (
            "coalesce(c.host_provider_name, CASE WHEN c.service_provider_name IS NULL "
            "AND coalesce(c.publisher_name, c.provider_name) = c.provider_name "
            "THEN c.provider_name END)"
        ),
    }

    def expression(field: str) -> str:
        return enriched.get(field) or f"c.{field}"

    return expression, joins, params


def _namer(plan: ExportPlan) -> Callable[[dict], None] | None:
    """Adds the name columns to a row (a deleted value's id shows as "#<id>")."""
    if not plan.named:
        return None
    names = plan.names or hooks.DimensionNames({}, {})
    ids = [
        (key, source, names.values.get(NAME_DIMENSIONS[source], {}))
        for key, _header, source in NAMED_EXTENSIONS
        if key in plan.named and source != "x_virtual_tags"
    ]
    with_tags = "x_virtual_tag_names" in plan.named

    def add(row: dict) -> None:
        for key, source, known in ids:
            value = row.get(source)
            row[key] = None if value is None else known.get(value) or f"#{value}"
        if with_tags:
            tags = row.get("x_virtual_tags")
            row["x_virtual_tag_names"] = (
                {names.virtual_tags.get(k, f"#{k}"): v for k, v in sorted(tags.items())}
                if tags
                else None
            )

    return add


def _aliased(where: str) -> str:
    return " AND ".join(f"c.{condition.strip()}" for condition in where.split(" AND "))


# --- cells --------------------------------------------------------------------------------------


def _json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _parquet_cell(kind: DataType) -> Callable[[Any], Any]:
    if kind is DataType.DECIMAL:
        return _decimal_cell
    if kind is DataType.DATETIME:
        return _datetime_cell
    if kind is DataType.JSON:
        return format_key_value
    if kind is DataType.JSON_OBJECT:
        return format_json_object
    return str


def _decimal_cell(value: Decimal) -> Decimal:
    format_decimal(value)  # same type and finiteness rules as the CSV
    return value


def _datetime_cell(value: dt.datetime) -> dt.datetime:
    format_datetime(value)  # same awareness and whole-second rules as the CSV
    return value


def _custom_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dict):
        return format_key_value(value)
    return str(value)


def _record_batch(pa, schema, cells, batch: list[dict]):
    data = [
        [None if (v := row.get(key)) is None else fmt(v) for row in batch] for key, fmt in cells
    ]
    return pa.record_batch(data, schema=schema)


class _Sink(io.RawIOBase):
    """Collects what pyarrow writes until the stream takes it: at most one row group."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts = []
        return data
