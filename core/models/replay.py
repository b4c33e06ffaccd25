"""Seen one-time values (webhook signatures, nonces), shared by every process through PostgreSQL."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SeenNonce(models.Model):
    """A value that may be accepted once until ``expires_at``; see ``core.replay``.

    Not tenant data: the key is a digest (the value itself is never stored) and rows live only
    as long as the replay window.
    """

    key = models.CharField(_("key"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("seen nonce")
        verbose_name_plural = _("seen nonces")
        default_permissions = ()

    def __str__(self) -> str:
        return self.key
