"""Chargeback pages: the month's chargeback per dimension, the tenant's invoices (download,
and for MSP operators build, issue, re-issue, e-mail) and price books (MSP operators only).

Customers see customer-facing amounts; provider cost and margin need ``view_margin``, price
books and invoice actions ``manage_billing`` (MSP-only capabilities)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from allocation import exports
from allocation.models import Invoice, PriceBook, PriceBookCharge
from allocation.portal.common import error_text, month_end, month_start, months, selected_month
from allocation.portal.forms import KIND_LABELS
from allocation.selectors import can_view_margin, chargeback_report, invoices_for
from allocation.services.billing import (
    invoice_email,
    invoice_generate,
    invoice_issue,
    invoice_reissue,
    price_book_charge_create,
    price_book_create,
    price_book_rule_create,
)
from core.capabilities import Capability
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_can, portal_view

BILLING = Capability.MANAGE_BILLING


class PriceBookForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=200)
    currency = forms.CharField(label=_lazy("Currency"), max_length=3, initial="RUB")
    valid_from = forms.DateField(label=_lazy("Valid from"))
    valid_to = forms.DateField(label=_lazy("Valid to"), required=False)
    default_markup = forms.DecimalField(label=_lazy("Markup (0.15 = 15%)"), initial=0)
    vat_rate = forms.DecimalField(label=_lazy("VAT rate (0.22 = 22%)"))
    email_to = forms.CharField(label=_lazy("Send invoices to"), max_length=500, required=False)
    auto_invoice = forms.BooleanField(label=_lazy("Issue monthly"), required=False)


class RuleForm(forms.Form):
    provider_name = forms.CharField(label=_lazy("Provider"), max_length=200)
    service_name = forms.CharField(
        label=_lazy("Service (optional)"), max_length=200, required=False
    )
    markup = forms.DecimalField(label=_lazy("Markup"))


class ChargeForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("Kind"), choices=PriceBookCharge.Kind.choices)
    description = forms.CharField(label=_lazy("Description"), max_length=300)
    amount = forms.DecimalField(label=_lazy("Amount (net)"), max_digits=18, decimal_places=2)
    month = forms.DateField(label=_lazy("Month (first day; empty: every month)"), required=False)


def _invoices(request):
    queryset = Invoice.objects.for_user(request.user, "view").for_tenant(request.portal_tenant)
    return invoices_for(request.user, queryset)


@portal_view
def chargeback(request):
    tenant, user = request.portal_tenant, request.user
    month = selected_month(request.GET.get("month"), tenant)
    dimension = request.GET.get("by") or ""
    if dimension not in KIND_LABELS:
        dimension = ""
    report, error = None, None
    if portal_can(request, Capability.VIEW_COSTS):
        try:
            report = chargeback_report(
                user=user,
                tenant=tenant,
                start=month,
                end=month_end(month),
                dimension=dimension or None,
            )
        except (ValidationError, PermissionDenied, ValueError) as exc:
            error = error_text(exc)
    context = {
        "month": month,
        "months": months(max(month_start(tenant), month)),
        "dimension": dimension,
        "groupings": list(KIND_LABELS.items()),
        "report": report,
        "error": error,
        "margin": can_view_margin(user, tenant),
        "billing": portal_can(request, BILLING),
        "invoices": _invoices(request).select_related("supersedes")[:60],
    }
    return render(request, "portal/allocation/chargeback.html", context)


def _invoice(request, pk):
    return get_object_or_404(_invoices(request), pk=pk)


@portal_view
def invoice_detail(request, pk: int):
    invoice = _invoice(request, pk)
    return render(
        request,
        "portal/allocation/invoice.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.order_by("position"),
            "margin": can_view_margin(request.user, invoice.tenant),
            "billing": portal_can(request, BILLING),
            "formats": exports.FORMATS,
        },
    )


@portal_view
def invoice_download(request, pk: int):
    invoice = _invoice(request, pk)
    fmt = request.GET.get("file_type") or "csv"
    if fmt not in exports.FORMATS:
        raise Http404
    internal = request.GET.get("audience") == "internal"
    if internal and not can_view_margin(request.user, invoice.tenant):
        raise PermissionDenied
    name, content_type, content = exports.render(invoice, fmt, internal=internal)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _back(request, invoice=None):
    if invoice is not None:
        return redirect(reverse("portal:allocation_invoice", kwargs={"pk": invoice.pk}))
    return redirect(reverse("portal:allocation_chargeback"))


@require_POST
@portal_view
def invoice_generate_view(request):
    try:
        month = dt.datetime.strptime(request.POST.get("month") or "", "%Y-%m").date()
    except ValueError:
        messages.error(request, _("Choose a month."))
        return _back(request)
    try:
        invoice = invoice_generate(
            actor=request.user,
            tenant=request.portal_tenant,
            period_start=month,
            dimension=request.POST.get("by") or "",
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return _back(request)
    messages.success(request, _("Draft %(n)s is ready.") % {"n": invoice.number})
    return _back(request, invoice)


def _act(request, pk, act, done: str):
    invoice = _invoice(request, pk)
    try:
        result = act(invoice)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return _back(request, invoice)
    messages.success(request, done % {"n": result.number})
    return _back(request, result)


@require_POST
@portal_view
def invoice_issue_view(request, pk: int):
    return _act(
        request, pk, lambda i: invoice_issue(actor=request.user, invoice=i), _("%(n)s is issued.")
    )


@require_POST
@portal_view
def invoice_reissue_view(request, pk: int):
    reason = request.POST.get("reason") or ""
    return _act(
        request,
        pk,
        lambda i: invoice_reissue(actor=request.user, invoice=i, reason=reason),
        _("%(n)s is issued in place of the previous version."),
    )


@require_POST
@portal_view
def invoice_email_view(request, pk: int):
    return _act(
        request, pk, lambda i: invoice_email(actor=request.user, invoice=i), _("%(n)s is sent.")
    )


# --- price books (MSP operators) -------------------------------------------------------------
def _books(request):
    return PriceBook.objects.for_user(request.user, "view").for_tenant(request.portal_tenant)


@portal_view
def price_books(request):
    return _books_page(request)


def _books_page(request, *, form=None, status=200):
    billing = portal_can(request, BILLING)
    books = list(_books(request).prefetch_related("rules", "charges")) if billing else []
    return render(
        request,
        "portal/allocation/price_books.html",
        {
            "billing": billing,
            "books": books,
            "form": form or (PriceBookForm() if billing else None),
            "rule_form": RuleForm(prefix="rule"),
            "charge_form": ChargeForm(prefix="charge"),
        },
        status=status,
    )


@require_POST
@portal_view
def price_books_add(request):
    form = PriceBookForm(request.POST)
    if form.is_valid():
        try:
            book = price_book_create(
                actor=request.user, tenant=request.portal_tenant, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("%(row)s is added.") % {"row": book})
            return redirect(reverse("portal:allocation_price_books"))
    return _books_page(request, form=form, status=400)


def _add_part(request, pk, form_class, prefix, service):
    book = get_object_or_404(_books(request), pk=pk)
    form = form_class(request.POST, prefix=prefix)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    else:
        try:
            row = service(actor=request.user, price_book=book, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("%(row)s is added.") % {"row": row})
    return redirect(reverse("portal:allocation_price_books"))


@require_POST
@portal_view
def price_book_rule_add(request, pk: int):
    return _add_part(request, pk, RuleForm, "rule", price_book_rule_create)


@require_POST
@portal_view
def price_book_charge_add(request, pk: int):
    return _add_part(request, pk, ChargeForm, "charge", price_book_charge_create)
