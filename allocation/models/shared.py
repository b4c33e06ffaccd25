"""Shared-cost allocation: rules that split a pool of costs over the values of a dimension, the
daily results (``cost_allocations``) and the recorded runs that recompute them.

A rule's pool is the cost rows its conditions match (the mapping rules' conditions,
``allocation.conditions``); rules are tried in ``position`` order and a row belongs to the first
rule that matches it, so pools never overlap and no cost is shared twice. The engine is
``allocation.sharing``; the bases a pool may be split by are ``allocation.bases``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from allocation.models.dimensions import DIMENSION_CAPABILITIES
from core.capabilities import Capability
from core.models import TenantOwnedModel

MONEY = {"max_digits": 38, "decimal_places": 18}


class AllocationRule(TenantOwnedModel):
    class Dimension(models.TextChoices):
        BUSINESS_UNIT = "business_unit", _("Business unit")
        PROJECT = "project", _("Project")
        FEATURE = "feature", _("Feature")
        ENVIRONMENT = "environment", _("Environment")
        COST_CENTER = "cost_center", _("Cost center")

    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(
        _("position"),
        help_text=_("Rules are tried in this order; a cost row joins the first pool it matches."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # The pool: [{"field": "service", "op": "in", "values": ["Managed Kubernetes"]}, ...], all of
    # which must hold (allocation.conditions, as for mapping rules).
    conditions = models.JSONField(_("pool conditions"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)
    dimension = models.CharField(
        _("split over"), max_length=16, choices=Dimension.choices, default=Dimension.PROJECT
    )
    # A key of allocation.bases (even, direct_cost, fixed, usage_metric, and what other apps
    # register, e.g. business_metric): validated by the service against the registry at the time.
    method = models.CharField(_("method"), max_length=32, default="direct_cost")
    # [{"id": 12}, {"id": 13, "percent": "40"}]: the dimension values sharing the pool (percent
    # for the fixed method only).
    targets = models.JSONField(_("targets"), default=list, blank=True)
    metric = models.CharField(
        _("metric"),
        max_length=100,
        blank=True,
        help_text=_("For usage and business-metric splits: the metric's name (e.g. cpu_usage)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    tenant_capabilities = DIMENSION_CAPABILITIES
    # A rule moves costs between projects: not for members limited to some of them.
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return Q(pk__in=[])

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("shared-cost rule")
        verbose_name_plural = _("shared-cost rules")
        indexes = [models.Index(fields=["tenant", "position"], name="allocrule_tenant_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def target_ids(self) -> list[int]:
        return [int(t["id"]) for t in self.targets or []]


class AllocatedCost(TenantOwnedModel):
    """One day's result of a rule in one currency, in three kinds of rows whose amounts sum to
    zero for every (rule, day, currency) — so adding them to the direct costs moves cost without
    creating or losing any:

    - ``pool``: the pool's rows taken away (negative), with the columns of the daily summary they
      came from, so that any breakdown of the summary can subtract them;
    - ``share``: what one target value receives (a whole number of the currency's minor units),
      with the target's dimension (and, for the hierarchy, the levels above it) set;
    - ``unallocated``: what is left — the sub-minor-unit rest, or the whole pool on a day when no
      target has any basis (no direct cost, no usage).

    Shares and the unallocated row keep the pool's provider, service and charge category
    (conversion and VAT depend on them). The table is large (days x rules x targets); tenant_id
    leads its primary key and indexes."""

    class Kind(models.TextChoices):
        POOL = "pool", _("Pool (taken away)")
        SHARE = "share", _("Share")
        UNALLOCATED = "unallocated", _("Unallocated")

    day = models.DateField(_("day"))
    rule = models.ForeignKey(
        AllocationRule, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    target_id = models.BigIntegerField(_("target"), null=True, blank=True)
    # The target's share of the pool (shares of one pool sum to exactly 1) and its basis.
    ratio = models.DecimalField(_("ratio"), max_digits=20, decimal_places=12, null=True)
    basis = models.DecimalField(_("basis"), **MONEY, null=True)
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
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    list_cost = models.DecimalField(**MONEY)
    vat_amount = models.DecimalField(**MONEY)

    tenant_capabilities = {"view": Capability.VIEW_COSTS}
    dimension_lookups = {
        "business_unit": "x_business_unit_id",
        "project": "x_project_id",
        "feature": "x_feature_id",
        "environment": "x_environment_id",
        "cost_center": "x_cost_center_id",
    }

    class Meta:
        db_table = "cost_allocations"
        ordering = ["day", "rule_id", "kind", "target_id"]
        verbose_name = _("allocated cost")
        verbose_name_plural = _("allocated costs")
        indexes = [
            models.Index(fields=["tenant", "day"], name="costalloc_tenant_day"),
            models.Index(fields=["tenant", "rule", "day"], name="costalloc_tenant_rule_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()} {self.billed_cost} {self.billing_currency}"


class AllocationRun(TenantOwnedModel):
    """Recomputing the shared-cost results over the history (after a rule changes), with
    progress; runs of one tenant never overlap."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        RULES_CHANGED = "rules_changed", _("Rules changed")
        MANUAL = "manual", _("Manual")

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    first_day = models.DateField(_("first day"), null=True, blank=True)
    last_day = models.DateField(_("last day"), null=True, blank=True)
    # {"batches": n, "batches_done": n, "day": "YYYY-MM-DD", "rows_written": n}
    progress = models.JSONField(_("progress"), default=dict, blank=True)
    rows_written = models.BigIntegerField(_("result rows written"), default=0)
    days_allocated = models.PositiveIntegerField(_("days allocated"), default=0)
    error = models.TextField(_("failure reason"), blank=True)
    task_id = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    tenant_capabilities = {
        "view": Capability.VIEW_TENANT,
        "add": Capability.MANAGE_ALLOCATION,
    }
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return Q(pk__in=[])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("shared-cost run")
        verbose_name_plural = _("shared-cost runs")
        indexes = [models.Index(fields=["tenant", "status"], name="allocrun_tenant_status")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} ({self.get_status_display()})"
