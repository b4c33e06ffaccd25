"""Read paths for core objects; every one goes through ``for_user``."""

from __future__ import annotations

from core.capabilities import capabilities_for
from core.models import Invitation, Membership, Tenant


def me_get(*, user) -> dict:
    token = getattr(user, "api_token", None)
    visible = Tenant.objects.for_user(user, "view").values("pk")
    memberships = (
        Membership.objects.filter(user=user, tenant__in=visible)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "is_operator": user.is_staff,
        "token": (
            {"name": token.name, "tenant": token.tenant_id, "scope": token.scope}
            if token is not None
            else None
        ),
        "memberships": [
            {
                "tenant": m.tenant_id,
                "tenant_name": m.tenant.name,
                "tenant_slug": m.tenant.slug,
                "role": m.role,
                "capabilities": sorted(capabilities_for(m.role)),
            }
            for m in memberships
        ],
    }


def pending_invitations(user):
    """The invitations waiting for ``user``'s answer (the invitee's own view, not tenant-scoped:
    they hold no capability on those tenants yet)."""
    return Invitation.objects.filter(user_id=user.pk).select_related("tenant", "invited_by")
