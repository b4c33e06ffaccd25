"""Yandex Cloud detailed billing export (daily CSV) -> FOCUS 1.2 text rows (focus.md §6).

One file per MSK day, one row per day x folder x SKU x resource, with a dynamic set of
``label.user_labels.<key>`` columns. Mapping:

- BilledCost = EffectiveCost = cost + credit (credit is the total discount, <= 0);
  ListCost = ContractedCost = cost; sums are exact (a Decimal context that traps rounding);
- ChargePeriod = the row's MSK day as UTC ([D-1 21:00Z, D 21:00Z)); BillingPeriod = its MSK month;
- SubAccount = folder ("Folder"); Tags = the non-empty label columns, keys without the prefix;
- ProviderName = PublisherName = InvoiceIssuerName = "Yandex Cloud" (validator rule C-005), and
  so are 1.3's ServiceProviderName and HostProviderName (Yandex sells what runs on its own cloud);
- InvoiceId = ``<billing_account_id>/<YYYY-MM>`` of the MSK month: Yandex invoices a billing
  account once a month and the export names no invoice, so this is the provisional invoice the row
  will be on (FOCUS lets an InvoiceId be generated before the invoice is issued);
- SkuPriceId = ``<sku_id>:<currency>:<unit price>``: one id per price of a SKU, so a new pricing
  version (a price change) gets a new id and the same price keeps its id across months. The unit
  price is ``cost / pricing_quantity``; when that division is not exact (a rounded cost) or the
  quantity is 0, the row does not reveal its price and SkuPriceId is the SkuId (FOCUS allows it);
- the credits go to ``x_credits`` as exact decimal strings, when any is non-zero: ``total`` (the
  ``credit`` column) and the breakdown the file gives (``monetary_grant``, ``volume_incentive``,
  ``cud``, ``misc``);
- the cloud, service id and raw unit go to ``x_`` columns, which the loader keeps in
  ``x_extensions``.

Cells are emitted in the loader's text form: decimals as plain text, instants as
``YYYY-MM-DDTHH:MM:SSZ``, Tags as JSON, None for null. Bad rows are reported like the FOCUS
reader does (IssueLog: line, column, value, reason) and left out; the caller applies the policy.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import BinaryIO
from zoneinfo import ZoneInfo

from providers.focus import limits as input_limits
from providers.focus.csvlines import BadLine, Lines
from providers.focus.currencies import BILLING_CURRENCIES
from providers.focus.issues import DEFAULT_MAX_EXAMPLES, IssueLog, Kind
from providers.focus.values import CellError, format_key_value, parse_decimal

MSK = ZoneInfo("Europe/Moscow")
PROVIDER = "Yandex Cloud"
LABEL_PREFIX = "label.user_labels."
REQUIRED_COLUMNS = (
    "billing_account_id",
    "cloud_id",
    "folder_id",
    "service_id",
    "service_name",
    "sku_id",
    "sku_name",
    "date",
    "currency",
    "pricing_quantity",
    "pricing_unit",
    "cost",
    "credit",
)
CREDIT_PARTS = ("monetary_grant_credit", "volume_incentive_credit", "cud_credit", "misc_credit")
# x_credits keys: the breakdown column names without the "_credit" suffix.
CREDIT_KEYS = tuple(name.removesuffix("_credit") for name in CREDIT_PARTS)
OPTIONAL_COLUMNS = (
    "billing_account_name",
    "cloud_name",
    "folder_name",
    "resource_id",
    *CREDIT_PARTS,
    "locale",
    "updated_at",
    "exported_at",
)
DEPRECATED_COLUMNS = frozenset({"created_at", "label.system_labels.folder_id"})
# Empty values here make a row unusable (no account, folder, service or SKU to charge).
REQUIRED_VALUES = ("billing_account_id", "cloud_id", "folder_id", "service_name", "sku_id")
FILE_DAY = re.compile(r"(\d{8})\.csv(?:\.gz)?$")

# The loader's fields, in the order rows() emits them. x_ fields land in x_extensions.
FIELDS = (
    "billing_account_id",
    "billing_account_name",
    "billing_currency",
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "charge_frequency",
    "charge_description",
    "pricing_category",
    "provider_name",
    "publisher_name",
    "invoice_issuer_name",
    "service_provider_name",
    "host_provider_name",
    "service_name",
    "service_category",
    "service_subcategory",
    "sku_id",
    "sku_meter",
    "resource_id",
    "pricing_quantity",
    "pricing_unit",
    "consumed_quantity",
    "consumed_unit",
    "list_cost",
    "contracted_cost",
    "billed_cost",
    "effective_cost",
    "list_unit_price",
    "contracted_unit_price",
    "sub_account_id",
    "sub_account_name",
    "sub_account_type",
    "tags",
    "invoice_id",
    "sku_price_id",
    "x_credits",
    "x_cloud_id",
    "x_cloud_name",
    "x_service_id",
    "x_pricing_unit",
    "x_locale",
    "x_updated_at",
    "x_exported_at",
)

# Sums must be exact: with Inexact trapped, an addition that would round raises instead.
_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation])
_ZERO = Decimal(0)

# service_name keyword -> (ServiceCategory, ServiceSubcategory); first match wins.
SERVICE_CATEGORIES = (
    ("kubernetes", "Compute", "Containers"),
    ("serverless container", "Compute", "Serverless Compute"),
    ("function", "Compute", "Serverless Compute"),
    ("compute", "Compute", "Virtual Machines"),
    ("postgresql", "Databases", "Relational Databases"),
    ("mysql", "Databases", "Relational Databases"),
    ("clickhouse", "Databases", "Data Warehouses"),
    ("greenplum", "Databases", "Data Warehouses"),
    ("redis", "Databases", "Caching"),
    ("valkey", "Databases", "Caching"),
    ("mongodb", "Databases", "NoSQL Databases"),
    ("ydb", "Databases", "NoSQL Databases"),
    ("opensearch", "Analytics", "Search"),
    ("kafka", "Analytics", "Streaming Analytics"),
    ("data proc", "Analytics", "Data Processing"),
    ("datalens", "Analytics", "Business Intelligence"),
    ("object storage", "Storage", "Object Storage"),
    ("container registry", "Developer Tools", "Other (Developer Tools)"),
    ("virtual private cloud", "Networking", "Network Infrastructure"),
    ("vpc", "Networking", "Network Infrastructure"),
    ("load balancer", "Networking", "Application Networking"),
    ("cdn", "Networking", "Content Delivery"),
    ("dns", "Networking", "Network Routing"),
    ("monitoring", "Management and Governance", "Observability"),
    ("logging", "Management and Governance", "Observability"),
    ("key management", "Security", "Secret Management"),
    ("lockbox", "Security", "Secret Management"),
    ("certificate", "Security", "Other (Security)"),
    ("gpt", "AI and Machine Learning", "Generative AI"),
    ("foundation models", "AI and Machine Learning", "Generative AI"),
    ("speechkit", "AI and Machine Learning", "Natural Language Processing"),
    ("translate", "AI and Machine Learning", "Natural Language Processing"),
    ("vision", "AI and Machine Learning", "Machine Learning"),
    ("datasphere", "AI and Machine Learning", "AI Platforms"),
    ("api gateway", "Integration", "API Management"),
    ("message queue", "Integration", "Messaging"),
    ("support", "Management and Governance", "Support"),
)
OTHER_SERVICE = ("Other", "Other (Other)")
# Yandex pricing_unit -> FOCUS UnitFormat (Yandex's "gbyte" is 2^30 bytes, hence GiB).
UNITS = {
    "core*hour": "Core-Hours",
    "gbyte*hour": "GiB-Hours",
    "gbyte*month": "GiB-Months",
    "gbyte": "GiB",
    "mbyte": "MiB",
    "hour": "Hours",
    "month": "Months",
    "request": "Requests",
    "1k*request": "1000 Requests",
    "10k*request": "10000 Requests",
    "1m*request": "1000000 Requests",
    "token": "Tokens",
    "1k*token": "1000 Tokens",
    "unit": "Units",
}


def day_from_key(key: str) -> dt.date | None:
    """The day a daily export file holds, from its name ("<prefix>YYYYMMDD.csv")."""
    match = FILE_DAY.search(key)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


def msk_day_range(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[00:00 MSK of day, 00:00 MSK of the next day) in UTC: what a daily file replaces."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=MSK)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def msk_month_range(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    first = dt.datetime(day.year, day.month, 1, tzinfo=MSK)
    nxt = dt.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=MSK)
    return first.astimezone(dt.UTC), nxt.astimezone(dt.UTC)


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_category(service_name: str) -> tuple[str, str]:
    name = service_name.casefold()
    for keyword, category, subcategory in SERVICE_CATEGORIES:
        if keyword in name:
            return category, subcategory
    return OTHER_SERVICE


def _text(value: Decimal) -> str:
    return format(value, "f")


class YandexExportReader:
    """Read one daily export file: ``rows()`` yields FOCUS text cells in ``FIELDS`` order.

    ``day`` is the MSK day the file holds; a row of another day is an error (a daily file
    replaces exactly its day, so a stray row would survive the next rewrite of its own day).
    """

    fields = FIELDS

    def __init__(
        self, stream: BinaryIO, *, day: dt.date, max_examples: int = DEFAULT_MAX_EXAMPLES
    ) -> None:
        self.day = day
        self.errors = IssueLog(max_examples)
        self.warnings = IssueLog(max_examples)
        self.rows_read = 0
        self.rows_rejected = 0
        self._index: dict[str, int] = {}
        self._labels: list[tuple[str, int]] = []
        self._width = 0
        self._periods = self._period_cells(day)
        self._invoice_month = f"{day:%Y-%m}"  # the MSK month the file's day belongs to
        self._services: dict[str, tuple[str, str]] = {}
        binary = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
        self._gzip = None
        if binary.peek(2)[:2] == b"\x1f\x8b":
            binary = self._gzip = input_limits.open_inflated(binary, input_limits.current())
        self._text = io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self._lines = Lines(self._text, keep=False)
        self._csv = csv.reader(self._lines)
        self._read_header()

    @property
    def header_ok(self) -> bool:
        return bool(self._index) and not any(
            self.errors.count(kind)
            for kind in (Kind.MISSING_COLUMN, Kind.DUPLICATE_COLUMN, Kind.UNREADABLE_FILE)
        )

    @property
    def unreadable(self) -> bool:
        """The file broke off (a truncated gzip stream): whatever was read is not the file."""
        return bool(self.errors.count(Kind.UNREADABLE_FILE))

    def close(self) -> None:
        self._text.detach()  # the caller owns the stream
        if self._gzip is not None:
            self._gzip.close()  # (leaves the caller's stream open)

    # -- header ----------------------------------------------------------------------------------

    def _read_header(self) -> None:
        try:
            names = next(self._csv)
        except StopIteration:
            self.errors.add(Kind.UNREADABLE_FILE, 1, None, None, "empty file")
            return
        except (csv.Error, BadLine, EOFError, OSError) as exc:
            self.errors.add(Kind.UNREADABLE_FILE, 1, None, None, f"header unreadable: {exc}")
            return
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
        for position, raw in enumerate(names):
            name = raw.strip()
            if name in self._index or any(name == f"{LABEL_PREFIX}{k}" for k, _ in self._labels):
                self.errors.add(Kind.DUPLICATE_COLUMN, 1, raw, raw, "column repeated")
                continue
            if name.startswith(LABEL_PREFIX) and len(name) > len(LABEL_PREFIX):
                self._labels.append((name[len(LABEL_PREFIX) :], position))
            elif name in known:
                self._index[name] = position
            elif name not in DEPRECATED_COLUMNS:
                self.warnings.add("unknown_column", 1, raw, raw, "not an export column; ignored")
        for name in REQUIRED_COLUMNS:
            if name not in self._index:
                self.errors.add(Kind.MISSING_COLUMN, 1, name, None, "required column missing")
        self._width = len(names)

    # -- rows ------------------------------------------------------------------------------------

    def rows(self) -> Iterator[list[str | None]]:
        if not self.header_ok:
            return
        lines, previous_end = self._lines, self._lines.count
        try:
            while True:
                try:
                    for cells in self._csv:
                        line, previous_end = previous_end + 1, lines.count
                        if not cells:
                            continue  # a blank line is not a record
                        self.rows_read += 1
                        row = self._row(line, cells)
                        if row is None:
                            self.rows_rejected += 1
                            continue
                        yield row
                    return
                except (csv.Error, BadLine) as exc:  # csv.reader resumes at the next line
                    self.rows_read += 1
                    self.rows_rejected += 1
                    kind = exc.kind if isinstance(exc, BadLine) else Kind.MALFORMED_CSV
                    self.errors.add(kind, lines.count, None, None, str(exc))
                    previous_end = lines.count
        except (EOFError, OSError) as exc:  # a truncated gzip stream
            self.errors.add(
                Kind.UNREADABLE_FILE, previous_end + 1, None, None, f"file unreadable: {exc}"
            )

    def _row(self, line: int, cells: Sequence[str]) -> list[str | None] | None:
        if len(cells) != self._width:
            self._wrong_width(line, cells)
            return None
        index = self._index

        def cell(name: str) -> str:
            position = index.get(name)
            return cells[position].strip() if position is not None else ""

        ok = True
        for name in REQUIRED_VALUES:
            if not cell(name):
                self.errors.add(Kind.INVALID_VALUE, line, name, "", "empty; a value is required")
                ok = False
        date_text = cell("date")
        if date_text != self._periods[0]:
            ok = self._bad_date(line, date_text) and ok
        currency = cell("currency")
        if currency not in BILLING_CURRENCIES:
            upper = currency.upper()
            if upper in BILLING_CURRENCIES:
                self.warnings.add(Kind.CURRENCY_CASE, line, "currency", currency, "upper-cased")
                currency = upper
            else:
                reason = "not an ISO 4217 national currency code"
                self.errors.add(Kind.UNKNOWN_CURRENCY, line, "currency", currency, reason)
                ok = False
        amounts: dict[str, Decimal | None] = {}
        for name in ("pricing_quantity", "cost", "credit", *CREDIT_PARTS):
            text = cell(name)
            if not text:
                if name in ("pricing_quantity", "cost", "credit"):
                    self.errors.add(Kind.INVALID_DECIMAL, line, name, text, "empty; required")
                    ok = False
                amounts[name] = None
                continue
            try:
                amounts[name], note = parse_decimal(text)
            except CellError as exc:
                self.errors.add(exc.kind, line, name, text, exc.reason)
                ok = False
                continue
            if note:
                self.warnings.add(Kind.NUMERIC_FORMAT, line, name, text, note)
        if not ok:
            return None
        return self._focus_row(line, cell, currency, amounts, cells)

    def _focus_row(self, line, cell, currency, amounts, cells) -> list[str | None]:
        cost, credit = amounts["cost"], amounts["credit"]
        quantity = amounts["pricing_quantity"]
        parts = [amounts[name] for name in CREDIT_PARTS]
        if credit > 0:
            self.warnings.add("positive_credit", line, "credit", _text(credit), "credit > 0")
        if all(p is not None for p in parts) and _exact_sum(parts) != credit:
            self.warnings.add(
                "credit_mismatch", line, "credit", _text(credit), "differs from the breakdown"
            )
        net = _text(_EXACT.add(cost, credit))
        unit_price = _text(cost / quantity) if quantity else None
        sku_id = cell("sku_id")
        exact_price = _exact_unit_price(cost, quantity)
        sku_price_id = f"{sku_id}:{currency}:{exact_price}" if exact_price else sku_id
        service_name = cell("service_name")
        category = self._services.get(service_name)
        if category is None:
            category = self._services[service_name] = service_category(service_name)
        raw_unit = cell("pricing_unit")
        unit = UNITS.get(raw_unit.casefold(), raw_unit) or None
        tags = {key: cells[i] for key, i in self._labels if cells[i] != ""}
        cud = amounts["cud_credit"]
        _, day_start, day_end, month_start, month_end = self._periods
        sku_name = cell("sku_name") or None
        return [
            cell("billing_account_id"),
            cell("billing_account_name") or None,
            currency,
            month_start,
            month_end,
            day_start,
            day_end,
            "Usage",
            "Usage-Based",
            sku_name,
            "Committed" if cud else "Standard",
            PROVIDER,
            PROVIDER,
            PROVIDER,
            PROVIDER,
            PROVIDER,
            service_name,
            category[0],
            category[1],
            sku_id,
            sku_name,
            cell("resource_id") or None,
            _text(quantity),
            unit,
            _text(quantity),
            unit,
            _text(cost),
            _text(cost),
            net,
            net,
            unit_price,
            unit_price,
            cell("folder_id"),
            cell("folder_name") or None,
            "Folder",
            format_key_value(tags) if tags else None,
            f"{cell('billing_account_id')}/{self._invoice_month}",
            sku_price_id,
            _credits_json(credit, parts),
            cell("cloud_id"),
            cell("cloud_name") or None,
            cell("service_id") or None,
            raw_unit or None,
            cell("locale") or None,
            cell("updated_at") or None,
            cell("exported_at") or None,
        ]

    def _bad_date(self, line: int, text: str) -> bool:
        try:
            day = dt.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            day = None
        if day is None:
            self.errors.add(Kind.INVALID_DATETIME, line, "date", text, "not a YYYY-MM-DD date")
        else:
            reason = f"a row of {day} in the file of {self.day}"
            self.errors.add(Kind.INVALID_VALUE, line, "date", text, reason)
        return False

    def _wrong_width(self, line: int, cells: Sequence[str]) -> None:
        if len(cells) < self._width:
            names = {position: name for name, position in self._index.items()}
            missing = names.get(len(cells)) or f"column {len(cells) + 1}"
            reason = f"{len(cells)} of {self._width} fields; the row ends before this column"
            self.errors.add(Kind.TRUNCATED_ROW, line, missing, cells[-1], reason)
        else:
            reason = f"{len(cells)} fields but the header has {self._width}"
            self.errors.add(Kind.EXTRA_FIELDS, line, None, cells[self._width], reason)

    @staticmethod
    def _period_cells(day: dt.date) -> tuple[str, str, str, str, str]:
        """(date text, charge start, charge end, billing period start, end) for the file's day."""
        start, end = msk_day_range(day)
        month_start, month_end = msk_month_range(day)
        return (
            day.isoformat(),
            _instant(start),
            _instant(end),
            _instant(month_start),
            _instant(month_end),
        )


def _exact_unit_price(cost: Decimal, quantity: Decimal) -> str | None:
    """cost / quantity in its shortest plain form, or None when the division is not exact."""
    if not quantity:
        return None
    try:
        price = _EXACT.divide(cost, quantity)
    except Inexact:
        return None
    return format(price.normalize(_EXACT), "f")


def _credits_json(credit: Decimal, parts: list[Decimal | None]) -> str | None:
    """x_credits: the total and the breakdown as exact strings; None when nothing was credited."""
    if not credit and not any(parts):
        return None
    credits = {"total": _text(credit)}
    for key, part in zip(CREDIT_KEYS, parts, strict=True):
        if part is not None:
            credits[key] = _text(part)
    return format_key_value(credits)


def _exact_sum(values) -> Decimal:
    total = _ZERO
    for value in values:
        total = _EXACT.add(total, value)
    return total
