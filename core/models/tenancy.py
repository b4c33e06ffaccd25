"""Tenants (a tree: the MSP, its clients, their sub-tenants) and user memberships."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from core.capabilities import Capability, Role
from core.models.base import TenantOwnedModel
from core.querysets import TenantScopedQuerySet

CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", _("Use an ISO 4217 code such as RUB or USD."))


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(value)s"), params={"value": value})


class TenantQuerySet(TenantScopedQuerySet):
    tenant_lookup = "pk"


class Tenant(models.Model):
    class CostAmounts(models.TextChoices):
        GROSS = "gross", _("Gross (including VAT)")
        NET = "net", _("Net (excluding VAT)")

    class Kind(models.TextChoices):
        MSP = "msp", _("MSP organisation")
        CLIENT = "client", _("Client")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    # Ids from the root down to this tenant. "Granted on an ancestor" and "inside a subtree" are
    # then one GIN-indexed array overlap/containment, computed once per query, not per row.
    lineage = ArrayField(models.BigIntegerField(), editable=False, default=list)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CLIENT)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    default_currency = models.CharField(
        _("default currency"), max_length=3, default="RUB", validators=[CURRENCY_VALIDATOR]
    )
    locale = models.CharField(_("locale"), max_length=8, choices=settings.LANGUAGES, default="ru")
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Moscow", validators=[validate_time_zone]
    )
    # How cost reports show amounts: with VAT (what the invoice says for Russian clouds) or
    # without it. See providers.costs.query for the exact rule.
    cost_amounts = models.CharField(
        _("cost amounts"),
        max_length=8,
        choices=CostAmounts.choices,
        default=CostAmounts.GROSS,
        help_text=_("Show costs gross (including VAT) or net (excluding VAT)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    tenant_capabilities = {
        "view": Capability.VIEW_TENANT,
        "change": Capability.MANAGE_TENANT,
        "add": Capability.MANAGE_SUBTENANTS,
    }

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        default_permissions = ()
        permissions = list(Capability.choices)
        indexes = [GinIndex(fields=["lineage"], name="tenant_lineage_gin")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        expected = [*(self.parent.lineage if self.parent_id else []), self.pk]
        if self.lineage != expected:
            self.lineage = expected
            Tenant.objects.filter(pk=self.pk).update(lineage=expected)

    @classmethod
    def capability_for(cls, action: str) -> str | None:
        return cls.tenant_capabilities.get(action)

    @property
    def tenant_id(self) -> int | None:
        """A tenant owns itself: lets generic code treat Tenant like any tenant-owned row."""
        return self.pk

    @property
    def depth(self) -> int:
        return max(len(self.lineage) - 1, 0)


class TenantUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Tenant, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["user", "permission"])]


class TenantGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Tenant, on_delete=models.CASCADE)


class Membership(TenantOwnedModel):
    """A user's role in one tenant; the role's capabilities are granted through guardian."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    # {} (the whole tenant) or {dimension: [ids]}: the member sees only rows of those dimension
    # values (core.dimensions; enforced by for_user). Written by membership_scope_set only.
    dimension_scope = models.JSONField(_("limited to"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    tenant_capabilities = {
        "view": Capability.VIEW_TENANT,
        "add": Capability.MANAGE_MEMBERS,
        "change": Capability.MANAGE_MEMBERS,
        "delete": Capability.MANAGE_MEMBERS,
    }

    class Meta:
        ordering = ["tenant__name", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"
