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

TOKEN_AUDIT_FIELDS = [
    "user_id",
    "name",
    "key_id",
    "scope",
    "expires_at",
    "revoked_at",
    "created_by_token_id",
]


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
    # Set by ApiTokenAuthentication: the request was made with a token, which bounds the new one.
    creator = getattr(actor, "api_token", None)
    now = timezone.now()
    if expires_at is None:
        expires_at = now + settings.API_TOKEN_DEFAULT_TTL
        if creator is not None:
            expires_at = min(expires_at, creator.expires_at)
    if expires_at <= now:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    if creator is not None and expires_at > creator.expires_at:
        raise ValidationError(
            {
                "expires_at": _(
                    "A token cannot outlive the token that creates it (which expires at %(date)s)."
                )
                % {"date": creator.expires_at.isoformat()}
            }
        )
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
        created_by_token=creator,
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
    """Revoke ``token`` and, in cascade, every still-active token it created (and they created).

    Each revoked token gets its own event on its own tenant's chain (a cascaded one names the
    token it was revoked with); chains are appended in ascending tenant id (see core.locks).
    """
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if actor is None or actor.pk != token.user_id:
        # Anyone may revoke their own token; revoking others' needs the capability.
        require_capability(actor, Capability.MANAGE_TOKENS, token.tenant)
    if token.revoked_at is not None:
        raise ValidationError(_("This token is already revoked."))
    descendants = _active_descendants(token)
    now = timezone.now()
    revoked = sorted([token, *descendants], key=lambda t: (t.tenant_id, t.pk))
    for each in revoked:
        before = snapshot(each, TOKEN_AUDIT_FIELDS)
        each.revoked_at = now
        each.save(update_fields=["revoked_at"])
        record_event(
            event_type="api_token.revoked",
            actor=actor,
            tenant=each.tenant_id,
            target=each,
            before=before,
            after=snapshot(each, TOKEN_AUDIT_FIELDS),
            extra={"cascade_from": token.pk} if each is not token else {},
        )
    return token


def _active_descendants(token: ApiToken) -> list[ApiToken]:
    """Tokens created (transitively) by ``token`` that are not revoked yet, locked."""
    found: list[ApiToken] = []
    parents = [token.pk]
    seen = {token.pk}
    while parents:
        children = list(
            ApiToken.objects.select_for_update()
            .filter(created_by_token_id__in=parents)
            .exclude(pk__in=seen)
            .order_by("pk")
        )
        seen.update(child.pk for child in children)
        found.extend(child for child in children if child.revoked_at is None)
        parents = [child.pk for child in children]
    return found


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
