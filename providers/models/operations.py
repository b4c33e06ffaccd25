"""Resource operation logs: who created, changed, started or deleted a resource, and when.

Read from the providers' own operation / action logs (``ProviderAdapter.operations(since)``) by
``providers.services.operations`` after each successful sync. Rows are never updated: the same
provider operation read twice is one row (unique per connection), so collections may overlap in
time without duplicates. The table grows with every action on every resource, so every key and
index leads with the tenant (big-table friendly, like the cost tables).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel
from providers.adapters.base import OperationAction, OperationStatus

ACTION_CHOICES = [(a.value, a.value) for a in OperationAction]
OPERATION_STATUS_CHOICES = [(s.value, s.value) for s in OperationStatus]


class ResourceOperation(TenantOwnedModel):
    connection = models.ForeignKey(
        "providers.Connection",
        on_delete=models.CASCADE,
        related_name="operations",
        verbose_name=_("connection"),
    )
    # Linked when the inventory knows the resource (an operation may precede the first sync
    # that lists it, or name a resource discovery does not read); the provider id is always kept.
    resource = models.ForeignKey(
        "providers.Resource",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="operations",
        verbose_name=_("resource"),
    )
    resource_provider_id = models.CharField(_("resource provider id"), max_length=255)
    provider_operation_id = models.CharField(_("provider operation id"), max_length=255)
    action = models.CharField(_("action"), max_length=16, choices=ACTION_CHOICES)
    raw_action = models.CharField(_("provider action"), max_length=255, blank=True)
    actor = models.CharField(_("actor"), max_length=255, blank=True)
    at = models.DateTimeField(_("time"))
    status = models.CharField(_("status"), max_length=16, choices=OPERATION_STATUS_CHOICES)
    details = models.JSONField(_("details"), default=dict, blank=True)
    collected_at = models.DateTimeField(_("collected"))

    tenant_capabilities = {"view": Capability.VIEW_TENANT}
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        # A member limited to some dimension values sees the operations of the resources they
        # see (and none of unlinked ones, whose cost nobody can attribute).
        from providers.models.resources import Resource

        return models.Q(resource_id__in=Resource.dimension_scoped_ids(tenant_id, scope))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("resource operation")
        verbose_name_plural = _("resource operations")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "connection", "provider_operation_id"],
                name="resource_operation_unique",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "resource", "-at"], name="resource_operation_timeline"),
            models.Index(fields=["tenant", "connection", "-at"], name="resource_operation_recent"),
            models.Index(
                fields=["tenant", "connection", "resource_provider_id"],
                name="resource_operation_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_provider_id} by {self.actor or '?'} at {self.at}"
