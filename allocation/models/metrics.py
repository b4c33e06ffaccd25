"""Unit economics: business metrics (orders, active users, API calls …) recorded per day, and
optionally per value of one business dimension, so that cost can be divided by them (cost per
order, per active user) and shared costs split in proportion to them.

Points come from the API (bulk upsert), CSV uploads, or a pull from an HTTP JSON endpoint on a
schedule; see ``allocation.services.metrics``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel

DIMENSION_CHOICES = [
    ("business_unit", _("business unit")),
    ("project", _("project")),
    ("feature", _("feature")),
    ("environment", _("environment")),
    ("cost_center", _("cost center")),
]


class BusinessMetric(TenantOwnedModel):
    class PullStatus(models.TextChoices):
        NEVER = "never", _("Never pulled")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=100)
    unit = models.CharField(
        _("unit"), max_length=40, help_text=_("What one unit is: order, active user, API call.")
    )
    description = models.TextField(_("description"), blank=True)
    dimension = models.CharField(
        _("dimension"),
        max_length=16,
        choices=DIMENSION_CHOICES,
        blank=True,
        help_text=_(
            "Leave empty for a tenant-wide series; otherwise every point names a value of this "
            "dimension (orders per project)."
        ),
    )
    # Pull from an HTTP JSON endpoint (optional). Customers may name public HTTPS hosts only.
    pull_url = models.URLField(_("pull URL"), max_length=500, blank=True)
    pull_path = models.CharField(
        _("points path"),
        max_length=200,
        blank=True,
        help_text=_(
            "Dotted path to the list of points in the answer (empty: the answer is the list). "
            "Each point is an object with date, value and, for a dimension, dimension_value."
        ),
    )
    pull_interval = models.PositiveIntegerField(
        _("pull every (seconds)"),
        default=86400,
        help_text=_("How often the endpoint is pulled (at least 300 seconds)."),
    )
    # Chosen by an MSP operator (or the system): pulled without re-checking that it is public.
    pull_url_trusted = models.BooleanField(default=False, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    last_pull_at = models.DateTimeField(_("last pull"), null=True, blank=True, editable=False)
    last_pull_status = models.CharField(
        _("last pull status"),
        max_length=16,
        choices=PullStatus.choices,
        default=PullStatus.NEVER,
        editable=False,
    )
    last_pull_error = models.TextField(_("last pull error"), blank=True, editable=False)
    last_pull_points = models.PositiveIntegerField(
        _("points in last pull"), default=0, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    tenant_capabilities = {
        "view": Capability.VIEW_TENANT,
        "add": Capability.MANAGE_ALLOCATION,
        "change": Capability.MANAGE_ALLOCATION,
        "delete": Capability.MANAGE_ALLOCATION,
    }

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("business metric")
        verbose_name_plural = _("business metrics")
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="businessmetric_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})"


class BusinessMetricValue(TenantOwnedModel):
    """One day's value of a metric (for one dimension value when the metric has a dimension)."""

    metric = models.ForeignKey(
        BusinessMetric, on_delete=models.CASCADE, related_name="values", verbose_name=_("metric")
    )
    day = models.DateField(_("day"))
    # Id of a row of the metric's dimension (a Project's id …); NULL for tenant-wide metrics.
    dimension_value_id = models.BigIntegerField(_("dimension value id"), null=True, blank=True)
    value = models.DecimalField(_("value"), max_digits=24, decimal_places=6)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    tenant_capabilities = {"view": Capability.VIEW_COSTS}
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        """A member limited to some values of the metric's dimension sees those values' points;
        a metric kept per another dimension (or tenant-wide) does not narrow."""
        condition = Q()
        for key, ids in scope.items():
            condition &= ~Q(metric__dimension=key) | Q(dimension_value_id__in=list(ids))
        return condition

    class Meta:
        ordering = ["metric_id", "day", "dimension_value_id"]
        verbose_name = _("business metric value")
        verbose_name_plural = _("business metric values")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "metric", "day", "dimension_value_id"],
                name="businessmetricvalue_unique_point",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["metric", "day"], name="bmvalue_metric_day")]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.day}: {self.value}"
