"""Cost rows as whole columns: a vetted pyarrow table of FOCUS text in, COPY (FORMAT csv) out.

What ``loader._ColumnPlan`` does per row, done per column with pyarrow.compute: the resource link
(a hash lookup of ResourceId in the tenant's inventory), VAT (one rule per distinct provider,
currency and ChargePeriodStart; the amount in Decimal from each row's exact BilledCost text, as
``VatResolver.vat_amount`` always computed it), the custom columns as the x_extensions JSON
object, the credit of a Credit row, and the load's constants. The table becomes CSV text with
pyarrow's writer (C++): every text cell is quoted, "" stands for null (COPY's FORCE_NULL), so
nothing of the money or of any text changes on the way: numbers stay the text the file had,
and PostgreSQL parses them into NUMERIC exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Sequence
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from providers.costs.vat import VatResolver


def _use_returning_allocator() -> None:
    """Arrow buffers from jemalloc, with freed pages returned at once (decay 0).

    Measured over two renders of a 200k-row file in a producer thread (process peak / RSS after,
    MB, from 126 MB before): glibc malloc 496 / 484 (its per-thread arenas keep what they freed),
    mimalloc (Arrow's default here) 226 / 200, jemalloc with decay 0 194 / 157. A worker that
    imports a large file must not keep its peak for good; a build of pyarrow without jemalloc
    keeps its default."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # (pyarrow.lib.ArrowNotImplementedError)
        return
    pa.jemalloc_set_decay_ms(0)
    pa.set_memory_pool(pool)


_use_returning_allocator()

# The FOCUS columns a linked row may take from the inventory, as enrichment.enrich_import fills.
ENRICHED = ("region_id", "region_name", "availability_zone", "resource_name", "resource_type")
_json_string = json.encoder.encode_basestring_ascii  # what json.dumps() uses for str
# Characters a JSON string must escape; a column holding none is quoted without a pass in Python.
_JSON_ESCAPES = r'["\\\x00-\x1f]'
RULE_CACHE = 50_000  # distinct (provider, currency, ChargePeriodStart) keys remembered


class ArrowPlan:
    """Maps a batch's text columns onto the line-item table's, once per load."""

    def __init__(
        self,
        fields: Sequence[str],
        target,
        *,
        focus_fields: frozenset[str],
        provider_fallbacks: dict[str, str],
        credits_field: str,
        table: str,
        inventory: dict[int, tuple[str, str, str, str]] | None = None,
    ) -> None:
        """``inventory``: resource pk -> (region, zone, name, type) of the tenant's resources;
        with it, linked rows get what the source left null from it here, in the stream (what
        ``enrichment.enrich_import`` does with an UPDATE after the load)."""
        self.target = target
        given = set(fields)
        if "charge_period_start" not in given:
            raise ValueError("ChargePeriodStart is required to load cost rows")
        self.focus = [(f, f) for f in fields if f in focus_fields]
        self.focus += [
            (source, column)
            for column, source in provider_fallbacks.items()
            if column not in given and source in given
        ]
        self.extensions = [
            (f, _json_string(f) + ":")
            for f in fields
            if f not in focus_fields and f != credits_field
        ]
        self.credits_field = credits_field if credits_field in given else None
        self.billed = "billed_cost" if "billed_cost" in given else None
        self.currency = "billing_currency" if "billing_currency" in given else None
        self.category = "charge_category" if "charge_category" in given else None
        self.provider = next(
            (f for f in ("provider_name", "service_provider_name") if f in given), None
        )
        self.resource = "resource_id" if "resource_id" in given and target.resource_ids else None
        self.enriched: list[str] = []  # inventory columns filled in the stream
        if self.resource is not None:
            ids = {key: pk for key, pk in target.resource_ids.items() if key}
            self._resource_keys = pa.array(list(ids), pa.string())
            self._resource_pks = pa.array(list(ids.values()), pa.int64())
            if inventory is not None:
                self._inventory = _inventory_arrays(list(ids.values()), inventory)
                self.enriched = list(ENRICHED)
        self.vat = target.vat if target.vat and self.provider and self.billed else None
        self._rules: dict[str, tuple | None] = {}
        self._local_tz = zoneinfo.ZoneInfo(target.time_zone)
        self.columns = [column for _, column in self.focus]
        added = [column for column in self.enriched if column not in self.columns]
        self.columns += added
        self._added_enriched = len(added)
        text_columns = list(self.columns)
        if self.resource is not None:
            self.columns.append("x_resource_id")
        if self.vat is not None:
            self.columns += ["x_vat_rate", "x_vat_amount"]
            text_columns += ["x_vat_rate", "x_vat_amount"]
        if self.extensions:
            self.columns.append("x_extensions")
            text_columns.append("x_extensions")
        if self.credits_field or (self.category and self.billed):
            self.columns.append("x_credits")
            text_columns.append("x_credits")
        self.constants = [
            ("tenant_id", pa.scalar(target.tenant_id, pa.int64())),
            ("x_import_run_id", pa.scalar(target.import_run_id, pa.int64())),
            ("x_source_key", pa.scalar(target.source_key, pa.string())),
            ("x_connection_id", pa.scalar(target.connection_id, pa.int64())),
            ("x_estimated", pa.scalar(bool(target.estimated), pa.bool_())),
        ]
        self.columns += [name for name, _ in self.constants]
        # In CSV, an unquoted empty field is NULL; a quoted "" is an empty string unless the
        # column is FORCE_NULL. Every text cell is quoted, and "" means null in the batches.
        self.copy_sql = (
            f"COPY {table} ({', '.join(self.columns)}) FROM STDIN "
            f"(FORMAT csv, FORCE_NULL ({', '.join(text_columns)}))"
        )

    def render(self, batch: pa.Table) -> tuple[pa.Buffer, int]:
        """The batch as COPY CSV text, and how many of its rows it linked to a resource."""
        n = batch.num_rows
        cells = {column: batch.column(field) for field, column in self.focus}
        linked = 0
        if self.resource is not None:
            position = pc.index_in(batch.column(self.resource), value_set=self._resource_keys)
            found = pc.take(self._resource_pks, position)
            linked = n - found.null_count
            if self.enriched and linked:
                cells.update(self._enrich(cells, position, n))
        arrays = [
            cells[column] if column in cells else pa.repeat(pa.scalar("", pa.string()), n)
            for column in self.columns[: len(self.focus) + self._added_enriched]
        ]
        if self.resource is not None:
            arrays.append(found)
        if self.vat is not None:
            arrays += self._vat(batch)
        if self.extensions:
            arrays.append(self._extensions(batch))
        if "x_credits" in self.columns:
            arrays.append(self._credits(batch))
        arrays += [pa.repeat(value, n) for _, value in self.constants]
        out = pa.BufferOutputStream()
        pacsv.write_csv(
            pa.table(arrays, names=self.columns),
            out,
            pacsv.WriteOptions(include_header=False, batch_size=n or 1),
        )
        return out.getvalue(), linked

    def starts(self, batch: pa.Table) -> list[str]:
        """The batch's distinct ChargePeriodStart texts."""
        return pc.unique(batch.column("charge_period_start")).to_pylist()

    # -- columns ----------------------------------------------------------------------------------

    def _enrich(self, cells: dict, position: pa.Array, n: int) -> dict[str, pa.Array]:
        """enrichment.enrich_import per column: a linked row's null region, zone, name and type
        from its resource; RegionName only with a RegionId filled here. The source wins."""
        empty = pa.repeat(pa.scalar("", pa.string()), n)
        given = {column: cells.get(column, empty) for column in ENRICHED}
        inventory = {
            column: pc.fill_null(pc.take(values, position), "")
            for column, values in self._inventory.items()
        }
        region_filled = pc.and_(
            pc.equal(given["region_id"], ""), pc.not_equal(inventory["region_id"], "")
        )
        filled = {
            "region_id": pc.if_else(region_filled, inventory["region_id"], given["region_id"]),
            "region_name": pc.if_else(
                region_filled, inventory["region_name"], given["region_name"]
            ),
        }
        for column in ("availability_zone", "resource_name", "resource_type"):
            own = given[column]
            filled[column] = pc.if_else(pc.equal(own, ""), inventory[column], own)
        return filled

    def _extensions(self, batch: pa.Table) -> pa.Array:
        """x_extensions: the custom columns as the JSON object json.dumps() would write (bar
        the escaping of non-ASCII text, which jsonb stores the same)."""
        parts = []
        for field, key in self.extensions:
            column = batch.column(field)
            if pc.any(pc.match_substring_regex(column, _JSON_ESCAPES)).as_py():
                values = [key + _json_string(v) if v else None for v in column.to_pylist()]
                parts.append(pa.array(values, pa.string()))
            else:
                quoted = pc.binary_join_element_wise(key + '"', column, '"', "")
                parts.append(pc.if_else(pc.equal(column, ""), None, quoted))
        members = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
        wrapped = pc.binary_join_element_wise("{", members, "}", "")
        return pc.if_else(pc.equal(members, ""), "", wrapped)  # no custom value: null

    def _credits(self, batch: pa.Table) -> pa.Array:
        """x_credits: the source's breakdown (JSON text) if it gives one; else, for a row of
        ChargeCategory Credit, the credit itself as its total (what it took off the bill)."""
        if self.credits_field:
            return batch.column(self.credits_field)
        billed = batch.column(self.billed)
        credit = pc.and_(pc.equal(batch.column(self.category), "Credit"), pc.not_equal(billed, ""))
        total = pc.binary_join_element_wise('{"total":"', billed, '"}', "")
        return pc.if_else(credit, total, pa.scalar("", pa.string()))

    def _vat(self, batch: pa.Table) -> list[pa.Array]:
        """(x_vat_rate, x_vat_amount): the rule per distinct (provider, currency, start)."""
        provider = batch.column(self.provider)
        currency = (
            batch.column(self.currency)
            if self.currency
            else pa.repeat(pa.scalar("", pa.string()), batch.num_rows)
        )
        start = batch.column("charge_period_start")
        keys = pc.dictionary_encode(
            pc.binary_join_element_wise(provider, currency, start, "\x1f")
        ).combine_chunks()
        rules = [self._rule(key) for key in keys.dictionary.to_pylist()]
        if not any(rules):
            empty = pa.repeat(pa.scalar("", pa.string()), batch.num_rows)
            return [empty, empty]
        vat_amount = self.vat.vat_amount
        rates, amounts = [], []
        for index, billed in zip(
            keys.indices.to_pylist(), batch.column(self.billed).to_pylist(), strict=True
        ):
            rule = rules[index]
            if rule is None or not billed:  # no rule, or no BilledCost
                rates.append("")
                amounts.append("")
                continue
            rate, included, rate_text = rule
            try:
                amount = str(vat_amount(Decimal(billed), rate, included))
            except ArithmeticError:  # (InvalidOperation) too wide to compute: no VAT, and
                rates.append("")  # PostgreSQL refuses the BilledCost itself
                amounts.append("")
                continue
            rates.append(rate_text)
            amounts.append(amount)
        return [pa.array(rates, pa.string()), pa.array(amounts, pa.string())]

    def _rule(self, key: str) -> tuple | None:
        rule = self._rules.get(key, False)
        if rule is False:
            if len(self._rules) >= RULE_CACHE:
                self._rules.clear()
            provider, currency, start = key.split("\x1f")
            rule = self._rules[key] = _vat_rule(self.vat, provider, currency, start, self._local_tz)
        return rule


def _vat_rule(resolver: VatResolver, provider: str, currency: str, start: str, local_tz):
    # VAT follows the day of supply where the tenant is billed: a Moscow 1 January charge
    # starts at 31 December 21:00 UTC and must get the new year's rate.
    instant = dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(dt.UTC)
    day = instant.astimezone(local_tz).date().isoformat()
    rule = resolver.rule_for(provider or None, currency, day)
    if rule is None:
        return None
    rate, included = rule
    return rate, included, str(rate)


def _inventory_arrays(pks: list[int], inventory: dict[int, tuple[str, str, str, str]]) -> dict:
    """Per linked resource (in the order of ``pks``), what enrichment may fill, null for none:
    the values enrichment.enrich_import derives in SQL."""
    from providers.adapters.registry import region_names
    from providers.costs.enrichment import RESOURCE_TYPE_NAMES

    names = region_names()
    columns: dict[str, list] = {column: [] for column in ENRICHED}
    for pk in pks:
        region, zone, name, kind = inventory.get(pk, ("", "", "", ""))
        columns["region_id"].append(region or None)
        columns["region_name"].append((names.get(region) or region) if region else None)
        columns["availability_zone"].append(zone or None)
        columns["resource_name"].append(name or None)
        columns["resource_type"].append(RESOURCE_TYPE_NAMES.get(kind))
    return {column: pa.array(values, pa.string()) for column, values in columns.items()}
