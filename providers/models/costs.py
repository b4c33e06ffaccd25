"""Cost data in FOCUS 1.2 form: line items, the imports that load them, and daily rollups.

``CostLineItem`` has one field per FOCUS 1.2 column (snake_case of the FOCUS name) plus ``x_``
extensions. Money is NUMERIC and read as ``Decimal``, always with its currency beside it. The table
is partitioned by month on ``charge_period_start`` and created in SQL (see the migration): its real
primary key is ``(id, charge_period_start)``, while Django's state keeps a single ``id`` because
the admin cannot register composite keys. The SQL columns are plain ``numeric`` (exact, any scale)
and ``text``; rows arrive by COPY, never through ORM saves.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel

# Django needs a precision for DecimalField; the database column is unconstrained numeric.
MONEY = {"max_digits": 38, "decimal_places": 18}
COST_CAPABILITIES = {"view": Capability.VIEW_COSTS}
# Members limited to some dimension values see only the cost rows of those values
# (core.dimensions); the allocation engine fills these columns.
DIMENSION_COLUMNS = {
    "business_unit": "x_business_unit_id",
    "project": "x_project_id",
    "feature": "x_feature_id",
    "environment": "x_environment_id",
    "cost_center": "x_cost_center_id",
}


class ImportRun(TenantOwnedModel):
    """One load of cost data from one source for one period (all rows of that pair replaced)."""

    class Source(models.TextChoices):
        FOCUS_FILE = "focus_file", _("FOCUS file")
        FOCUS_BUCKET = "focus_bucket", _("FOCUS files in a bucket")
        YANDEX_BILLING = "yandex_billing", _("Yandex Cloud billing export")
        PROVIDER_API = "provider_api", _("Provider cost API")
        PROVIDER_FILE = "provider_file", _("Provider cost file")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (duplicate file)")

    class BadRowPolicy(models.TextChoices):
        REJECT_FILE = "reject_file", _("Reject the file if any row is bad")
        SKIP_ROWS = "skip_rows", _("Skip bad rows, load the rest")

    source = models.CharField(_("source"), max_length=32, choices=Source.choices)
    # Identifies what a re-import replaces: e.g. "focus:<tenant upload name>" or "yc:<conn id>".
    source_key = models.CharField(_("source key"), max_length=255)
    connection = models.ForeignKey(
        "providers.Connection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="import_runs",
    )
    period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    file_name = models.CharField(_("file"), max_length=500, blank=True)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, blank=True, db_index=True)
    file_size = models.BigIntegerField(_("file size"), null=True, blank=True)
    focus_version = models.CharField(_("FOCUS version"), max_length=8, blank=True)
    policy = models.CharField(
        _("bad-row policy"),
        max_length=16,
        choices=BadRowPolicy.choices,
        default=BadRowPolicy.REJECT_FILE,
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    rows_read = models.BigIntegerField(_("rows read"), default=0)
    rows_loaded = models.BigIntegerField(_("rows loaded"), default=0)
    rows_rejected = models.BigIntegerField(_("rows rejected"), default=0)
    rows_replaced = models.BigIntegerField(_("rows replaced"), default=0)
    # {currency: {"billed_cost": "…", "effective_cost": "…"}} of what was loaded (Decimal strings).
    totals = models.JSONField(_("totals"), default=dict, blank=True)
    warnings = models.JSONField(_("warnings"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=dict, blank=True)
    error = models.TextField(_("failure reason"), blank=True)
    progress = models.JSONField(_("progress"), default=dict, blank=True)
    # A queued upload's stored copy (relative to MEDIA_ROOT) until a worker has dealt with it, and
    # how many times a worker took the run up (a worker that died mid-import leaves it running).
    stored_file = models.CharField(max_length=500, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    tenant_capabilities = {
        "view": Capability.VIEW_COSTS,
        "add": Capability.MANAGE_CONNECTIONS,
    }
    # Its totals are the whole tenant's: hidden from members limited to some dimension values.
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return models.Q(pk__in=[])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("cost import")
        verbose_name_plural = _("cost imports")
        indexes = [models.Index(fields=["tenant", "source_key", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.file_name or self.source_key} ({self.status})"


class CostLineItem(TenantOwnedModel):
    """One FOCUS row. Field names are the FOCUS column names in snake_case."""

    # FOCUS 1.3: split cost allocation (null unless the row is a split of a shared charge).
    allocated_method_details = models.JSONField(null=True, blank=True)
    allocated_method_id = models.TextField(null=True, blank=True)
    allocated_resource_id = models.TextField(null=True, blank=True)
    allocated_resource_name = models.TextField(null=True, blank=True)
    allocated_tags = models.JSONField(null=True, blank=True)
    availability_zone = models.TextField(null=True, blank=True)
    billed_cost = models.DecimalField(**MONEY)
    billing_account_id = models.TextField(null=True, blank=True)
    billing_account_name = models.TextField(null=True, blank=True)
    billing_account_type = models.TextField(null=True, blank=True)
    billing_currency = models.CharField(max_length=3)
    billing_period_end = models.DateTimeField(null=True, blank=True)
    billing_period_start = models.DateTimeField(null=True, blank=True)
    capacity_reservation_id = models.TextField(null=True, blank=True)
    capacity_reservation_status = models.TextField(null=True, blank=True)
    charge_category = models.TextField(null=True, blank=True)
    charge_class = models.TextField(null=True, blank=True)
    charge_description = models.TextField(null=True, blank=True)
    charge_frequency = models.TextField(null=True, blank=True)
    charge_period_end = models.DateTimeField(null=True, blank=True)
    charge_period_start = models.DateTimeField()
    commitment_discount_category = models.TextField(null=True, blank=True)
    commitment_discount_id = models.TextField(null=True, blank=True)
    commitment_discount_name = models.TextField(null=True, blank=True)
    commitment_discount_quantity = models.DecimalField(**MONEY, null=True, blank=True)
    commitment_discount_status = models.TextField(null=True, blank=True)
    commitment_discount_type = models.TextField(null=True, blank=True)
    commitment_discount_unit = models.TextField(null=True, blank=True)
    consumed_quantity = models.DecimalField(**MONEY, null=True, blank=True)
    consumed_unit = models.TextField(null=True, blank=True)
    contract_applied = models.JSONField(null=True, blank=True)  # FOCUS 1.3
    contracted_cost = models.DecimalField(**MONEY, null=True, blank=True)
    contracted_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    effective_cost = models.DecimalField(**MONEY, null=True, blank=True)
    host_provider_name = models.TextField(null=True, blank=True)  # FOCUS 1.3
    invoice_id = models.TextField(null=True, blank=True)
    invoice_issuer_name = models.TextField(null=True, blank=True)
    list_cost = models.DecimalField(**MONEY, null=True, blank=True)
    list_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_category = models.TextField(null=True, blank=True)
    pricing_currency = models.CharField(max_length=3, null=True, blank=True)
    pricing_currency_contracted_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_currency_effective_cost = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_currency_list_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_quantity = models.DecimalField(**MONEY, null=True, blank=True)
    pricing_unit = models.TextField(null=True, blank=True)
    provider_name = models.TextField(null=True, blank=True)
    publisher_name = models.TextField(null=True, blank=True)
    region_id = models.TextField(null=True, blank=True)
    region_name = models.TextField(null=True, blank=True)
    resource_id = models.TextField(null=True, blank=True)
    resource_name = models.TextField(null=True, blank=True)
    resource_type = models.TextField(null=True, blank=True)
    service_category = models.TextField(null=True, blank=True)
    service_name = models.TextField(null=True, blank=True)
    # FOCUS 1.3's ServiceProviderName; null for rows of 1.0-1.2 files (ProviderName has it).
    service_provider_name = models.TextField(null=True, blank=True)
    service_subcategory = models.TextField(null=True, blank=True)
    sku_id = models.TextField(null=True, blank=True)
    sku_meter = models.TextField(null=True, blank=True)
    sku_price_details = models.JSONField(null=True, blank=True)
    sku_price_id = models.TextField(null=True, blank=True)
    sub_account_id = models.TextField(null=True, blank=True)
    sub_account_name = models.TextField(null=True, blank=True)
    sub_account_type = models.TextField(null=True, blank=True)
    tags = models.JSONField(null=True, blank=True)

    # --- x_ extensions ---------------------------------------------------------------------
    x_connection = models.ForeignKey(
        "providers.Connection",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    x_import_run = models.ForeignKey(
        ImportRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    x_source_key = models.CharField(max_length=255)
    x_resource = models.ForeignKey(
        "providers.Resource",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # Provider-specific credit breakdown, e.g. Yandex {"monetary_grant": "-1.20", "cud": "…"}.
    x_credits = models.JSONField(null=True, blank=True)
    x_vat_rate = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    x_vat_amount = models.DecimalField(**MONEY, null=True, blank=True)
    # Other x_ (and normalised unprefixed) columns of the source file, kept for export.
    x_extensions = models.JSONField(null=True, blank=True)
    # Computed by us (inventory x a price list), not billed by the provider: a dimension of the
    # rollups and the cost query, which leaves estimates out unless asked (DESIGN.md §6).
    x_estimated = models.BooleanField(_("estimated"), default=False, db_default=False)
    # Allocation dimensions, filled by the allocation engine.
    x_business_unit_id = models.BigIntegerField(null=True, blank=True)
    x_project_id = models.BigIntegerField(null=True, blank=True)
    x_feature_id = models.BigIntegerField(null=True, blank=True)
    x_environment_id = models.BigIntegerField(null=True, blank=True)
    x_cost_center_id = models.BigIntegerField(null=True, blank=True)
    # Virtual tags set by the allocation engine: {"<VirtualTag id>": "value"}.
    x_virtual_tags = models.JSONField(null=True, blank=True)

    tenant_capabilities = COST_CAPABILITIES
    dimension_lookups = DIMENSION_COLUMNS

    class Meta:
        ordering = ["charge_period_start", "id"]
        verbose_name = _("cost line item")
        verbose_name_plural = _("cost line items")

    def __str__(self) -> str:
        return (
            f"{self.provider_name} {self.service_name} {self.billed_cost} {self.billing_currency}"
        )


class CostRollupBase(TenantOwnedModel):
    """Daily cost aggregate; ``day`` is the charge day in the tenant's time zone."""

    # An import rebuilds hundreds of thousands of rollup rows in its transaction: a foreign key
    # constraint would check each one at commit (PostgreSQL runs one query per row), for
    # seconds per million line items, and the (tenant, day) indexes already lead with the
    # tenant. The rows are written by set-based SQL from line items of the same tenant, and
    # Django still refuses to delete a tenant that has them (PROTECT is enforced by the ORM).
    # Like the line-item table, which has no foreign keys either (DESIGN.md §6: distributable
    # by tenant).
    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("tenant"),
    )
    day = models.DateField(_("day"))
    x_connection_id = models.BigIntegerField(null=True, blank=True)
    billing_currency = models.CharField(max_length=3)
    provider_name = models.TextField(null=True, blank=True)
    service_name = models.TextField(null=True, blank=True)
    service_category = models.TextField(null=True, blank=True)
    sub_account_id = models.TextField(null=True, blank=True)
    sub_account_name = models.TextField(null=True, blank=True)
    region_id = models.TextField(null=True, blank=True)
    charge_category = models.TextField(null=True, blank=True)
    x_business_unit_id = models.BigIntegerField(null=True, blank=True)
    x_project_id = models.BigIntegerField(null=True, blank=True)
    x_feature_id = models.BigIntegerField(null=True, blank=True)
    x_environment_id = models.BigIntegerField(null=True, blank=True)
    x_cost_center_id = models.BigIntegerField(null=True, blank=True)
    x_estimated = models.BooleanField(_("estimated"), default=False, db_default=False)
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    list_cost = models.DecimalField(**MONEY)
    contracted_cost = models.DecimalField(**MONEY)
    vat_amount = models.DecimalField(**MONEY)
    line_items = models.BigIntegerField()

    tenant_capabilities = COST_CAPABILITIES
    dimension_lookups = DIMENSION_COLUMNS

    class Meta:
        abstract = True


