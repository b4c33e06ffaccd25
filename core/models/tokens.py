"""API tokens for integrators: bound to one tenant subtree and a scope, stored hashed."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models.base import TenantOwnedModel

TOKEN_PREFIX = "izt_"  # noqa: S105 (a public marker, not a secret)


def hash_token_secret(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is safe and keeps auth cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(TenantOwnedModel):
    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    key_id = models.CharField(_("key id"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    expires_at = models.DateTimeField(_("expires"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    ancestor_relations = frozenset({"created_by_token"})
    # The token that authenticated the request creating this one (None: created in a session).
    # A token never outlives its creator, and revoking the creator revokes it too.
    created_by_token = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="issued_tokens",
        verbose_name=_("created by token"),
    )

    tenant_capabilities = {
        "view": Capability.MANAGE_TOKENS,
        "add": Capability.MANAGE_TOKENS,
        "change": Capability.MANAGE_TOKENS,
        "delete": Capability.MANAGE_TOKENS,
    }

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.key_id}…)"

    @property
    def allows_write(self) -> bool:
        return self.scope == self.Scope.WRITE

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired
