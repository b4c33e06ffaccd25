"""Which tenants a user may act on, for one capability.

Grants are django-guardian object permissions on Tenant rows and are inherited down the tenant
tree: an operator assigned to a client tenant also reaches its sub-tenants. Customers (non-staff)
lose access to suspended tenants and to everything below them (suspension is inherited down the
tree, like grants); MSP staff keep it so they can fix what caused the suspension.
An API token narrows everything further to its own tenant subtree and scope.

The result is a lazy queryset used as a subquery: the granted tenant ids are gathered once
(an InitPlan) and matched against each tenant's lineage with a GIN-indexed array overlap.

A membership limited to some dimension values (``Membership.dimension_scope``, see
``core.dimensions``) grants its capabilities on its own tenant only, not on sub-tenants; rows of
that tenant are then narrowed per model by ``limited_scopes`` in ``for_user``.
"""

from __future__ import annotations

import contextlib

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Q

from core.capabilities import READ_ACTIONS


def limited_membership_tenants(user):
    """Ids of the tenants where the user's membership is limited to some dimension values."""
    from core.models import Membership

    return (
        Membership.objects.filter(user_id=user.pk).exclude(dimension_scope={}).values("tenant_id")
    )


def granted_tenant_ids(user, capability: str, *, limited: bool = False):
    """Tenant ids on which the user holds ``capability`` directly or through a group.

    ``limited=False``: the unrestricted grants (inherited down the tree); ``limited=True``: the
    grants of memberships limited to some dimension values (valid on their own tenant only).
    """
    from core.models import TenantGroupObjectPermission, TenantUserObjectPermission

    direct = TenantUserObjectPermission.objects.filter(
        user_id=user.pk, permission__codename=capability
    )
    if limited:
        return direct.filter(content_object_id__in=limited_membership_tenants(user)).values(
            "content_object_id"
        )
    direct = direct.exclude(content_object_id__in=limited_membership_tenants(user)).values(
        "content_object_id"
    )
    via_groups = TenantGroupObjectPermission.objects.filter(
        group__user=user.pk, permission__codename=capability
    ).values("content_object_id")
    return direct.union(via_groups, all=True)


def suspended_tenant_ids():
    """Ids of suspended tenants: a tenant whose lineage contains one is suspended for customers."""
    from core.models import Tenant

    return Tenant.objects.filter(status=Tenant.Status.SUSPENDED).values("pk")


def allowed_tenants(user, capability: str, *, action: str = "view"):
    """A lazy Tenant queryset (usable as a subquery), or None meaning "every tenant".

    Remembered on the user object for what it depends on (capability, action, the user's flags
    and token): a request asks several times (the rows, the filter choices, the related fields)
    and building it is most of the cost of scoping. It stays lazy SQL, so grants changed later
    are still seen; a fresh clone is handed out so nobody shares a result cache."""
    token = getattr(user, "api_token", None) if user is not None else None
    key = (
        capability,
        action,
        getattr(user, "pk", None),
        getattr(user, "is_authenticated", False),
        getattr(user, "is_active", False),
        getattr(user, "is_superuser", False),
        getattr(user, "is_staff", False),
        getattr(token, "pk", None),
        getattr(token, "tenant_id", None),
        getattr(token, "allows_write", None),
    )
    memo = getattr(user, "_allowed_tenants_memo", None) if user is not None else None
    if memo is not None and key in memo:
        tenants = memo[key]
        return None if tenants is None else tenants.all()
    tenants = _allowed_tenants(user, capability, action=action, token=token)
    if user is not None:
        # An object without a __dict__ has nowhere to remember it: nothing is lost.
        with contextlib.suppress(AttributeError):
            user.__dict__.setdefault("_allowed_tenants_memo", {})[key] = tenants
    return None if tenants is None else tenants.all()


def _allowed_tenants(user, capability: str, *, action: str, token):
    from core.models import Tenant

    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Tenant.objects.none()

    if token is not None and action not in READ_ACTIONS and not token.allows_write:
        return Tenant.objects.none()

    if user.is_superuser:
        tenants = None
    else:
        tenants = Tenant.objects.filter(
            Q(lineage__overlap=ArraySubquery(granted_tenant_ids(user, capability)))
            | Q(pk__in=granted_tenant_ids(user, capability, limited=True))
        )
        if not user.is_staff:
            tenants = tenants.exclude(lineage__overlap=ArraySubquery(suspended_tenant_ids()))

    if token is not None:
        subtree = (Tenant.objects.all() if tenants is None else tenants).filter(
            lineage__contains=[token.tenant_id]
        )
        tenants = subtree
    return tenants


def limited_scopes(user, capability: str) -> dict[int, dict[str, list[int]]]:
    """``{tenant_id: scope}`` of the tenants the user sees for ``capability`` only through a
    membership limited to some dimension values (no unrestricted grant on the tenant or an
    ancestor). Empty for everyone else: one small indexed query."""
    from core.models import Membership

    if user is None or not getattr(user, "is_authenticated", False) or user.is_superuser:
        return {}
    rows = (
        Membership.objects.filter(user_id=user.pk)
        .exclude(dimension_scope={})
        .exclude(tenant__lineage__overlap=ArraySubquery(granted_tenant_ids(user, capability)))
        .values_list("tenant_id", "dimension_scope")
    )
    return dict(rows)


def dimension_scope_for(user, tenant, capability: str) -> dict[str, list[int]] | None:
    """The dimension values ``user`` is limited to on ``tenant`` for ``capability``, or None
    when unrestricted (``user`` None is the system). Callers that read rows without
    ``for_user`` (raw SQL over costs) apply it themselves."""
    if user is None:
        return None
    return limited_scopes(user, capability).get(getattr(tenant, "pk", tenant))


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
