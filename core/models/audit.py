"""The tamper-evident audit log: append-only rows chained per tenant by SHA-256."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.querysets import TenantScopedQuerySet


class AuditEvent(models.Model):
    class Source(models.TextChoices):
        ADMIN = "admin", _("Admin")
        API = "api", _("API")
        PORTAL = "portal", _("Portal")
        TASK = "task", _("Task")
        SYSTEM = "system", _("System")
        CLI = "cli", _("Command line")

    # Null tenant = the platform chain (logins, superuser-only events).
    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tenant"),
    )
    seq = models.BigIntegerField(_("sequence"))
    created_at = models.DateTimeField(_("time"), db_index=True)
    # No FK constraint: deleting a user must never rewrite audit rows.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_repr = models.CharField(_("actor name"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    request_id = models.CharField(_("request / task id"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    event_type = models.CharField(_("event"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=300, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    changed_fields = models.JSONField(_("changed fields"), default=list, blank=True)
    extra = models.JSONField(_("details"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = TenantScopedQuerySet.as_manager()

    tenant_capabilities = {"view": Capability.VIEW_AUDIT}

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "seq"], name="audit_chain_seq_unique", nulls_distinct=False
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_recent"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M}"
        return f"{self.event_type} by {self.actor_repr or 'system'} at {when}"

    @classmethod
    def capability_for(cls, action: str) -> str | None:
        return cls.tenant_capabilities.get(action)
