"""What a typed login name may be stored as: in the audit log, in lockout records, in throttles.

People type passwords into the username box. A failed login therefore keeps the typed text only
when it names an existing account (by username, or by email as the portal's login form accepts);
anything else is stored as ``unknown:`` plus a keyed hash (HMAC with SECRET_KEY, 16 hex digits).
The hash still lets auditors and the lockout see that the *same* unknown name is being tried
over and over, but cannot be reversed or brute-forced offline without the secret key. This is
simpler and stricter than guessing from entropy whether a string "looks like" a password.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import get_user_model

UNKNOWN_PREFIX = "unknown:"
MAX_TYPED = 254  # longest email; longer input is never an account name


def account_username(typed: str | None) -> str | None:
    """The username of the account ``typed`` names (username or unique email), else None."""
    typed = (typed or "").strip()
    if not typed or len(typed) > MAX_TYPED:
        return None
    users = get_user_model().objects
    found = users.filter(username=typed).values_list("username", flat=True).first()
    if found is None and "@" in typed:
        matches = list(users.filter(email__iexact=typed).values_list("username", flat=True)[:2])
        found = matches[0] if len(matches) == 1 else None
    return found


def unknown_marker(typed: str | None) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), (typed or "").strip().encode(), hashlib.sha256
    ).hexdigest()
    return UNKNOWN_PREFIX + digest[:16]


def login_identity(typed: str | None) -> str:
    """The account's username, or an irreversible marker for a name that matches no account."""
    return account_username(typed) or unknown_marker(typed)


def axes_username(request, credentials) -> str:
    """``AXES_USERNAME_CALLABLE``: lock out per account, and never store typed passwords."""
    typed = None
    if credentials:
        typed = credentials.get("username")
    if typed is None and request is not None:
        typed = request.POST.get("username")
    return login_identity(typed)
