"""Logins, logouts and failed logins go to the platform audit chain.

Django reports these through its auth signals; the receivers only hand over to the audit service.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from core.audit import record_event
from core.auth_identity import account_username, unknown_marker


def _record(event_type: str, user=None, extra: dict | None = None) -> None:
    with transaction.atomic():
        record_event(event_type=event_type, actor=user, target=user, extra=extra or {})


@receiver(user_logged_in, dispatch_uid="audit_login")
def _on_login(sender, request, user, **kwargs) -> None:
    _record("auth.login", user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        _record("auth.logout", user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The password never reaches the log, nor does a typed name that is no account's (it is
    # often the password typed into the wrong box): see core.auth_identity.
    typed = str(credentials.get("username", ""))
    username = account_username(typed)
    if username is not None:
        extra = {"username": username}
    else:
        extra = {"username": None, "unknown_username": unknown_marker(typed)}
    _record("auth.login_failed", extra=extra)


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def _on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    # ``username`` is already what core.auth_identity.axes_username made of the typed name.
    # django-axes signals every refused attempt during a lockout; the audit log wants the lockout.
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if cache.add(f"audit:locked_out:{username}:{ip_address}", 1, timeout=seconds):
        _record("auth.locked_out", extra={"username": username, "ip_address": ip_address})


def password_reset_throttled(*, limits: list[str], address: str) -> None:
    """The first refused password-reset request of a window (core.throttling counts them)."""
    _record("auth.password_reset_throttled", extra={"limit": limits, "address": address})
