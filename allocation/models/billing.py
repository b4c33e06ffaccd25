"""Chargeback for MSP clients: price books (markup or discount by provider and service, fixed
fees, custom lines, validity dates) and invoices built from them.

Provider cost and MSP margin are the MSP's business: the price books and those figures need the
MSP-only capabilities (``manage_billing``, ``view_margin``), which no customer role carries.
Customers see their invoices' customer-facing amounts (``view_costs``).

An invoice is immutable once issued: a trigger refuses any change to an issued invoice or its
lines except marking it superseded or e-mailed; a correction is a re-issue, a new version that
supersedes the old one (both kept, both audited).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel

BILLING = Capability.MANAGE_BILLING
BILLING_CAPABILITIES = {"view": BILLING, "add": BILLING, "change": BILLING, "delete": BILLING}
CURRENCY = RegexValidator(r"^[A-Z]{3}$", _("An ISO 4217 code such as RUB."))
MONEY = {"max_digits": 18, "decimal_places": 2}
RATE = {"max_digits": 9, "decimal_places": 6}


class PriceBook(TenantOwnedModel):
    """What a client tenant pays: provider cost with a markup (negative: a discount), per
    provider and service where a rule says so, plus fixed fees and custom lines, net of VAT;
    VAT at ``vat_rate`` is added on the invoice. One price book is valid at a time."""

    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="RUB",
        validators=[CURRENCY],
        help_text=_("Invoices are in this currency (provider costs are converted to it)."),
    )
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    default_markup = models.DecimalField(
        _("default markup"),
        **RATE,
        default=0,
        validators=[MinValueValidator(-1)],
        help_text=_("0.15 = +15% on provider cost; -0.05 = a 5% discount."),
    )
    vat_rate = models.DecimalField(
        _("VAT rate"),
        max_digits=6,
        decimal_places=4,
        validators=[MinValueValidator(0)],
        help_text=_("Added to the net amounts on invoices (0.22 = 22%)."),
    )
    email_to = models.CharField(
        _("send invoices to"),
        max_length=500,
        blank=True,
        help_text=_("E-mail addresses, comma-separated: the monthly invoice is sent there."),
    )
    auto_invoice = models.BooleanField(
        _("issue monthly"),
        default=False,
        help_text=_("Issue and e-mail last month's invoice on the 1st of each month."),
    )
    # The scheduled monthly run's outcome for this price book's tenant (failures are kept here
    # and in the audit log, and retried on the next run).
    last_run_at = models.DateTimeField(_("last monthly run"), null=True, blank=True, editable=False)
    last_run_error = models.TextField(_("last monthly run error"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    tenant_capabilities = BILLING_CAPABILITIES

    class Meta:
        ordering = ["tenant_id", "-valid_from", "id"]
        verbose_name = _("price book")
        verbose_name_plural = _("price books")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="pricebook_valid_range",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PriceBookRule(TenantOwnedModel):
    """A markup for one provider (and optionally one service): the most specific rule wins."""

    price_book = models.ForeignKey(
        PriceBook, on_delete=models.CASCADE, related_name="rules", verbose_name=_("price book")
    )
    provider_name = models.CharField(_("provider"), max_length=200, blank=True)
    service_name = models.CharField(_("service"), max_length=200, blank=True)
    markup = models.DecimalField(
        _("markup"), **RATE, validators=[MinValueValidator(-1)], help_text=_("0.15 = +15%.")
    )

    tenant_capabilities = BILLING_CAPABILITIES

    class Meta:
        ordering = ["price_book_id", "provider_name", "service_name"]
        verbose_name = _("price book rule")
        verbose_name_plural = _("price book rules")
        constraints = [
            models.UniqueConstraint(
                fields=["price_book", "provider_name", "service_name"],
                name="pricebookrule_unique_target",
            )
        ]

    def __str__(self) -> str:
        target = " / ".join(p for p in (self.provider_name, self.service_name) if p) or "*"
        return f"{target}: {self.markup}"


class PriceBookCharge(TenantOwnedModel):
    """A fixed fee (every month) or a custom line (one month, or every month without one)."""

    class Kind(models.TextChoices):
        FIXED_FEE = "fixed_fee", _("Fixed fee")
        CUSTOM = "custom", _("Custom line")

    price_book = models.ForeignKey(
        PriceBook, on_delete=models.CASCADE, related_name="charges", verbose_name=_("price book")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=300)
    amount = models.DecimalField(
        _("amount"), **MONEY, help_text=_("Net of VAT, in the price book's currency.")
    )
    month = models.DateField(
        _("month"),
        null=True,
        blank=True,
        help_text=_("First day of the one month it is billed in; empty: every month."),
    )

    tenant_capabilities = BILLING_CAPABILITIES

    class Meta:
        ordering = ["price_book_id", "kind", "id"]
        verbose_name = _("price book charge")
        verbose_name_plural = _("price book charges")

    def __str__(self) -> str:
        return self.description


class Invoice(TenantOwnedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        SUPERSEDED = "superseded", _("Superseded")

    number = models.CharField(_("number"), max_length=64, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"), editable=False)
    price_book = models.ForeignKey(
        PriceBook,
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("price book"),
        editable=False,
    )
    dimension = models.CharField(
        _("lines per"),
        max_length=16,
        blank=True,
        help_text=_("Split usage lines per value of this dimension (empty: per service)."),
    )
    currency = models.CharField(_("currency"), max_length=3, editable=False)
    provider_cost = models.DecimalField(_("provider cost"), **MONEY, default=0, editable=False)
    margin = models.DecimalField(_("margin"), **MONEY, default=0, editable=False)
    net_amount = models.DecimalField(_("amount"), **MONEY, default=0, editable=False)
    vat_rate = models.DecimalField(
        _("VAT rate"), max_digits=6, decimal_places=4, default=0, editable=False
    )
    vat_amount = models.DecimalField(_("VAT"), **MONEY, default=0, editable=False)
    total_amount = models.DecimalField(_("total"), **MONEY, default=0, editable=False)
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        editable=False,
        verbose_name=_("supersedes"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True, editable=False)

    tenant_capabilities = {
        "view": Capability.VIEW_COSTS,
        "add": BILLING,
        "change": BILLING,
        "delete": BILLING,
    }
    # Totals over every project: hidden from members limited to some dimension values.
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return Q(pk__in=[])

    class Meta:
        ordering = ["-period_start", "-version", "-id"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period_start", "version"], name="invoice_unique_version"
            ),
            # One live (draft or issued) invoice per tenant and month.
            models.UniqueConstraint(
                fields=["tenant", "period_start"],
                condition=~Q(status="superseded"),
                name="invoice_one_live_per_period",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_issued(self) -> bool:
        return self.status != self.Status.DRAFT


class InvoiceLine(TenantOwnedModel):
    class Kind(models.TextChoices):
        USAGE = "usage", _("Usage")
        SHARED = "shared", _("Shared costs")
        FIXED_FEE = "fixed_fee", _("Fixed fee")
        CUSTOM = "custom", _("Custom line")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    position = models.PositiveIntegerField(_("line"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=400)
    provider_name = models.CharField(_("provider"), max_length=200, blank=True)
    service_name = models.CharField(_("service"), max_length=200, blank=True)
    dimension_value_id = models.BigIntegerField(_("dimension value id"), null=True, blank=True)
    dimension_value = models.CharField(_("dimension value"), max_length=200, blank=True)
    markup = models.DecimalField(_("markup"), **RATE, default=0)
    provider_cost = models.DecimalField(_("provider cost"), **MONEY, default=0)
    margin = models.DecimalField(_("margin"), **MONEY, default=0)
    amount = models.DecimalField(_("amount"), **MONEY)
    vat_amount = models.DecimalField(_("VAT"), **MONEY, default=0)
    total = models.DecimalField(_("total"), **MONEY)

    tenant_capabilities = {"view": Capability.VIEW_COSTS}
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return Q(pk__in=[])

    class Meta:
        ordering = ["invoice_id", "position"]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoiceline_position")
        ]

    def __str__(self) -> str:
        return self.description
