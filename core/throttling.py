"""Sign-in and password-reset throttling: clear answers and audit events.

Failed sign-ins (admin and portal) are counted by django-axes per account and per client IP (see
``AXES_*`` in settings); ``lockout_response`` is what a locked-out client gets. Password-reset
requests send email to whoever an address names, so they are limited here too, per address and
per IP, with Django's cache (set CACHE_URL to share the counters between processes).
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import gettext as _

from core import auth_events
from core.auth_identity import login_identity
from core.middleware import client_ip

RETRY_STATUS = 429


def _minutes(delta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 60))


def locked_out_page(request, reason: str, wait) -> object:
    response = render(
        request,
        "portal/auth/locked_out.html",
        {"reason": reason, "minutes": _minutes(wait)},
        status=RETRY_STATUS,
    )
    response["Retry-After"] = str(int(wait.total_seconds()))
    return response


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: one clear page for the admin and the portal."""
    return locked_out_page(
        request,
        _("Sign-in is paused for this account or network after too many failed attempts."),
        settings.AXES_COOLOFF_TIME,
    )


def password_reset_allowed(request, email: str) -> bool:
    """Count one reset request; False (and an audit event, once) when over a limit."""
    window = int(settings.PASSWORD_RESET_THROTTLE_WINDOW.total_seconds())
    keys = {
        "address": f"pwreset:a:{login_identity(email)}",
        "ip": f"pwreset:ip:{client_ip(request) or 'none'}",
    }
    limits = {
        "address": settings.PASSWORD_RESET_LIMIT_PER_ADDRESS,
        "ip": settings.PASSWORD_RESET_LIMIT_PER_IP,
    }
    over = []
    for kind, key in keys.items():
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            count = 1
        if count > limits[kind]:
            over.append((kind, count))
    if not over:
        return True
    if any(count == limits[kind] + 1 for kind, count in over):  # the first refusal is audited
        auth_events.password_reset_throttled(
            limits=[kind for kind, _count in over], address=login_identity(email)
        )
    return False
