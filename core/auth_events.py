"""Logins, logouts and failed logins go to the platform audit chain.

Django reports these through its auth signals; the receivers only hand over to the audit service.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from core.audit import record_event


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
    # Only the username is kept; the password never reaches the log.
    _record("auth.login_failed", extra={"username": str(credentials.get("username", ""))[:150]})
