"""Chargeback: price books, invoices (exact totals, immutability, versions), exports, the
monthly run, and what customers may not see (provider cost, margin)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.db import DatabaseError, transaction

from allocation.chargeback import largest_remainder
from allocation.models import Invoice, InvoiceLine
from allocation.services.billing import (
    invoice_generate,
    invoice_issue,
    invoice_reissue,
    invoices_monthly_run,
    price_book_charge_create,
    price_book_create,
    price_book_rule_create,
)
from core.capabilities import Capability, Role, capabilities_for
from core.models import AuditEvent
from tests.allocation.conftest import cond, focus_row, load

ACME = "Acme Cloud"  # no VAT rule: net cost = billed cost
JAN = dt.date(2026, 1, 1)


@pytest.fixture
def jan_costs(world, dims, rule):
    rule("web", [cond("service", "in", "Compute Cloud")], project=dims.web)
    rule("data", [cond("service", "in", "Object Storage")], project=dims.data)
    load(
        world.a,
        [
            focus_row(dt.date(2026, 1, 5), "Compute Cloud", "100.004", provider=ACME),
            focus_row(dt.date(2026, 1, 6), "Compute Cloud", "0.333", provider=ACME),
            focus_row(dt.date(2026, 1, 7), "Object Storage", "33.333", provider=ACME),
            focus_row(dt.date(2026, 1, 8), "Object Storage", "33.333", provider=ACME),
        ],
    )


@pytest.fixture
def book(world):
    """The demo's client terms: 15% markup, a monthly fixed fee, VAT 22% on top."""
    book = price_book_create(
        actor=world.operator_a,
        tenant=world.a,
        name="Alpha 2026",
        valid_from=JAN,
        vat_rate=Decimal("0.22"),
        default_markup=Decimal("0.15"),
        email_to="billing@alpha.example",
    )
    price_book_charge_create(
        actor=world.operator_a,
        price_book=book,
        kind="fixed_fee",
        description="Managed service fee",
        amount=Decimal("5000.00"),
    )
    return book


def test_largest_remainder_keeps_the_total():
    third = Decimal(1) / 3
    assert largest_remainder([third, third, third], Decimal("0.01")) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    values = [Decimal("0.005")] * 7 + [Decimal("-0.004")]
    rounded = largest_remainder(values, Decimal("0.01"))
    assert sum(rounded) == Decimal("0.03")  # round(0.031)
    assert all(abs(r - v) < Decimal("0.01") for r, v in zip(rounded, values, strict=True))


def test_invoice_with_markup_and_fixed_fee_adds_up_exactly(world, jan_costs, book):
    invoice = invoice_generate(actor=world.operator_a, tenant=world.a, period_start=JAN)

    lines = list(invoice.lines.order_by("position"))
    assert [(ln.description, ln.provider_cost, ln.amount, ln.margin) for ln in lines] == [
        (f"{ACME} · Compute Cloud", Decimal("100.34"), Decimal("115.39"), Decimal("15.05")),
        (f"{ACME} · Object Storage", Decimal("66.66"), Decimal("76.66"), Decimal("10.00")),
        ("Managed service fee", Decimal("0"), Decimal("5000.00"), Decimal("5000.00")),
    ]
    # Costs 100.337 + 66.666 = 167.003 -> 167.00: the cent left after rounding down goes to
    # the larger remainder (.007). Amounts: 115.38755 + 76.6659 + 5000 = 5192.05345 -> 5192.05.
    assert invoice.provider_cost == Decimal("167.00")
    assert invoice.net_amount == Decimal("5192.05")
    assert invoice.vat_amount == Decimal("1142.25")  # 5192.05 * 0.22 = 1142.251
    for line in lines:
        assert line.amount == line.provider_cost + line.margin
        assert line.total == line.amount + line.vat_amount
    assert invoice.net_amount == sum(ln.amount for ln in lines)
    assert invoice.provider_cost + invoice.margin == invoice.net_amount
    assert invoice.vat_amount == (invoice.net_amount * Decimal("0.22")).quantize(Decimal("0.01"))
    assert invoice.vat_amount == sum(ln.vat_amount for ln in lines)
    assert invoice.total_amount == invoice.net_amount + invoice.vat_amount
    assert (invoice.number, invoice.status, invoice.currency) == ("ALPHA-202601", "draft", "RUB")


