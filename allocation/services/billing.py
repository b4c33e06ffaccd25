"""Price books and invoices (chargeback for MSP clients). Every write needs ``manage_billing``
on the client tenant: an MSP capability no customer role has.

Invoices: ``invoice_generate`` builds (or rebuilds) the month's draft from the costs and the
price book valid for that month; ``invoice_issue`` freezes it (the database refuses later
changes); ``invoice_reissue`` replaces an issued invoice by a new version built from today's
data (the old one is kept, marked superseded); ``invoice_email`` sends the customer-facing
invoice (CSV and PDF, no provider cost or margin) to the price book's addresses.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from allocation import chargeback
from allocation.models import (
    DIMENSION_MODELS,
    Invoice,
    InvoiceLine,
    PriceBook,
    PriceBookCharge,
    PriceBookRule,
)
from core.audit import record_event, snapshot
from core.capabilities import Capability
from core.services.guards import require_capability

BOOK_FIELDS = (
    "name",
    "currency",
    "valid_from",
    "valid_to",
    "default_markup",
    "vat_rate",
    "email_to",
    "auto_invoice",
)
RULE_FIELDS = ("provider_name", "service_name", "markup")
CHARGE_FIELDS = ("kind", "description", "amount", "month")
INVOICE_FIELDS = (
    "number",
    "version",
    "status",
    "period_start",
    "period_end",
    "price_book_id",
    "dimension",
    "currency",
    "provider_cost",
    "margin",
    "net_amount",
    "vat_rate",
    "vat_amount",
    "total_amount",
    "supersedes_id",
    "reason",
)


def _require_billing(actor, tenant) -> None:
    require_capability(actor, Capability.MANAGE_BILLING, tenant)


def _unknown(changes: dict, allowed) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})


# --- price books -----------------------------------------------------------------------------
def _check_overlap(book: PriceBook) -> None:
    """One price book valid at a time per tenant (the invoice must know which one applies)."""
    far = dt.date.max
    others = PriceBook.objects.filter(tenant_id=book.tenant_id).exclude(pk=book.pk)
    overlapping = others.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=book.valid_from),
        valid_from__lte=book.valid_to or far,
    ).first()
    if overlapping is not None:
        raise ValidationError(
            {
                "valid_from": [
                    _("%(name)s is valid in part of this period; end it first.")
                    % {"name": overlapping.name}
                ]
            }
        )


def _lock_books(tenant_id: int) -> None:
    from core.models import Tenant

    # Serialises price book changes of one tenant so the overlap check holds.
    Tenant.objects.select_for_update().filter(pk=tenant_id).values("pk").first()


@transaction.atomic
def price_book_create(
    *,
    actor,
    tenant,
    name: str,
    valid_from: dt.date,
    vat_rate: Decimal,
    currency: str = "RUB",
    valid_to: dt.date | None = None,
    default_markup: Decimal = Decimal(0),
    email_to: str = "",
    auto_invoice: bool = False,
) -> PriceBook:
    _require_billing(actor, tenant)
    _lock_books(tenant.pk)
    book = PriceBook(
        tenant=tenant,
        name=name.strip(),
        currency=(currency or "").upper(),
        valid_from=valid_from,
        valid_to=valid_to,
        default_markup=default_markup,
        vat_rate=vat_rate,
        email_to=email_to or "",
        auto_invoice=auto_invoice,
    )
    _clean_book(book)
    book.save()
    record_event(
        event_type="allocation.price_book_created",
        actor=actor,
        tenant=tenant,
        target=book,
        after=snapshot(book, BOOK_FIELDS),
    )
    return book


def _clean_book(book: PriceBook) -> None:
    book.full_clean()
    errors = {}
    if book.valid_to and book.valid_to < book.valid_from:
        errors["valid_to"] = [_("valid to must not be before valid from.")]
    addresses = [a.strip() for a in re.split(r"[,;]", book.email_to) if a.strip()]
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            errors["email_to"] = [_("Not an e-mail address: %(a)s") % {"a": address}]
            break
    if book.auto_invoice and not addresses:
        errors["email_to"] = [_("Give an address to send the monthly invoice to.")]
    if errors:
        raise ValidationError(errors)
    _check_overlap(book)


@transaction.atomic
def price_book_update(*, actor, price_book: PriceBook, **changes) -> PriceBook:
    _unknown(changes, BOOK_FIELDS)
    _require_billing(actor, price_book.tenant)
    _lock_books(price_book.tenant_id)
    book = PriceBook.objects.select_for_update().get(pk=price_book.pk)
    before = snapshot(book, BOOK_FIELDS)
    for name, value in changes.items():
        setattr(book, name, value.upper() if name == "currency" and value else value)
    _clean_book(book)
    book.save()
    record_event(
        event_type="allocation.price_book_updated",
        actor=actor,
        tenant=book.tenant,
        target=book,
        before=before,
        after=snapshot(book, BOOK_FIELDS),
    )
    return book


@transaction.atomic
def price_book_delete(*, actor, price_book: PriceBook) -> None:
    _require_billing(actor, price_book.tenant)
    if price_book.invoices.exists():
        raise ValidationError(
            _("%(name)s was used for invoices: end its validity instead of deleting it.")
            % {"name": price_book.name}
        )
    record_event(
        event_type="allocation.price_book_deleted",
        actor=actor,
        tenant=price_book.tenant,
        target=price_book,
        before=snapshot(price_book, BOOK_FIELDS),
    )
    price_book.delete()


def _check_book(price_book, tenant) -> None:
    if price_book.tenant_id != tenant.pk:
        raise ValidationError({"price_book": [_("Choose a price book of this tenant.")]})


@transaction.atomic
def price_book_rule_create(
    *,
    actor,
    price_book: PriceBook,
    markup: Decimal,
    provider_name: str = "",
    service_name: str = "",
) -> PriceBookRule:
    tenant = price_book.tenant
    _require_billing(actor, tenant)
    rule = PriceBookRule(
        tenant=tenant,
        price_book=price_book,
        provider_name=(provider_name or "").strip(),
        service_name=(service_name or "").strip(),
        markup=markup,
    )
    if rule.service_name and not rule.provider_name:
        raise ValidationError({"provider_name": [_("Name the provider of the service.")]})
    rule.full_clean()
    rule.save()
    record_event(
        event_type="allocation.price_book_rule_created",
        actor=actor,
        tenant=tenant,
        target=rule,
        after=snapshot(rule, ["price_book_id", *RULE_FIELDS]),
    )
    return rule


@transaction.atomic
def price_book_rule_update(*, actor, rule: PriceBookRule, **changes) -> PriceBookRule:
    _unknown(changes, RULE_FIELDS)
    _require_billing(actor, rule.tenant)
    row = PriceBookRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(row, RULE_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value.strip() if isinstance(value, str) else value)
    if row.service_name and not row.provider_name:
        raise ValidationError({"provider_name": [_("Name the provider of the service.")]})
    row.full_clean()
    row.save()
    record_event(
        event_type="allocation.price_book_rule_updated",
        actor=actor,
        tenant=row.tenant,
        target=row,
        before=before,
        after=snapshot(row, RULE_FIELDS),
    )
    return row


@transaction.atomic
def price_book_rule_delete(*, actor, rule: PriceBookRule) -> None:
    _require_billing(actor, rule.tenant)
    record_event(
        event_type="allocation.price_book_rule_deleted",
        actor=actor,
        tenant=rule.tenant,
        target=rule,
        before=snapshot(rule, ["price_book_id", *RULE_FIELDS]),
    )
    rule.delete()


def _month(value) -> dt.date | None:
    if value is None:
        return None
    if value.day != 1:
        raise ValidationError({"month": [_("Give the first day of the month.")]})
    return value


@transaction.atomic
def price_book_charge_create(
    *,
    actor,
    price_book: PriceBook,
    kind: str,
    description: str,
    amount: Decimal,
    month: dt.date | None = None,
) -> PriceBookCharge:
    tenant = price_book.tenant
    _require_billing(actor, tenant)
    charge = PriceBookCharge(
        tenant=tenant,
        price_book=price_book,
        kind=kind,
        description=(description or "").strip(),
        amount=amount,
        month=_month(month),
    )
    charge.full_clean()
    charge.save()
    record_event(
        event_type="allocation.price_book_charge_created",
        actor=actor,
        tenant=tenant,
        target=charge,
        after=snapshot(charge, ["price_book_id", *CHARGE_FIELDS]),
    )
    return charge


@transaction.atomic
def price_book_charge_update(*, actor, charge: PriceBookCharge, **changes) -> PriceBookCharge:
    _unknown(changes, CHARGE_FIELDS)
    _require_billing(actor, charge.tenant)
    row = PriceBookCharge.objects.select_for_update().get(pk=charge.pk)
    before = snapshot(row, CHARGE_FIELDS)
    for name, value in changes.items():
        setattr(row, name, _month(value) if name == "month" else value)
    row.full_clean()
    row.save()
    record_event(
        event_type="allocation.price_book_charge_updated",
        actor=actor,
        tenant=row.tenant,
        target=row,
        before=before,
        after=snapshot(row, CHARGE_FIELDS),
    )
    return row


@transaction.atomic
def price_book_charge_delete(*, actor, charge: PriceBookCharge) -> None:
    _require_billing(actor, charge.tenant)
    record_event(
        event_type="allocation.price_book_charge_deleted",
        actor=actor,
        tenant=charge.tenant,
        target=charge,
        before=snapshot(charge, ["price_book_id", *CHARGE_FIELDS]),
    )
    charge.delete()


# --- invoices --------------------------------------------------------------------------------
def month_bounds(period_start: dt.date) -> tuple[dt.date, dt.date]:
    if period_start.day != 1:
        raise ValidationError({"period_start": [_("Give the first day of the month.")]})
    following = (period_start + dt.timedelta(days=32)).replace(day=1)
    return period_start, following - dt.timedelta(days=1)


def price_book_for(tenant, start: dt.date, end: dt.date) -> PriceBook:
    book = (
        PriceBook.objects.filter(tenant=tenant, valid_from__lte=start)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=end))
        .first()
    )
    if book is None:
        raise ValidationError(
            {
                "period_start": [
                    _("No price book of %(tenant)s is valid for the whole of %(month)s.")
                    % {"tenant": tenant, "month": start.strftime("%Y-%m")}
                ]
            }
        )
    return book


def _compute(tenant, book: PriceBook, start: dt.date, end: dt.date, dimension: str):
    from providers.costs.query import QueryError

    try:
        costs = chargeback.chargeback_costs(
            tenant, start, end, currency=book.currency, dimension=dimension or None
        )
    except QueryError as exc:
        raise ValidationError({exc.param or "period_start": [str(exc)]}) from None
    rules = list(book.rules.all())
    lines = chargeback.usage_lines(costs, rules, book.default_markup)
    charges = book.charges.filter(Q(month__isnull=True) | Q(month=start)).order_by("kind", "id")
    lines += chargeback.charge_lines(charges)
    return chargeback.finish(lines, currency=book.currency, vat_rate=book.vat_rate)


def _write(invoice: Invoice, totals) -> None:
    invoice.provider_cost = totals.provider_cost
    invoice.margin = totals.margin
    invoice.net_amount = totals.amount
    invoice.vat_amount = totals.vat_amount
    invoice.total_amount = totals.total
    invoice.save()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            tenant_id=invoice.tenant_id,
            invoice=invoice,
            position=position,
            kind=line.kind,
            description=line.description[:400],
            provider_name=line.provider_name,
            service_name=line.service_name,
            dimension_value_id=line.dimension_value_id,
            dimension_value=line.dimension_value[:200],
            markup=line.markup,
            provider_cost=line.provider_cost,
            margin=line.margin,
            amount=line.amount,
            vat_amount=line.vat_amount,
            total=line.total,
        )
        for position, line in enumerate(totals.lines, start=1)
    )


def _number(tenant, start: dt.date, version: int) -> str:
    base = f"{tenant.slug.upper()}-{start:%Y%m}"
    return base if version == 1 else f"{base}-v{version}"


def _check_dimension(dimension: str) -> str:
    dimension = dimension or ""
    if dimension and dimension not in DIMENSION_MODELS:
        raise ValidationError(
            {"dimension": [_("Choose one of: %(k)s.") % {"k": ", ".join(DIMENSION_MODELS)}]}
        )
    return dimension


@transaction.atomic
def invoice_generate(*, actor, tenant, period_start: dt.date, dimension: str = "") -> Invoice:
    """The month's draft, built now from costs and the price book valid for the whole month
    (an existing draft is rebuilt; an issued invoice must be re-issued instead)."""
    _require_billing(actor, tenant)
    start, end = month_bounds(period_start)
    dimension = _check_dimension(dimension)
    _lock_books(tenant.pk)
    live = Invoice.objects.filter(tenant=tenant, period_start=start).exclude(
        status=Invoice.Status.SUPERSEDED
    )
    current = live.first()
    if current is not None and current.status == Invoice.Status.ISSUED:
        raise ValidationError(
            {"period_start": [_("%(n)s is issued: re-issue it instead.") % {"n": current.number}]}
        )
    book = price_book_for(tenant, start, end)
    totals = _compute(tenant, book, start, end, dimension)
    versions = Invoice.objects.filter(tenant=tenant, period_start=start)
    if current is not None:
        version, supersedes = current.version, current.supersedes
        current.delete()  # a draft: rebuilt from scratch
    else:
        version = (versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        supersedes = None
    invoice = Invoice(
        tenant=tenant,
        number=_number(tenant, start, version),
        version=version,
        period_start=start,
        period_end=end,
        price_book=book,
        dimension=dimension,
        currency=book.currency,
        vat_rate=book.vat_rate,
        supersedes=supersedes,
    )
    _write(invoice, totals)
    record_event(
        event_type="allocation.invoice_generated",
        actor=actor,
        tenant=tenant,
        target=invoice,
        after=snapshot(invoice, INVOICE_FIELDS),
        extra={"lines": len(totals.lines)},
    )
    return invoice


def _mark_issued(invoice: Invoice, actor) -> None:
    invoice.status = Invoice.Status.ISSUED
    invoice.issued_at = timezone.now()
    invoice.issued_by = actor


@transaction.atomic
def invoice_issue(*, actor, invoice: Invoice) -> Invoice:
    """Freeze a draft: from now on neither it nor its lines can change (the database refuses)."""
    _require_billing(actor, invoice.tenant)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        raise ValidationError({"status": [_("Only a draft can be issued.")]})
    _mark_issued(invoice, actor)
    invoice.save(update_fields=["status", "issued_at", "issued_by"])
    record_event(
        event_type="allocation.invoice_issued",
        actor=actor,
        tenant=invoice.tenant,
        target=invoice,
        after=snapshot(invoice, INVOICE_FIELDS),
    )
    return invoice


@transaction.atomic
def invoice_reissue(*, actor, invoice: Invoice, reason: str) -> Invoice:
    """A new issued version built from today's costs and price book; the old one is kept and
    marked superseded."""
    tenant = invoice.tenant
    _require_billing(actor, tenant)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the invoice is re-issued.")]})
    _lock_books(tenant.pk)
    old = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if old.status != Invoice.Status.ISSUED:
        raise ValidationError({"status": [_("Only an issued invoice can be re-issued.")]})
    book = price_book_for(tenant, old.period_start, old.period_end)
    totals = _compute(tenant, book, old.period_start, old.period_end, old.dimension)
    old.status = Invoice.Status.SUPERSEDED
    old.save(update_fields=["status"])
    version = (
        Invoice.objects.filter(tenant=tenant, period_start=old.period_start)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
        + 1
    )
    new = Invoice(
        tenant=tenant,
        number=_number(tenant, old.period_start, version),
        version=version,
        period_start=old.period_start,
        period_end=old.period_end,
        price_book=book,
        dimension=old.dimension,
        currency=book.currency,
        vat_rate=book.vat_rate,
        supersedes=old,
        reason=reason.strip()[:300],
    )
    _write(new, totals)  # lines go in while it is a draft, then it is issued
    _mark_issued(new, actor)
    new.save(update_fields=["status", "issued_at", "issued_by"])
    record_event(
        event_type="allocation.invoice_reissued",
        actor=actor,
        tenant=tenant,
        target=new,
        before=snapshot(old, INVOICE_FIELDS),
        after=snapshot(new, INVOICE_FIELDS),
    )
    return new


@transaction.atomic
def invoice_delete(*, actor, invoice: Invoice) -> None:
    _require_billing(actor, invoice.tenant)
    if invoice.status != Invoice.Status.DRAFT:
        raise ValidationError({"status": [_("An issued invoice cannot be deleted; re-issue it.")]})
    record_event(
        event_type="allocation.invoice_deleted",
        actor=actor,
        tenant=invoice.tenant,
        target=invoice,
        before=snapshot(invoice, INVOICE_FIELDS),
    )
    invoice.delete()


def _addresses(book: PriceBook) -> list[str]:
    return [a.strip() for a in re.split(r"[,;]", book.email_to) if a.strip()]


@transaction.atomic
def invoice_email(*, actor, invoice: Invoice) -> Invoice:
    """Send the customer-facing invoice (PDF and CSV, without provider cost or margin) to the
    price book's addresses; records when."""
    from allocation import exports

    tenant = invoice.tenant
    _require_billing(actor, tenant)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.ISSUED:
        raise ValidationError({"status": [_("Only an issued invoice is sent.")]})
    to = _addresses(invoice.price_book)
    if not to:
        raise ValidationError({"email_to": [_("The price book has no address to send to.")]})
    message = EmailMessage(
        subject=_("Invoice %(n)s for %(month)s")
        % {"n": invoice.number, "month": invoice.period_start.strftime("%Y-%m")},
        body=_(
            "Please find attached invoice %(n)s for %(tenant)s: %(total)s %(currency)s "
            "including VAT."
        )
        % {
            "n": invoice.number,
            "tenant": tenant.name,
            "total": invoice.total_amount,
            "currency": invoice.currency,
        },
        to=to,
    )
    csv_name, csv_type, csv_data = exports.render(invoice, "csv", internal=False)
    message.attach(csv_name, csv_data, csv_type)
    pdf_name, pdf_type, pdf_data = exports.render(invoice, "pdf", internal=False)
    message.attach(pdf_name, pdf_data, pdf_type)
    message.send()
    invoice.emailed_at = timezone.now()
    invoice.save(update_fields=["emailed_at"])
    record_event(
        event_type="allocation.invoice_emailed",
        actor=actor,
        tenant=tenant,
        target=invoice,
        extra={"to": to},
    )
    return invoice


