"""``CostRecord``s (from a provider's cost API or a provider-specific file) as loader rows.

The loader (``providers.costs.loader``) streams text cells in a fixed field order into COPY; this
module renders each record into that order: FOCUS columns as their canonical text (timestamps in
UTC ISO 8601, exact decimals, tags as JSON), the provider's name in ProviderName, PublisherName
and InvoiceIssuerName (what VAT rules are keyed by), the billing period as the charge's UTC
calendar month, and the declared extension keys last (kept in ``x_extensions``).

A record that breaks the contract (outside the period asked for, a naive time, an end before its
start, a float amount, an extension the adapter did not declare) raises ``RecordError`` naming
the record by its position, so the whole import fails instead of loading half a period.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from providers.adapters.base import CostPeriod, CostRecord

# CostRecord fields that are FOCUS columns, in COPY order.
RECORD_FIELDS = (
    "charge_period_start",
    "charge_period_end",
    "billed_cost",
    "billing_currency",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "list_unit_price",
    "charge_category",
    "charge_class",
    "charge_description",
    "charge_frequency",
    "service_name",
    "service_category",
    "resource_id",
    "resource_name",
    "resource_type",
    "region_id",
    "region_name",
    "availability_zone",
    "sub_account_id",
    "sub_account_name",
    "billing_account_id",
    "billing_account_name",
    "sku_id",
    "sku_price_id",
    "pricing_quantity",
    "pricing_unit",
    "consumed_quantity",
    "consumed_unit",
    "tags",
)
FILLED_FIELDS = (
    "provider_name",
    "publisher_name",
    "invoice_issuer_name",
    "billing_period_start",
    "billing_period_end",
)
_MONEY = frozenset(
    {
        "billed_cost",
        "effective_cost",
        "list_cost",
        "contracted_cost",
        "list_unit_price",
        "pricing_quantity",
        "consumed_quantity",
    }
)


class RecordError(ValueError):
    """A record the loader must not take; the message names it and says why."""


def record_fields(extensions: Sequence[str] = ()) -> list[str]:
    return [*RECORD_FIELDS, *FILLED_FIELDS, *extensions]


def record_rows(
    records: Iterable[CostRecord],
    *,
    provider_name: str,
    period: CostPeriod | None = None,
    extensions: Sequence[str] = (),
    counter: list[int] | None = None,
) -> Iterator[list[str | None]]:
    """Rows for ``loader.load(target, record_fields(extensions), ...)``. ``counter[0]`` counts
    the records read (for the import run)."""
    allowed = frozenset(extensions)
    for number, record in enumerate(records, start=1):
        if counter is not None:
            counter[0] = number
        yield _row(record, number, provider_name, period, extensions, allowed)


def _row(record, number, provider_name, period, extensions, allowed) -> list[str | None]:
    if not isinstance(record, CostRecord):
        raise RecordError(f"record {number} is a {type(record).__name__}, not a CostRecord")
    start, end = record.charge_period_start, record.charge_period_end
    if start.tzinfo is None or end.tzinfo is None:
        raise RecordError(f"record {number}: charge period times must be timezone-aware")
    if end <= start:
        raise RecordError(f"record {number}: the charge period ends before it starts")
    if period is not None and start not in period:
        raise RecordError(
            f"record {number}: ChargePeriodStart {start.isoformat()} is outside the period "
            f"asked for [{period.start.isoformat()}, {period.end.isoformat()})"
        )
    currency = record.billing_currency
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise RecordError(f"record {number}: billing currency {currency!r} is not ISO 4217")
    unknown = set(record.extensions) - allowed
    if unknown:
        raise RecordError(
            f"record {number}: undeclared extension(s) {', '.join(sorted(unknown))} "
            "(list them in the adapter's cost_extensions)"
        )
    cells: list[str | None] = []
    for name in RECORD_FIELDS:
        value = getattr(record, name)
        if name in _MONEY and value is not None and not isinstance(value, Decimal | int):
            raise RecordError(f"record {number}: {name} must be a Decimal, not {type(value)}")
        cells.append(_text(value, name == "billing_currency"))
    month = dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    cells += [provider_name, provider_name, provider_name, _text(month), _text(following)]
    cells += [_text(record.extensions.get(key)) for key in extensions]
    return cells


def _text(value, upper: bool = False) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict) or hasattr(value, "items"):
        return json.dumps(dict(value), ensure_ascii=False, sort_keys=True) if value else None
    text = str(value)
    return text.upper() if upper else text