def test_the_most_specific_markup_wins_and_lines_per_project(world, jan_costs, book):
    price_book_rule_create(
        actor=world.operator_a, price_book=book, provider_name=ACME, markup=Decimal("0.10")
    )
    price_book_rule_create(
        actor=world.operator_a,
        price_book=book,
        provider_name=ACME,
        service_name="Object Storage",
        markup=Decimal("-0.05"),
    )

    invoice = invoice_generate(
        actor=world.operator_a, tenant=world.a, period_start=JAN, dimension="project"
    )

    usage = {
        ln.dimension_value: (ln.markup, ln.amount) for ln in invoice.lines.filter(kind="usage")
    }
    assert usage == {
        "Web": (Decimal("0.10"), Decimal("110.37")),  # 100.337 * 1.10
        "Data": (Decimal("-0.05"), Decimal("63.33")),  # 66.666 * 0.95, a discount
    }


def test_issued_invoices_are_immutable_and_reissue_makes_a_version(world, jan_costs, book):
    draft = invoice_generate(actor=world.operator_a, tenant=world.a, period_start=JAN)
    issued = invoice_issue(actor=world.operator_a, invoice=draft)

    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=issued.pk).update(net_amount=Decimal(1))
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceLine.objects.filter(invoice=issued).update(amount=Decimal(1))
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=issued.pk).delete()
    with pytest.raises(Exception, match="re-issue"):
        invoice_generate(actor=world.operator_a, tenant=world.a, period_start=JAN)

    load(world.a, [focus_row(dt.date(2026, 1, 20), "Compute Cloud", "10.00", provider=ACME)])
    new = invoice_reissue(actor=world.operator_a, invoice=issued, reason="late usage")

    issued.refresh_from_db()
    assert (issued.status, new.status, new.version, new.number) == (
        "superseded",
        "issued",
        2,
        "ALPHA-202601-v2",
    )
    assert new.supersedes_id == issued.pk
    assert new.provider_cost == issued.provider_cost + Decimal("10.00")
    assert issued.lines.count() == new.lines.count()  # the old version is kept whole
    assert AuditEvent.objects.filter(
        event_type="allocation.invoice_reissued", tenant=world.a
    ).exists()


def test_customers_see_amounts_but_never_cost_or_margin(world, jan_costs, book, api_as):
    invoice = invoice_issue(
        actor=world.operator_a,
        invoice=invoice_generate(actor=world.operator_a, tenant=world.a, period_start=JAN),
    )
    owner = api_as(world.owner_a)

    detail = owner.get(f"/api/v1/invoices/{invoice.pk}/").json()
    lines = owner.get(f"/api/v1/invoices/{invoice.pk}/lines/").json()["results"]
    exported = owner.get(f"/api/v1/invoices/{invoice.pk}/export/", {"file_type": "csv"})
    internal = owner.get(
        f"/api/v1/invoices/{invoice.pk}/export/", {"file_type": "csv", "audience": "internal"}
    )
    books = owner.get("/api/v1/price-books/").json()["results"]
    refused = owner.post(
        "/api/v1/invoices/", {"tenant": world.a.pk, "period_start": "2026-01-01"}, format="json"
    )

    assert detail["total_amount"] == str(invoice.total_amount)
    assert "margin" not in detail and "provider_cost" not in detail
    assert lines and all("margin" not in ln and "provider_cost" not in ln for ln in lines)
    header = next(csv.reader(io.StringIO(exported.content.decode())))
    assert header == ["line", "kind", "description", "amount", "vat", "total"]
    assert internal.status_code == 400 and "audience" in internal.json()
    assert books == []
    assert refused.status_code == 400 and "tenant" in refused.json()
    for role in (Role.OWNER, Role.ADMIN, Role.FINANCE, Role.VIEWER, Role.ENGINEER):
        assert not {Capability.VIEW_MARGIN, Capability.MANAGE_BILLING} & capabilities_for(role)

    operator = api_as(world.operator_a)
    seen = operator.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert Decimal(seen["provider_cost"]) + Decimal(seen["margin"]) == Decimal(seen["net_amount"])


