"""The portal's current tenant: remembered in the session, always re-checked against ``for_user``.

Portal views are wrapped in ``portal_view``: it requires login, resolves the tenant and exposes it
as ``request.portal_tenant``. A user who can see no tenant (none granted, or a customer whose
tenant is suspended) gets the "no access" page with status 403.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.access import user_has_capability
from core.capabilities import Capability
from core.models import Tenant

SESSION_KEY = "portal_tenant_id"
# The switcher lists at most this many tenants (customers have a handful; MSP staff use the admin).
SWITCHER_LIMIT = 200


def visible_tenants(user):
    return Tenant.objects.for_user(user, "view").order_by("name", "pk")


def resolve_portal_tenant(request) -> Tenant | None:
    """The tenant remembered in the session if the user may still view it, else the first one."""
    tenants = visible_tenants(request.user)
    tenant = None
    wanted = request.session.get(SESSION_KEY)
    if isinstance(wanted, int):
        tenant = tenants.filter(pk=wanted).first()
    if tenant is None:
        tenant = tenants.first()
        if tenant is None:
            request.session.pop(SESSION_KEY, None)
        elif wanted != tenant.pk:
            request.session[SESSION_KEY] = tenant.pk
    return tenant


def remember_tenant(request, tenant: Tenant) -> None:
    request.session[SESSION_KEY] = tenant.pk


def switchable_tenants(user, current: Tenant | None) -> list[Tenant]:
    tenants = list(visible_tenants(user).only("pk", "name", "lineage")[:SWITCHER_LIMIT])
    if current is not None and all(t.pk != current.pk for t in tenants):
        tenants.insert(0, current)
    return tenants


class CapabilityChecker:
    """``{% if portal_can.manage_members %}``: capabilities of the user on the current tenant,
    checked through ``core.access`` on first use and cached for the request."""

    def __init__(self, user, tenant: Tenant | None):
        self.user, self.tenant, self._cache = user, tenant, {}

    def __getitem__(self, capability: str) -> bool:
        if capability not in self._cache:
            self._cache[capability] = (
                self.tenant is not None
                and capability in Capability.values
                and user_has_capability(self.user, capability, self.tenant)
            )
        return self._cache[capability]

    def __contains__(self, capability: str) -> bool:
        return self[capability]


def portal_can(request, capability: str) -> bool:
    checker = getattr(request, "portal_can", None)
    if checker is None:
        checker = CapabilityChecker(request.user, getattr(request, "portal_tenant", None))
        request.portal_can = checker
    return checker[capability]


def portal_view(view_func):
    """Login required + ``request.portal_tenant`` resolved, or the "no access" page."""

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        tenant = resolve_portal_tenant(request)
        if tenant is None:
            return render(request, "portal/no_access.html", status=403)
        request.portal_tenant = tenant
        request.portal_can = CapabilityChecker(request.user, tenant)
        return view_func(request, *args, **kwargs)

    return login_required(wrapper)
