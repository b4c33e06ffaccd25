"""Account self-service from the portal: setting a password (change, reset, invitation)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import record_event

PASSWORD_EVENTS = {"change": "auth.password_changed", "reset": "auth.password_reset"}


@transaction.atomic
def user_password_set(*, actor, user, raw_password: str, reason: str = "change"):
    """Set ``user``'s password (already validated by the form) and audit it on the platform chain.

    ``actor`` is the user themselves: after proving the old password ("change") or holding a valid
    reset / invitation token ("reset"); ``None`` is the system. Nobody sets another person's
    password here. The event goes to the platform chain (tenant NULL), like logins; the password
    never reaches the audit log.
    """
    if reason not in PASSWORD_EVENTS:
        raise ValueError(f"unknown reason {reason!r}")
    if actor is not None and actor.pk != user.pk:
        raise PermissionDenied(_("You can only set your own password."))
    had_usable = user.has_usable_password()
    user.set_password(raw_password)
    user.save(update_fields=["password"])
    record_event(
        event_type=PASSWORD_EVENTS[reason],
        actor=actor,
        target=user,
        extra={"first_time": not had_usable},  # key avoids the "password" redaction marker
    )
    return user
