"""Tag normalisation and tagging policy.

Stored tags are what the provider billed (FOCUS forbids altering them); normalisation is applied
when tags are read: discovery, the compliance report and the mapping rules' tag conditions see
``Env``, ``environment`` and ``env`` as one key ``env`` once aliases say so, and ``production``
as ``prod``. Aliases match case-insensitively; keys and values no alias names stay as they are.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from allocation.models.dimensions import DIMENSION_CAPABILITIES
from core.models import TenantOwnedModel

TAG_KEY_VALIDATOR = RegexValidator(
    r"^[^\x00-\x1f\x7f]+$", _("A tag key has no control characters.")
)


class TagAlias(TenantOwnedModel):
    class Kind(models.TextChoices):
        KEY = "key", _("Key")
        VALUE = "value", _("Value")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    key = models.CharField(
        _("key"),
        max_length=200,
        blank=True,
        validators=[TAG_KEY_VALIDATOR],
        help_text=_("For a value alias: the (normalised) key whose values it renames."),
    )
    alias = models.CharField(
        _("alias"),
        max_length=200,
        help_text=_("The spelling to rename, matched whatever its case (e.g. Environment)."),
    )
    canonical = models.CharField(
        _("becomes"),
        max_length=200,
        help_text=_("The normalised key or value (e.g. env, prod)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    tenant_capabilities = DIMENSION_CAPABILITIES

    class Meta:
        ordering = ["kind", "key", "canonical", "alias", "id"]
        verbose_name = _("tag alias")
        verbose_name_plural = _("tag aliases")
        constraints = [
            models.UniqueConstraint(
                "tenant", "kind", Lower("key"), Lower("alias"), name="tagalias_unique_alias"
            )
        ]

    def __str__(self) -> str:
        prefix = f"{self.key}=" if self.kind == self.Kind.VALUE else ""
        return f"{prefix}{self.alias} → {prefix}{self.canonical}"


class RequiredTag(TenantOwnedModel):
    """The tagging policy: every resource and cost row should carry this (normalised) key."""

    key = models.CharField(_("key"), max_length=200, validators=[TAG_KEY_VALIDATOR])
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    tenant_capabilities = DIMENSION_CAPABILITIES

    class Meta:
        ordering = ["key", "id"]
        verbose_name = _("required tag")
        verbose_name_plural = _("required tags")
        constraints = [
            models.UniqueConstraint("tenant", Lower("key"), name="requiredtag_unique_key")
        ]

    def __str__(self) -> str:
        return self.key
