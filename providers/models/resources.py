"""The resource registry: every resource of every connection, with its timeline."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel
from providers.adapters.base import PricingModel, ResourceStatus, ResourceType

TYPE_CHOICES = [(t.value, t.value.replace("_", " ")) for t in ResourceType]
STATUS_CHOICES = [(s.value, s.value) for s in ResourceStatus]
PRICING_CHOICES = [(p.value, p.value.replace("_", "-")) for p in PricingModel]


class Resource(TenantOwnedModel):
    connection = models.ForeignKey(
        "providers.Connection", on_delete=models.PROTECT, related_name="resources"
    )
    provider = models.CharField(_("provider"), max_length=32)
    provider_id = models.CharField(_("provider id"), max_length=255)
    type = models.CharField(_("type"), max_length=32, choices=TYPE_CHOICES, db_index=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    region = models.CharField(_("region"), max_length=64, blank=True)
    zone = models.CharField(_("zone"), max_length=64, blank=True)
    sub_account = models.CharField(_("sub-account"), max_length=255, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=STATUS_CHOICES)
    raw_status = models.CharField(_("provider status"), max_length=64, blank=True)
    specs = models.JSONField(_("specs"), default=dict, blank=True)
    pricing_model = models.CharField(_("pricing model"), max_length=16, choices=PRICING_CHOICES)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    related_ids = models.JSONField(_("related ids"), default=dict, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    parent_provider_id = models.CharField(max_length=255, blank=True)
    provider_created_at = models.DateTimeField(_("created at provider"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"))
    # Updated only when something changes (unchanged resources cost no write); while a resource
    # is live its effective "last seen" is the connection's last complete listing.
    last_seen_at = models.DateTimeField(_("last seen"))
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True, db_index=True)
    content_hash = models.CharField(max_length=64)
    # Who created it, from the provider's operation log (the earliest "created" operation, see
    # providers.services.operations); "" when no log says. The allocation "creator" condition
    # reads it. A database default: the sync COPYs new rows without naming this column.
    created_by = models.CharField(
        _("created by"), max_length=255, blank=True, default="", db_default=""
    )

    tenant_capabilities = {"view": Capability.VIEW_TENANT}
    # A member limited to some dimension values (core.dimensions) sees the resources with costs
    # of those values: the allocation engine maps cost rows, and a resource is what it costs.
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        from providers.models.costs import CostDaily

        costs = CostDaily.objects.filter(tenant_id=tenant_id, x_resource_id__isnull=False).filter(
            CostDaily.dimension_filter(tenant_id, scope)
        )
        return models.Q(pk__in=costs.values("x_resource_id"))

    class Meta:
        ordering = ["type", "name", "id"]
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "provider_id"], name="resource_unique_provider_id"
            )
        ]
        indexes = [
            GinIndex(fields=["labels"], name="resource_labels_gin"),
            models.Index(fields=["tenant", "type", "status"], name="resource_tenant_type_status"),
            models.Index(fields=["tenant", "created_by"], name="resource_tenant_created_by"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.provider_id} ({self.type})"

    @classmethod
    def dimension_scoped_ids(cls, tenant_id, scope):
        """Ids of the tenant's resources a member limited to ``scope`` sees (a subquery)."""
        return (
            cls.objects.filter(tenant_id=tenant_id)
            .filter(cls.dimension_filter(tenant_id, scope))
            .values("pk")
        )

    @property
    def effective_last_seen_at(self):
        if self.deleted_at is None and self.connection.last_full_sync_at:
            return max(self.last_seen_at, self.connection.last_full_sync_at)
        return self.last_seen_at


class ResourceEvent(TenantOwnedModel):
    class Kind(models.TextChoices):
        APPEARED = "appeared", _("Appeared")
        CHANGED = "changed", _("Changed")
        DISAPPEARED = "disappeared", _("Disappeared")
        REAPPEARED = "reappeared", _("Reappeared")

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="events")
    sync_run = models.ForeignKey(
        "providers.SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # {field: [old, new]} for "changed"; empty otherwise.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    at = models.DateTimeField(_("time"), db_index=True)

    tenant_capabilities = {"view": Capability.VIEW_TENANT}
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return models.Q(resource_id__in=Resource.dimension_scoped_ids(tenant_id, scope))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("resource event")
        verbose_name_plural = _("resource events")
        indexes = [models.Index(fields=["resource", "-at"], name="resource_event_timeline")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.resource_id} at {self.at:%Y-%m-%d %H:%M}"
