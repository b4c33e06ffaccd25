# ruff: noqa: RUF001, RUF003 -- the console export is in Russian: its Cyrillic headers are meant
"""VK Cloud's cost detail export (console: Balance -> Detail, xlsx or csv) as ``CostRecord``s.

The export's layout is not published [I], so the reader is tolerant: the header row is found by
its names (Russian or English, any order, title lines above it are skipped), only the date and
the amount columns are required, dates are ``DD.MM.YYYY``, ISO or spreadsheet dates, amounts are
numbers or text with a decimal comma, spaces and a currency sign, and total lines ("Итого") are
left out. Every row is one Moscow day (VK bills per minute and rounds to kopecks; the export is
per day) in roubles.

Bad rows are reported, not skipped: the whole file is refused with the first rows that could not
be read, each with its row number and why, so nothing is loaded half-way.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.adapters.base import CostRecord

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
MAX_REPORTED = 10
HEADER_SEARCH_ROWS = 30
# column -> header prefixes (lower case, "ё" as "е")
COLUMNS = {
    "resource_id": ("id ресурса", "resource id", "идентификатор", "uuid"),
    "date": ("дата", "date", "день", "day", "период", "period"),
    "amount": ("сумма", "стоимость", "amount", "cost", "начислено", "к оплате"),
    "service": ("услуга", "сервис", "service", "продукт", "product"),
    "resource": ("ресурс", "resource", "объект", "object", "имя", "name"),
    "project": ("проект", "project"),
    "region": ("регион", "region", "зона"),
    "quantity": ("количество", "объем", "quantity", "usage"),
    "unit": ("ед. изм", "ед.изм", "единица", "unit"),
}
TOTAL_WORDS = ("итого", "всего", "total")


def parse_detail(stream: Any, file_name: str) -> Iterator[CostRecord]:
    """The ``CostFileFormat.parse`` of the VK Cloud detail export (xlsx or csv)."""
    rows = _xlsx_rows(stream) if file_name.lower().endswith(".xlsx") else _csv_rows(stream)
    records, problems = _read(rows)
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise ValueError(f"{len(problems)} row(s) cannot be read: {shown}{more}")
    return iter(records)


# -- reading the cells -----------------------------------------------------------------------


def _csv_rows(stream: Any) -> Iterator[tuple[int, list[Any]]]:
    raw = stream.read()
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1251")  # the console's "for accounting" files
    # The separator used most in the first lines (a title line above the header fools
    # csv.Sniffer); semicolons win ties, as Russian-locale exports use them.
    head = "\n".join(text.splitlines()[:10])
    delimiter = max((";", "\t", ","), key=head.count)
    yield from enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)


def _xlsx_rows(stream: Any) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    data = stream.read()
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise ValueError(f"This is not an xlsx workbook ({type(exc).__name__}).") from None
    try:
        sheet = book.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells)
    finally:
        book.close()


def _header(cells: list[Any]) -> dict[str, int] | None:
    names = [str(c or "").strip().lower().replace("ё", "е") for c in cells]
    found: dict[str, int] = {}
    for column, prefixes in COLUMNS.items():
        for index, name in enumerate(names):
            if index in found.values() or not name:
                continue
            if name.startswith(prefixes):
                found[column] = index
                break
    return found if "date" in found and "amount" in found else None


def _read(rows: Iterator[tuple[int, list[Any]]]) -> tuple[list[CostRecord], list[str]]:
    columns = None
    records: list[CostRecord] = []
    problems: list[str] = []
    for number, cells in rows:
        if columns is None:
            columns = _header(cells)
            if columns is None and number >= HEADER_SEARCH_ROWS:
                break
            continue
        if not any(str(c or "").strip() for c in cells):
            continue
        first = str(cells[0] or "").strip().lower() if cells else ""
        if first.startswith(TOTAL_WORDS):
            continue
        try:
            records.append(_record(cells, columns))
        except ValueError as exc:
            problems.append(f"row {number}: {exc}")
    if columns is None:
        raise ValueError(
            "No header row with a date and an amount column (Дата, Сумма) in the first "
            f"{HEADER_SEARCH_ROWS} rows: is this the VK Cloud detail export?"
        )
    return records, problems


def _cell(cells: list[Any], columns: dict[str, int], name: str) -> Any:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return None
    value = cells[index]
    return value.strip() if isinstance(value, str) else value


def _text(cells, columns, name) -> str | None:
    value = _cell(cells, columns, name)
    return None if value in (None, "") else str(value)


def _record(cells: list[Any], columns: dict[str, int]) -> CostRecord:
    day = to_date(_cell(cells, columns, "date"))
    amount = to_amount(_cell(cells, columns, "amount"), "amount")
    quantity_raw = _cell(cells, columns, "quantity")
    quantity = to_amount(quantity_raw, "quantity") if quantity_raw not in (None, "") else None
    start = datetime.combine(day, time.min, tzinfo=MSK)
    unit = _text(cells, columns, "unit")
    return CostRecord(
        charge_period_start=start,
        charge_period_end=start + timedelta(days=1),
        billed_cost=amount,
        effective_cost=amount,
        billing_currency="RUB",
        service_name=_text(cells, columns, "service"),
        resource_id=_text(cells, columns, "resource_id"),
        resource_name=_text(cells, columns, "resource"),
        region_id=_text(cells, columns, "region"),
        sub_account_id=_text(cells, columns, "project"),
        consumed_quantity=quantity,
        consumed_unit=unit,
        pricing_quantity=quantity,
        pricing_unit=unit,
    )


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValueError("the date is empty")
    for pattern in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"the date {text[:30]!r} is not DD.MM.YYYY or YYYY-MM-DD")


def to_amount(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"the {what} is empty")
    if isinstance(value, int | float):
        amount = Decimal(str(value))
    else:
        text = str(value)
        for noise in ("\u00a0", "\u202f", " ", "₽", "руб.", "руб", "RUB"):
            text = text.replace(noise, "")
        text = text.replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"the {what} {str(value)[:30]!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"the {what} is not a finite number")
    return amount