def test_exports_in_every_format(world, jan_costs, book, api_as):
    from openpyxl import load_workbook

    invoice = invoice_issue(
        actor=world.operator_a,
        invoice=invoice_generate(actor=world.operator_a, tenant=world.a, period_start=JAN),
    )
    client = api_as(world.operator_a)
    url = f"/api/v1/invoices/{invoice.pk}/export/"

    internal = client.get(url, {"file_type": "csv", "audience": "internal"})
    xlsx = client.get(url, {"file_type": "xlsx"})
    pdf = client.get(url, {"file_type": "pdf"})
    detail = client.get(url, {"file_type": "focus_invoice_detail"})
    period = client.get(url, {"file_type": "focus_billing_period"})
    bad = client.get(url, {"file_type": "docx"})

    rows = list(csv.DictReader(io.StringIO(internal.content.decode())))
    assert rows[-1]["description"] == "Total"
    assert Decimal(rows[-1]["margin"]) == invoice.margin
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [c.value for c in sheet["F"] if c.value is not None]
    assert Decimal(str(values[-1])) == invoice.total_amount
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    detail_rows = list(csv.DictReader(io.StringIO(detail.content.decode())))
    assert sum(Decimal(r["BilledCost"]) for r in detail_rows) == invoice.net_amount
    assert sum(Decimal(r["x_VatAmount"]) for r in detail_rows) == invoice.vat_amount
    assert {r["ChargeCategory"] for r in detail_rows} == {"Usage", "Purchase"}
    (summary,) = csv.DictReader(io.StringIO(period.content.decode()))
    assert (summary["InvoiceId"], summary["BillingCurrency"], summary["PaymentCurrency"]) == (
        "ALPHA-202601",
        "RUB",
        "RUB",
    )
    assert Decimal(summary["x_BilledCostWithVat"]) == invoice.total_amount
    assert summary["BillingPeriodEnd"] == "2026-02-01T00:00:00Z"
    assert bad.status_code == 400 and "file_type" in bad.json()


