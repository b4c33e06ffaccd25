"""Which tenants a create form offers: only those where the caller may create the object.

The scoped related fields (``core.api.base``) list every tenant the caller can *view*; creating a
connection, a sub-tenant or an import needs a capability on the tenant too. A serializer names
that capability and, if not ``tenant``, the field; on create the field's choices (and the values
it accepts) are narrowed to those tenants, so the browsable form and the validation agree with
the service that would refuse the rest. On update the field is left alone (serializers make it
read-only: objects do not move between tenants).
"""

from __future__ import annotations

from core.access import allowed_tenants
from core.models import Tenant


class TenantChoiceMixin:
    tenant_choice_field = "tenant"
    tenant_choice_capability: str | None = None

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is None and self.tenant_choice_capability is not None:
            request = self.context.get("request")
            allowed = allowed_tenants(
                getattr(request, "user", None), self.tenant_choice_capability, action="add"
            )
            if allowed is not None:  # None: every tenant (platform superusers)
                fields[self.tenant_choice_field].queryset = Tenant.objects.filter(
                    pk__in=allowed.values("pk")
                )
        return fields
