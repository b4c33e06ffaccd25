"""One record per sync attempt: what it found, what it wrote, how it ended."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel


class SyncRun(TenantOwnedModel):
    class Kind(models.TextChoices):
        DISCOVERY = "discovery", _("Resource discovery")
        METRICS = "metrics", _("Metrics")

    class Trigger(models.TextChoices):
        CREATED = "created", _("Connection created")
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        WEBHOOK = "webhook", _("Webhook")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    connection = models.ForeignKey(
        "providers.Connection", on_delete=models.CASCADE, related_name="sync_runs"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    complete = models.BooleanField(_("complete listing"), default=False)
    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    seen = models.PositiveIntegerField(_("seen"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    deleted = models.PositiveIntegerField(_("deleted"), default=0)
    api_calls = models.PositiveIntegerField(_("API calls"), default=0)
    error = models.TextField(_("error"), blank=True)
    # What could not be read (a service denied or absent), in words: [{"service", "outcome",
    # "types", "scopes", "message"}]; resources of those types were kept, not marked deleted.
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    # Resource type -> how its listing ended ("complete", "denied", "absent", "failed").
    outcomes = models.JSONField(_("listing outcome per type"), default=dict, blank=True)
    progress = models.JSONField(_("progress"), default=dict, blank=True)
    # The Celery task that ran it: a redelivered task finds its run instead of running twice.
    task_id = models.CharField(max_length=64, blank=True, editable=False, db_index=True)

    tenant_capabilities = {"view": Capability.VIEW_TENANT}

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        indexes = [
            models.Index(
                fields=["connection", "kind", "-started_at"], name="syncrun_connection_recent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.kind} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
