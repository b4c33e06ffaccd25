"""Invoice exports: CSV, XLSX (openpyxl), PDF (WeasyPrint, from an HTML template) and the FOCUS
invoice datasets.

``internal=False`` is the customer-facing document: amounts, VAT and totals only. ``internal=True``
adds provider cost, markup and MSP margin; callers allow it to holders of ``view_margin`` only,
and what is e-mailed to customers is always the customer-facing one.

**FOCUS invoice datasets.** Our FOCUS reference (``focus.md``) covers the cost and usage columns
of FOCUS 1.0-1.2 and does not describe the 1.4 Invoice Detail / Billing Period datasets, so the
columns below follow FOCUS naming (PascalCase, the 1.2 names where one exists, ``x_`` for our
extensions). Amounts are in the invoice currency (rubles for Russian clients) with VAT shown
apart; ``PaymentCurrency`` is the currency the client pays in (the invoice currency).

Invoice Detail (one row per invoice line): InvoiceId, InvoiceIssuerName, BillingAccountId,
BillingAccountName, BillingPeriodStart, BillingPeriodEnd, ChargeCategory, ChargeDescription,
ProviderName, ServiceName, BilledCost (net), BillingCurrency, PaymentCurrency, x_LineNumber,
x_VatRate, x_VatAmount, x_BilledCostWithVat, x_DimensionValue, x_InvoiceVersion.

Billing Period (one row per invoice): InvoiceId, InvoiceIssuerName, BillingAccountId,
BillingAccountName, BillingPeriodStart, BillingPeriodEnd, BilledCost (net), BillingCurrency,
PaymentCurrency, x_VatRate, x_VatAmount, x_BilledCostWithVat, x_InvoiceStatus, x_InvoiceVersion,
x_IssuedAt, x_SupersedesInvoiceId.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string

from core.csv_safety import escape_formula as safe_cell

FORMATS = ("csv", "xlsx", "pdf", "focus_invoice_detail", "focus_billing_period")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "focus_invoice_detail": "text/csv; charset=utf-8",
    "focus_billing_period": "text/csv; charset=utf-8",
}
CUSTOMER_COLUMNS = ["line", "kind", "description", "amount", "vat", "total"]
INTERNAL_COLUMNS = [
    "line",
    "kind",
    "description",
    "provider_cost",
    "markup",
    "margin",
    "amount",
    "vat",
    "total",
]
DETAIL_COLUMNS = [
    "InvoiceId",
    "InvoiceIssuerName",
    "BillingAccountId",
    "BillingAccountName",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ProviderName",
    "ServiceName",
    "BilledCost",
    "BillingCurrency",
    "PaymentCurrency",
    "x_LineNumber",
    "x_VatRate",
    "x_VatAmount",
    "x_BilledCostWithVat",
    "x_DimensionValue",
    "x_InvoiceVersion",
]
PERIOD_COLUMNS = [
    "InvoiceId",
    "InvoiceIssuerName",
    "BillingAccountId",
    "BillingAccountName",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "BilledCost",
    "BillingCurrency",
    "PaymentCurrency",
    "x_VatRate",
    "x_VatAmount",
    "x_BilledCostWithVat",
    "x_InvoiceStatus",
    "x_InvoiceVersion",
    "x_IssuedAt",
    "x_SupersedesInvoiceId",
]
# FOCUS ChargeCategory of each line kind: usage is Usage, fees and custom lines are Purchase.
CHARGE_CATEGORY = {
    "usage": "Usage",
    "shared": "Usage",
    "fixed_fee": "Purchase",
    "custom": "Purchase",
}


def _money(value: Decimal) -> str:
    return format(value, "f")


def _rows(invoice, internal: bool) -> tuple[list[str], list[list], list]:
    lines = list(invoice.lines.order_by("position"))
    columns = INTERNAL_COLUMNS if internal else CUSTOMER_COLUMNS
    rows = []
    for line in lines:
        values = {
            "line": line.position,
            "kind": line.get_kind_display(),
            "description": line.description,
            "provider_cost": line.provider_cost,
            "markup": line.markup,
            "margin": line.margin,
            "amount": line.amount,
            "vat": line.vat_amount,
            "total": line.total,
        }
        rows.append([values[c] for c in columns])
    totals = {
        "line": "",
        "kind": "",
        "description": "Total",
        "provider_cost": invoice.provider_cost,
        "markup": "",
        "margin": invoice.margin,
        "amount": invoice.net_amount,
        "vat": invoice.vat_amount,
        "total": invoice.total_amount,
    }
    return columns, rows, [totals[c] for c in columns]


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_money(v) if isinstance(v, Decimal) else safe_cell(str(v)) for v in row])
    return out.getvalue().encode("utf-8")


def _xlsx(invoice, columns, rows, totals) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = invoice.number[:31]
    sheet.append([f"Invoice {invoice.number}", invoice.tenant.name])
    sheet.append(["Period", f"{invoice.period_start} to {invoice.period_end}"])
    sheet.append(["Currency", invoice.currency])
    sheet.append([])
    sheet.append(columns)
    money_format = "#,##0.00"
    for row in [*rows, totals]:
        # Text cells that look like formulas are neutralised as in CSV exports.
        sheet.append([v if isinstance(v, Decimal | int) else safe_cell(str(v)) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, Decimal):
                cell.number_format = money_format
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf(invoice, columns, rows, totals) -> bytes:
    from weasyprint import HTML

    html = render_to_string(
        "allocation/invoice_pdf.html",
        {
            "invoice": invoice,
            "issuer": getattr(settings, "INVOICE_ISSUER_NAME", "InfraZen"),
            "columns": columns,
            "rows": rows,
            "totals": totals,
        },
    )
    return HTML(string=html).write_pdf()


def _focus_detail(invoice) -> list[list]:
    issuer = getattr(settings, "INVOICE_ISSUER_NAME", "InfraZen")
    rows = []
    for line in invoice.lines.order_by("position"):
        rows.append(
            [
                invoice.number,
                issuer,
                invoice.tenant.slug,
                invoice.tenant.name,
                _iso(invoice.period_start),
                _iso(invoice.period_end + dt.timedelta(days=1)),
                CHARGE_CATEGORY[line.kind],
                line.description,
                line.provider_name or issuer,
                line.service_name or line.get_kind_display(),
                line.amount,
                invoice.currency,
                invoice.currency,
                line.position,
                invoice.vat_rate,
                line.vat_amount,
                line.total,
                line.dimension_value,
                invoice.version,
            ]
        )
    return rows


def _focus_period(invoice) -> list[list]:
    issuer = getattr(settings, "INVOICE_ISSUER_NAME", "InfraZen")
    return [
        [
            invoice.number,
            issuer,
            invoice.tenant.slug,
            invoice.tenant.name,
            _iso(invoice.period_start),
            _iso(invoice.period_end + dt.timedelta(days=1)),
            invoice.net_amount,
            invoice.currency,
            invoice.currency,
            invoice.vat_rate,
            invoice.vat_amount,
            invoice.total_amount,
            invoice.status,
            invoice.version,
            invoice.issued_at.isoformat().replace("+00:00", "Z") if invoice.issued_at else "",
            invoice.supersedes.number if invoice.supersedes_id else "",
        ]
    ]


def _iso(day: dt.date) -> str:
    # FOCUS periods are [start, end) in UTC date-times.
    return f"{day.isoformat()}T00:00:00Z"


def render(invoice, fmt: str, *, internal: bool = False) -> tuple[str, str, bytes]:
    """(file name, content type, content) of the invoice in ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    name = f"invoice-{invoice.number}"
    if fmt == "focus_invoice_detail":
        return (
            f"{name}-focus-invoice-detail.csv",
            CONTENT_TYPES[fmt],
            _csv(DETAIL_COLUMNS, _focus_detail(invoice)),
        )
    if fmt == "focus_billing_period":
        return (
            f"{name}-focus-billing-period.csv",
            CONTENT_TYPES[fmt],
            _csv(PERIOD_COLUMNS, _focus_period(invoice)),
        )
    columns, rows, totals = _rows(invoice, internal)
    if internal:
        name += "-internal"
    if fmt == "csv":
        return f"{name}.csv", CONTENT_TYPES[fmt], _csv(columns, [*rows, totals])
    if fmt == "xlsx":
        return f"{name}.xlsx", CONTENT_TYPES[fmt], _xlsx(invoice, columns, rows, totals)
    return f"{name}.pdf", CONTENT_TYPES[fmt], _pdf(invoice, columns, rows, totals)
