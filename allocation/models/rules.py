"""Mapping rules (virtual tags): ordered conditions over cost rows that set business dimensions
and virtual tag values.

Rules are evaluated in ``position`` order and the first matching rule wins, separately for each
output: the hierarchy (business unit, project, feature: one output, so it stays consistent), the
environment, the cost center and each virtual tag. A rule that sets only the environment does not
stop a later rule from setting the project. The engine is ``allocation.mapping``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from allocation.models.dimensions import (
    DIMENSION_CAPABILITIES,
    BusinessUnit,
    CostCenter,
    Environment,
    Feature,
    Project,
)
from core.models import TenantOwnedModel

VIRTUAL_TAG_KEY = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$",
    _("Letters, digits and _ . : / - only, starting with a letter or digit."),
)


class VirtualTag(TenantOwnedModel):
    """A tag computed by the mapping rules (e.g. ``team``), stored beside the provider's tags."""

    key = models.CharField(_("key"), max_length=100, validators=[VIRTUAL_TAG_KEY])
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    tenant_capabilities = DIMENSION_CAPABILITIES

    class Meta:
        ordering = ["key", "id"]
        verbose_name = _("virtual tag")
        verbose_name_plural = _("virtual tags")
        constraints = [
            models.UniqueConstraint("tenant", Lower("key"), name="virtualtag_unique_key")
        ]

    def __str__(self) -> str:
        return self.key


class TagRule(TenantOwnedModel):
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(
        _("position"), help_text=_("Rules are tried in this order; the first match wins.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # [{"field": "service", "op": "in", "values": ["Compute Cloud"]}, {"field": "tag", "key":
    # "team", "op": "missing"}, ...]: all must hold (see allocation.conditions).
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)
    business_unit = models.ForeignKey(
        BusinessUnit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("business unit"),
    )
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("project"),
    )
    feature = models.ForeignKey(
        Feature,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("feature"),
    )
    environment = models.ForeignKey(
        Environment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("environment"),
    )
    cost_center = models.ForeignKey(
        CostCenter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cost center"),
    )
    virtual_tag = models.ForeignKey(
        VirtualTag,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
        verbose_name=_("virtual tag"),
    )
    virtual_tag_value = models.CharField(
        _("virtual tag value"),
        max_length=200,
        blank=True,
        help_text=_("The value the virtual tag takes on matching rows."),
    )
    virtual_tag_from_key = models.CharField(
        _("value from tag"),
        max_length=200,
        blank=True,
        help_text=_("Or: copy the value of this (normalised) tag key, e.g. team."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    tenant_capabilities = DIMENSION_CAPABILITIES
    # Rules see every project's rows: hidden from members limited to some dimension values.
    dimension_lookups = {}

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        return Q(pk__in=[])

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("mapping rule")
        verbose_name_plural = _("mapping rules")
        indexes = [models.Index(fields=["tenant", "position"], name="tagrule_tenant_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"
