"""Template context for portal pages: the current tenant and the tenants the user can switch to."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from core.portal.tenancy import CapabilityChecker, switchable_tenants

# The portal's main navigation. Sections whose URL name does not exist yet are shown as
# "coming soon"; later issues add the URL (in the "portal" namespace) and the entry lights up.
PORTAL_NAV = [
    ("dashboard", _("Dashboard"), "portal:dashboard"),
    ("costs", _("Costs"), "portal:costs"),
    ("resources", _("Resources"), "portal:resources"),
    ("budgets", _("Budgets"), "portal:budgets"),
    ("savings", _("Savings"), "portal:savings"),
    ("connections", _("Connections"), "portal:connections"),
    ("team", _("Team"), "portal:team"),
]


def _nav(request) -> list[dict]:
    current = getattr(getattr(request, "resolver_match", None), "view_name", "") or ""
    items = []
    for key, label, url_name in PORTAL_NAV:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            url = None
        items.append(
            {
                "key": key,
                "label": label,
                "url": url,
                "active": current == url_name or current.startswith(f"portal:{key}_"),
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
