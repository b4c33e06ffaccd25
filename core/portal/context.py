"""Template context for portal pages: the current tenant, the tenants the user can switch to and
the navigation bar (every app's ``NAVIGATION``, see ``core.portal.registry``)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from core.portal.registry import navigation
from core.portal.tenancy import CapabilityChecker, switchable_tenants


def _nav(request) -> list[dict]:
    current = getattr(getattr(request, "resolver_match", None), "view_name", "") or ""
    items = []
    for entry in navigation():
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            url = None  # announced, not served yet: "coming soon"
        items.append(
            {
                "key": entry.key,
                "label": entry.label,
                "url": url,
                "active": current == entry.url_name or current.startswith(f"portal:{entry.key}_"),
            }
        )
    return items


def portal_context(request) -> dict:
    tenant = getattr(request, "portal_tenant", None)
    if tenant is None:
        return {}
    user = request.user
    checker = getattr(request, "portal_can", None) or CapabilityChecker(user, tenant)
    return {
        "current_tenant": tenant,
        "switchable_tenants": SimpleLazyObject(lambda: switchable_tenants(user, tenant)),
        "portal_can": checker,
        "portal_nav": SimpleLazyObject(lambda: _nav(request)),
    }
