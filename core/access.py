"""Which tenants a user may act on, for one capability.

Grants are django-guardian object permissions on Tenant rows and are inherited down the tenant
tree: an operator assigned to a client tenant also reaches its sub-tenants. Customers (non-staff)
lose access to suspended tenants; MSP staff keep it so they can fix what caused the suspension.
An API token narrows everything further to its own tenant subtree and scope.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Left, Length

from core.capabilities import READ_ACTIONS


def allowed_tenants(user, capability: str, *, action: str = "view"):
    """A lazy Tenant queryset (usable as a subquery), or None meaning "every tenant"."""
    from core.models import Tenant, TenantGroupObjectPermission, TenantUserObjectPermission

    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Tenant.objects.none()

    token = getattr(user, "api_token", None)
    if token is not None and action not in READ_ACTIONS and not token.allows_write:
        return Tenant.objects.none()

    if user.is_superuser:
        tenants = None
    else:
        # A tenant qualifies when some tenant on its path (itself or an ancestor) carries a grant.
        prefix_of_outer = Left(OuterRef("path"), Length("content_object__path"))
        user_grant = TenantUserObjectPermission.objects.filter(
            user_id=user.pk,
            permission__codename=capability,
            content_object__path=prefix_of_outer,
        )
        group_grant = TenantGroupObjectPermission.objects.filter(
            group__user=user.pk,
            permission__codename=capability,
            content_object__path=prefix_of_outer,
        )
        tenants = Tenant.objects.filter(Exists(user_grant) | Exists(group_grant))
        if not user.is_staff:
            tenants = tenants.filter(status=Tenant.Status.ACTIVE)

    if token is not None:
        subtree = Q(path__startswith=token.tenant_path)
        tenants = (Tenant.objects.all() if tenants is None else tenants).filter(subtree)
    return tenants


def user_has_capability(user, capability: str, tenant, *, action: str = "view") -> bool:
    tenants = allowed_tenants(user, capability, action=action)
    if tenants is None:
        return True
    return tenants.filter(pk=getattr(tenant, "pk", tenant)).exists()


def visible_users(user, capability: str = "view_tenant_data"):
    """Users who are members of a tenant the viewer can see: the only users a picker may list."""
    from django.contrib.auth import get_user_model

    from core.models import Membership

    users = get_user_model().objects.all()
    tenants = allowed_tenants(user, capability)
    if tenants is None:
        return users
    member_ids = Membership.objects.filter(tenant__in=tenants.values("pk")).values("user_id")
    return users.filter(pk__in=member_ids)
