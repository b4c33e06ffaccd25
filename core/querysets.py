"""The one decision function: ``Model.objects.for_user(user, action)``.

It returns the rows of tenants where the user holds the capability mapped to ``action`` and fails
closed (``none()``) for anonymous users, unknown actions and read-only tokens asked to write.
"""

from __future__ import annotations

from django.db import models

from core.access import allowed_tenants


class TenantScopedQuerySet(models.QuerySet):
    # Path from this model to its tenant's primary key; Tenant itself overrides it with "pk".
    tenant_lookup = "tenant_id"

    def for_user(self, user, action: str) -> TenantScopedQuerySet:
        capability = self.model.capability_for(action)
        if capability is None:
            return self.none()
        tenants = allowed_tenants(user, capability, action=action)
        if tenants is None:  # unrestricted (superuser without a token)
            return self.all() if self.tenant_lookup == "pk" else self.exclude(tenant_id=None)
        return self.filter(**{f"{self.tenant_lookup}__in": tenants.values("pk")})

    def for_tenant(self, tenant) -> TenantScopedQuerySet:
        return self.filter(**{self.tenant_lookup: getattr(tenant, "pk", tenant)})