class CostDaily(CostRollupBase):
    """Per resource (and tag set): feeds resource and tag breakdowns."""

    resource_id = models.TextField(null=True, blank=True)
    x_resource_id = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(null=True, blank=True)
    x_virtual_tags = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["day", "id"]
        verbose_name = _("daily cost (per resource)")
        verbose_name_plural = _("daily costs (per resource)")
        indexes = [
            models.Index(fields=["tenant", "day"], name="costdaily_tenant_day"),
            models.Index(fields=["tenant", "x_resource_id", "day"], name="costdaily_resource"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.service_name} {self.resource_id}: {self.billed_cost}"


class CostDailySummary(CostRollupBase):
    """Without resources and tags: the small table every dashboard and report reads."""

    class Meta:
        ordering = ["day", "id"]
        verbose_name = _("daily cost summary")
        verbose_name_plural = _("daily cost summaries")
        indexes = [models.Index(fields=["tenant", "day"], name="costsummary_tenant_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.provider_name} {self.service_name}: {self.billed_cost}"


class ExchangeRate(models.Model):
    """How many RUB one unit of ``currency`` was worth on ``date`` (platform-wide data)."""

    class Source(models.TextChoices):
        CBR = "cbr", _("Central Bank of Russia")
        MANUAL = "manual", _("Manual")

    date = models.DateField(_("date"))
    currency = models.CharField(_("currency"), max_length=3)
    rate = models.DecimalField(_("RUB per unit"), max_digits=20, decimal_places=10)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-date", "currency"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=["date", "currency", "source"], name="exchange_rate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} 1 {self.currency} = {self.rate} RUB ({self.source})"


class VatRule(models.Model):
    """VAT that applies to a provider's charges from a date (data, never a constant)."""

    provider_name = models.CharField(
        _("provider name"), max_length=200, help_text=_("As in FOCUS ProviderName.")
    )
    currency = models.CharField(
        _("billing currency"), max_length=3, blank=True, help_text=_("Empty: any currency.")
    )
    valid_from = models.DateField(_("valid from"))
    rate = models.DecimalField(_("rate"), max_digits=6, decimal_places=4)
    included_in_price = models.BooleanField(
        _("prices include VAT"),
        default=True,
        help_text=_("Whether the provider's billed amounts already include this VAT."),
    )

    class Meta:
        ordering = ["provider_name", "-valid_from"]
        verbose_name = _("VAT rule")
        verbose_name_plural = _("VAT rules")
        constraints = [
            models.UniqueConstraint(
                fields=["provider_name", "currency", "valid_from"], name="vat_rule_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_name} {self.currency or '*'} from {self.valid_from}: {self.rate}"
