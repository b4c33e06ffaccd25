"""Base classes every tenant-owned model builds on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.querysets import TenantScopedQuerySet


class TenantOwnedModel(models.Model):
    """A row that belongs to exactly one tenant.

    ``tenant_capabilities`` maps an action ("view", "add", "change", "delete", or a custom one) to
    the Tenant capability that authorises it. Actions missing from the map are refused.
    """

    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=True,
        verbose_name=_("tenant"),
    )

    objects = TenantScopedQuerySet.as_manager()

    tenant_capabilities: dict[str, str] = {"view": Capability.VIEW_TENANT}

    class Meta:
        abstract = True

    @classmethod
    def capability_for(cls, action: str) -> str | None:
        return cls.tenant_capabilities.get(action)

    # How rows map to business dimensions, for members limited to some dimension values
    # (``Membership.dimension_scope``, see ``core.dimensions``):
    #   None: tenant-wide rows (connections, settings): such members see them like any member;
    #   {dimension: lookup}: a limited member sees a row only if, for every dimension of their
    #   limit that the model maps, the row's value is one of theirs (NULL is nobody's).
    #   Dimensions the model does not map do not narrow it.
    # A model whose rows relate to dimensions some other way overrides ``dimension_filter``.
    dimension_lookups: ClassVar[Mapping[str, str] | None] = None

    @classmethod
    def dimension_scoped(cls) -> bool:
        """Whether limited members see fewer of these rows than the whole tenant's."""
        return cls.dimension_lookups is not None

    @classmethod
    def dimension_filter(cls, tenant_id: int, scope: Mapping[str, Sequence[int]]) -> Q:
        """Which of tenant ``tenant_id``'s rows a member limited to ``scope`` may see."""
        condition = Q()
        for key, ids in scope.items():
            lookup = (cls.dimension_lookups or {}).get(key)
            if lookup is not None:
                condition &= Q(**{f"{lookup}__in": list(ids)})
        return condition

    # Foreign keys that may point at a row of an ancestor tenant rather than the row's own (a
    # token created through an MSP operator's token on a client tenant names that token).
    ancestor_relations: frozenset[str] = frozenset()

    def clean(self) -> None:
        super().clean()
        self.validate_tenant_relations()

    def validate_tenant_relations(self) -> None:
        """Reject foreign keys that point at another tenant's rows (OpenWISP's rule)."""
        if not self.tenant_id:
            return
        errors = {}
        for field in self._meta.concrete_fields:
            if not field.is_relation or field.name == "tenant":
                continue
            related = getattr(self, field.name, None)
            related_tenant = getattr(related, "tenant_id", None)
            if related is None or not related_tenant or related_tenant == self.tenant_id:
                continue
            if field.name in self.ancestor_relations and related_tenant in self.tenant.lineage:
                continue
            errors[field.name] = _("This object belongs to another tenant.")
        if errors:
            raise ValidationError(errors)


def tenant_scoped_models() -> list[type[models.Model]]:
    """Every model whose default manager applies tenant scoping: the isolation registry."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if isinstance(model._default_manager.all(), TenantScopedQuerySet)
    ]
