"""API token lifecycle: create (secret shown once), revoke, authenticate."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from core.capabilities import Capability
from core.models import ApiToken, Tenant
from core.models.tokens import TOKEN_PREFIX, hash_token_secret
from core.services.guards import require_capability

TOKEN_AUDIT_FIELDS = ["user_id", "name", "key_id", "scope", "expires_at", "revoked_at"]


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown to the user once; never stored


@transaction.atomic
def api_token_create(
    *,
    actor,
    tenant: Tenant,
    name: str,
    scope: str = ApiToken.Scope.READ,
    expires_at: dt.datetime | None = None,
) -> IssuedToken:
    require_capability(actor, Capability.MANAGE_TOKENS, tenant)
    if actor is None:
        raise ValidationError(_("An API token must belong to a user."))
    now = timezone.now()
    expires_at = expires_at or now + settings.API_TOKEN_DEFAULT_TTL
    if expires_at <= now:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    if expires_at > now + settings.API_TOKEN_MAX_TTL:
        raise ValidationError(
            {
                "expires_at": _("Tokens may live at most %(days)s days.")
                % {"days": settings.API_TOKEN_MAX_TTL.days}
            }
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}{key_id}_{secret}"
    token = ApiToken(
        tenant=tenant,
        user=actor,
        name=name,
        key_id=key_id,
        secret_hash=hash_token_secret(raw),
        scope=scope,
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    record_event(
        event_type="api_token.created",
        actor=actor,
        tenant=tenant,
        target=token,
        after=snapshot(token, TOKEN_AUDIT_FIELDS),
    )
    return IssuedToken(token=token, raw=raw)


@transaction.atomic
def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if actor is None or actor.pk != token.user_id:
        # Anyone may revoke their own token; revoking others' needs the capability.
        require_capability(actor, Capability.MANAGE_TOKENS, token.tenant)
    if token.revoked_at is not None:
        raise ValidationError(_("This token is already revoked."))
    before = snapshot(token, TOKEN_AUDIT_FIELDS)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event(
        event_type="api_token.revoked",
        actor=actor,
        tenant=token.tenant,
        target=token,
        before=before,
        after=snapshot(token, TOKEN_AUDIT_FIELDS),
    )
    return token


class TokenRejected(Exception):
    """The presented token cannot be used; the message says why, without echoing the secret."""


def api_token_authenticate(raw: str) -> ApiToken:
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        raise TokenRejected(_("Malformed API token."))
    key_id = raw[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user", "tenant").filter(key_id=key_id).first()
    if token is None or not secrets.compare_digest(token.secret_hash, hash_token_secret(raw)):
        raise TokenRejected(_("Invalid API token."))
    if token.revoked_at is not None:
        raise TokenRejected(_("This API token was revoked."))
    if token.is_expired:
        raise TokenRejected(_("This API token expired on %(date)s.") % {"date": token.expires_at})
    if not token.user.is_active:
        raise TokenRejected(_("The user who owns this API token is inactive."))
    now = timezone.now()
    # Coarse last-used stamp: at most one write a minute per token keeps auth read-only.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
