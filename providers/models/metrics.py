"""Resource time series: raw samples partitioned by month, plus daily aggregates kept longer.

The raw table is ``PARTITION BY RANGE (ts)`` with monthly partitions created on demand; retention
drops whole partitions (instant, no bloat) after their days were downsampled into
``ResourceMetricDaily``. Django 5.2 cannot register a composite primary key in the admin, so the
model keeps a single ``id`` while the table's real key is ``(id, ts)`` (see migration).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel


class ResourceMetric(TenantOwnedModel):
    resource = models.ForeignKey(
        "providers.Resource", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    metric = models.CharField(_("metric"), max_length=64)
    ts = models.DateTimeField(_("time"))
    value = models.FloatField(_("value"))

    tenant_capabilities = {"view": Capability.VIEW_TENANT}
    dimension_lookups = {}  # as their resource (see Resource.dimension_filter)

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        from providers.models.resources import Resource

        return models.Q(resource_id__in=Resource.dimension_scoped_ids(tenant_id, scope))

    class Meta:
        ordering = ["resource_id", "metric", "ts"]
        verbose_name = _("resource metric sample")
        verbose_name_plural = _("resource metric samples")

    def __str__(self) -> str:
        return f"{self.metric}={self.value} at {self.ts:%Y-%m-%d %H:%M}"


class ResourceMetricDaily(TenantOwnedModel):
    resource = models.ForeignKey(
        "providers.Resource", on_delete=models.CASCADE, related_name="daily_metrics"
    )
    metric = models.CharField(_("metric"), max_length=64)
    day = models.DateField(_("day"))
    avg = models.FloatField(_("average"))
    min = models.FloatField(_("minimum"))
    max = models.FloatField(_("maximum"))
    samples = models.PositiveIntegerField(_("samples"))

    tenant_capabilities = {"view": Capability.VIEW_TENANT}
    dimension_lookups = {}  # as their resource (see Resource.dimension_filter)

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        from providers.models.resources import Resource

        return models.Q(resource_id__in=Resource.dimension_scoped_ids(tenant_id, scope))

    class Meta:
        ordering = ["resource_id", "metric", "day"]
        verbose_name = _("daily resource metric")
        verbose_name_plural = _("daily resource metrics")
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "metric", "day"], name="resource_metric_daily_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.day}: avg {self.avg:.2f}"