def invoices_monthly_run(today: dt.date | None = None) -> list[dict]:
    """For every price book with ``auto_invoice`` valid for last month: generate, issue and
    e-mail last month's invoice unless one is already issued (safe to run again). A tenant's
    failure is kept on its price book and does not stop the others."""
    today = today or timezone.now().date()
    start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    start, end = month_bounds(start)
    books = (
        PriceBook.objects.filter(auto_invoice=True, valid_from__lte=start)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=end))
        .select_related("tenant")
    )
    results = []
    for book in books:
        tenant = book.tenant
        try:
            issued = Invoice.objects.filter(
                tenant=tenant, period_start=start, status=Invoice.Status.ISSUED
            ).first()
            if issued is None:
                draft = invoice_generate(actor=None, tenant=tenant, period_start=start)
                issued = invoice_issue(actor=None, invoice=draft)
            if issued.emailed_at is None:
                invoice_email(actor=None, invoice=issued)
        except (ValidationError, OSError) as exc:
            error = " ".join(getattr(exc, "messages", [str(exc)]))[:2000]
            PriceBook.objects.filter(pk=book.pk).update(
                last_run_at=timezone.now(), last_run_error=error
            )
            results.append({"tenant": tenant.pk, "status": "failed", "error": error})
            continue
        PriceBook.objects.filter(pk=book.pk).update(last_run_at=timezone.now(), last_run_error="")
        results.append({"tenant": tenant.pk, "status": "issued", "invoice": issued.number})
    return results