def test_monthly_run_issues_and_emails_once(world, jan_costs, book):
    book.auto_invoice = True
    book.save()

    first = invoices_monthly_run(today=dt.date(2026, 2, 1))
    again = invoices_monthly_run(today=dt.date(2026, 2, 1))

    assert [r["status"] for r in first] == ["issued"] and [r["status"] for r in again] == ["issued"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["billing@alpha.example"]
    names = sorted(name for name, _content, _type in message.attachments)
    assert names == ["invoice-ALPHA-202601.csv", "invoice-ALPHA-202601.pdf"]
    csv_content = {n: c for n, c, _t in message.attachments}["invoice-ALPHA-202601.csv"]
    assert "margin" not in csv_content.lower()
    invoice = Invoice.objects.get(tenant=world.a)
    assert invoice.status == "issued" and invoice.emailed_at is not None


def test_monthly_run_failure_is_kept_on_the_price_book(world, book):
    book.auto_invoice = True
    book.currency = "EUR"  # no exchange rates: costs cannot be converted
    book.save()
    load(world.a, [focus_row(dt.date(2026, 1, 5), "Compute Cloud", "10", provider=ACME)])

    results = invoices_monthly_run(today=dt.date(2026, 2, 1))

    book.refresh_from_db()
    assert results[0]["status"] == "failed"
    assert book.last_run_error
    assert not Invoice.objects.exists() and not mail.outbox


def test_price_book_validity_must_not_overlap(world, book, api_as):
    response = api_as(world.operator_a).post(
        "/api/v1/price-books/",
        {
            "tenant": world.a.pk,
            "name": "Alpha 2026 bis",
            "valid_from": "2026-06-01",
            "vat_rate": "0.22",
        },
        format="json",
    )
    assert response.status_code == 400 and "valid_from" in response.json()


def test_chargeback_report_per_project(world, jan_costs, book, api_as):
    params = {
        "tenant": world.a.pk,
        "start": "2026-01-01",
        "end": "2026-01-31",
        "dimension": "project",
    }

    as_operator = api_as(world.operator_a).get("/api/v1/chargeback/", params).json()
    as_owner = api_as(world.owner_a).get("/api/v1/chargeback/", params).json()

    rows = {r["dimension"]: r for r in as_operator["rows"]}
    assert rows["Web"]["provider_cost"] == "100.34" and rows["Web"]["shared_cost"] == "0.00"
    assert rows["Web"]["amount"] == "115.39"
    total = as_operator["total"]
    assert Decimal(total["provider_cost"]) + Decimal(total["margin"]) == Decimal(total["amount"])
    assert sum(Decimal(r["amount"]) for r in as_operator["rows"]) == Decimal(total["amount"])
    assert {r["dimension"]: r["amount"] for r in as_owner["rows"]} == {
        d: r["amount"] for d, r in rows.items()
    }
    assert all(set(r) == {"dimension_id", "dimension", "amount"} for r in as_owner["rows"])


def test_portal_chargeback_pages(world, jan_costs, book, client):
    client.force_login(world.operator_a)
    built = client.post("/portal/allocation/invoices/generate/", {"month": "2026-01"})
    invoice = Invoice.objects.get(tenant=world.a)
    assert built.status_code == 302 and invoice.status == "draft"
    client.post(f"/portal/allocation/invoices/{invoice.pk}/issue/")
    invoice.refresh_from_db()
    assert invoice.status == "issued"
    operator_page = client.get(f"/portal/allocation/invoices/{invoice.pk}/")
    assert "Margin" in operator_page.content.decode()

    client.force_login(world.owner_a)
    page = client.get(f"/portal/allocation/invoices/{invoice.pk}/").content.decode()
    report = client.get("/portal/allocation/chargeback/", {"month": "2026-01", "by": "project"})
    books = client.get("/portal/allocation/price-books/")
    refused = client.post(f"/portal/allocation/invoices/{invoice.pk}/reissue/", {"reason": "x"})
    pdf = client.get(f"/portal/allocation/invoices/{invoice.pk}/download/", {"file_type": "pdf"})
    internal = client.get(
        f"/portal/allocation/invoices/{invoice.pk}/download/",
        {"file_type": "csv", "audience": "internal"},
    )

    assert "Margin" not in page and "Provider cost" not in page
    assert [r.dimension for r in report.context["report"].rows] == ["Data", "Web"]
    assert "Margin" not in report.content.decode()
    assert books.status_code == 200 and not books.context["books"]
    assert refused.status_code == 403
    assert pdf.content.startswith(b"%PDF")
    assert internal.status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "issued"


def test_chargeback_shows_shared_costs_beside_direct_per_project(world, dims, rule):
    """A shared cluster (nobody's) split over Web and Data by their direct cost: each project's
    row shows direct + shared, the cluster leaves "no project", and the totals are unchanged."""
    from allocation.chargeback import chargeback_costs
    from allocation.selectors import chargeback_report
    from allocation.services.shared import allocation_rule_create

    rule("web", [cond("service", "in", "Compute Cloud")], project=dims.web)
    rule("data", [cond("service", "in", "Object Storage")], project=dims.data)
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Cluster",
        conditions=[cond("service", "in", "Managed Kubernetes")],
        dimension="project",
        method="direct_cost",
        targets=[dims.web.pk, dims.data.pk],
    )
    day = dt.date(2026, 1, 5)
    load(
        world.a,
        [
            focus_row(day, "Compute Cloud", "30.00", provider=ACME),
            focus_row(day, "Object Storage", "10.00", provider=ACME, resource="res-2"),
            focus_row(day, "Managed Kubernetes", "10.01", provider=ACME, resource="k8s-1"),
        ],
    )
    end = dt.date(2026, 1, 31)

    costs = chargeback_costs(world.a, JAN, end, currency="RUB", dimension="project")
    by = {(c.key.dimension, c.key.service): c for c in costs}
    # 10.01 split 30:10 -> 7.5075 / 2.5025: whole kopecks, the leftover to the larger remainder.
    assert (by["Web", "Managed Kubernetes"].direct, by["Web", "Managed Kubernetes"].shared) == (
        Decimal(0),
        Decimal("7.51"),
    )
    assert by["Data", "Managed Kubernetes"].shared == Decimal("2.50")
    assert by["Web", "Compute Cloud"].direct == Decimal("30.00")
    pool = by["", "Managed Kubernetes"]
    assert (pool.direct, pool.shared, pool.total) == (Decimal("10.01"), Decimal("-10.01"), 0)
    assert sum((c.total for c in costs), Decimal(0)) == Decimal("50.01")
    assert sum((c.direct for c in costs), Decimal(0)) == Decimal("50.01")
    assert sum((c.shared for c in costs), Decimal(0)) == 0

    report = chargeback_report(
        user=world.operator_a, tenant=world.a, start=JAN, end=end, dimension="project"
    )
    rows = {row.dimension: row for row in report.rows}
    assert (rows["Web"].direct, rows["Web"].shared, rows["Web"].provider_cost) == (
        Decimal("30.00"),
        Decimal("7.51"),
        Decimal("37.51"),
    )
    assert (rows["Data"].direct, rows["Data"].shared) == (Decimal("10.00"), Decimal("2.50"))
    assert report.total.provider_cost == Decimal("50.01")
    assert report.total.shared == 0
    assert sum((r.provider_cost for r in report.rows), Decimal(0)) == report.total.provider_cost
