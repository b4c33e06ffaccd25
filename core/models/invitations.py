"""Pending invitations of existing accounts: access starts only when the person accepts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability, Role
from core.models.base import TenantOwnedModel


class Invitation(TenantOwnedModel):
    """An offer of ``role`` on ``tenant`` to an account that already existed when invited.

    It grants nothing: no membership, no capability, and it does not make the person visible to
    the inviter (``core.access.visible_users`` counts memberships only). The invitee accepts or
    declines in the portal; the row is then deleted (the audit log keeps the history).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("invitee"),
    )
    # What the inviter typed: the team page shows this, never the invitee's username.
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    tenant_capabilities = {
        "view": Capability.MANAGE_MEMBERS,
        "add": Capability.MANAGE_MEMBERS,
        "change": Capability.MANAGE_MEMBERS,
        "delete": Capability.MANAGE_MEMBERS,
    }

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="invitation_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant} ({self.get_role_display()})"
