"""Re-applying the mapping rules to the cost history, as a recorded run with progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel


class MappingRun(TenantOwnedModel):
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
    # Tenant-local days re-applied; both empty: the whole history.
    first_day = models.DateField(_("first day"), null=True, blank=True)
    last_day = models.DateField(_("last day"), null=True, blank=True)
    # {"batches": n, "batches_done": n, "day": "YYYY-MM-DD", "rows_changed": n}
    progress = models.JSONField(_("progress"), default=dict, blank=True)
    rows_changed = models.BigIntegerField(_("rows changed"), default=0)
    days_refreshed = models.PositiveIntegerField(_("days refreshed"), default=0)
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
    # Counts over every project's rows: hidden from members limited to some dimension values.
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return Q(pk__in=[])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("mapping run")
        verbose_name_plural = _("mapping runs")
        indexes = [models.Index(fields=["tenant", "status"], name="mappingrun_tenant_status")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} ({self.get_status_display()})"
