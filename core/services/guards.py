"""Capability checks shared by every service."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from core.access import user_has_capability


def require_capability(actor, capability: str, tenant, *, action: str = "change") -> None:
    """Raise PermissionDenied unless ``actor`` holds ``capability`` on ``tenant``.

    ``actor=None`` is the system itself (tasks, migrations, the demo seeder) and is always allowed;
    every human path passes a user.
    """
    if actor is None:
        return
    if not user_has_capability(actor, capability, tenant, action=action):
        raise PermissionDenied(
            _("You do not have the “%(capability)s” capability on this tenant.")
            % {"capability": capability}
        )
