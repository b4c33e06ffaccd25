"""Template context for portal pages: the current tenant and the tenants the user can switch to."""

from __future__ import annotations


def portal_context(request) -> dict:
    tenant = getattr(request, "portal_tenant", None)
    return {"current_tenant": tenant} if tenant is not None else {}
