"""The one decision function: ``Model.objects.for_user(user, action)``.

It returns the rows of tenants where the user holds the capability mapped to ``action`` and fails
closed (``none()``) for anonymous users, unknown actions and read-only tokens asked to write.
Members limited to some dimension values (``core.dimensions``) see, of a model that maps its rows
to dimensions, only the rows of their values.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.access import allowed_tenants, limited_scopes


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
        rows = self.filter(**{f"{self.tenant_lookup}__in": tenants.values("pk")})
        return self._within_dimension_scopes(rows, user, capability)

    def _within_dimension_scopes(self, rows, user, capability: str):
        dimension_scoped = getattr(self.model, "dimension_scoped", None)
        if self.tenant_lookup == "pk" or dimension_scoped is None or not dimension_scoped():
            return rows
        scopes = limited_scopes(user, capability)
        if not scopes:
            return rows
        visible = ~Q(**{f"{self.tenant_lookup}__in": list(scopes)})
        for tenant_id, scope in scopes.items():
            narrowed = self.model.dimension_filter(tenant_id, scope)
            visible |= Q(**{self.tenant_lookup: tenant_id}) & narrowed
        return rows.filter(visible)

    def for_tenant(self, tenant) -> TenantScopedQuerySet:
        return self.filter(**{self.tenant_lookup: getattr(tenant, "pk", tenant)})
