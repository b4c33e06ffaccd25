"""Business dimensions of a tenant: business units, their projects, the projects' features,
environments and cost centers. Cost rows point at them by id (``CostLineItem.x_*_id``, filled by
the mapping rules); a membership may be limited to some of them (``core.dimensions``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel

MANAGE = Capability.MANAGE_ALLOCATION
DIMENSION_CAPABILITIES = {
    "view": Capability.VIEW_TENANT,
    "add": MANAGE,
    "change": MANAGE,
    "delete": MANAGE,
}
# The hierarchy: a feature belongs to a project, a project to a business unit.
HIERARCHY = ("business_unit", "project", "feature")


class Dimension(TenantOwnedModel):
    # The dimension's key in scopes, cost-query group-bys and rule targets.
    key: str = ""
    # Lookups from this model to each hierarchy level at or above it ("pk" for itself).
    ancestors: dict[str, str] = {}

    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(
        _("code"),
        max_length=64,
        blank=True,
        help_text=_("Your own reference (an ERP or accounting code), optional."),
    )
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
        help_text=_("A member of the tenant who answers for these costs."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    tenant_capabilities = DIMENSION_CAPABILITIES

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def dimension_scoped(cls) -> bool:
        return True

    @classmethod
    def dimension_filter(cls, tenant_id, scope):
        """A limited member sees the values of their scope, the values above them in the
        hierarchy (a project lead sees their project's business unit) and those below them;
        other dimensions do not narrow this one (a project lead sees every environment)."""
        condition = Q()
        for key, ids in scope.items():
            ids = list(ids)
            if key in cls.ancestors:  # the scope is at or above this level
                condition &= Q(**{f"{cls.ancestors[key]}__in": ids})
            elif key in HIERARCHY and cls.key in HIERARCHY:  # the scope is below this level
                below = DIMENSION_MODELS[key]
                path = below.ancestors[cls.key]
                condition &= Q(pk__in=below.objects.filter(pk__in=ids).values(path))
        return condition


def _unique_name(model: str):
    return models.UniqueConstraint("tenant", Lower("name"), name=f"{model}_unique_name")


class BusinessUnit(Dimension):
    key = "business_unit"
    ancestors = {"business_unit": "pk"}

    class Meta(Dimension.Meta):
        verbose_name = _("business unit")
        verbose_name_plural = _("business units")
        constraints = [_unique_name("businessunit")]


class Project(Dimension):
    key = "project"
    ancestors = {"project": "pk", "business_unit": "business_unit_id"}

    business_unit = models.ForeignKey(
        BusinessUnit,
        on_delete=models.PROTECT,
        related_name="projects",
        verbose_name=_("business unit"),
    )

    class Meta(Dimension.Meta):
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [_unique_name("project")]


class Feature(Dimension):
    key = "feature"
    ancestors = {
        "feature": "pk",
        "project": "project_id",
        "business_unit": "project__business_unit_id",
    }

    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="features", verbose_name=_("project")
    )

    class Meta(Dimension.Meta):
        verbose_name = _("feature")
        verbose_name_plural = _("features")
        constraints = [
            models.UniqueConstraint("project", Lower("name"), name="feature_unique_name")
        ]


class Environment(Dimension):
    key = "environment"
    ancestors = {"environment": "pk"}

    class Meta(Dimension.Meta):
        verbose_name = _("environment")
        verbose_name_plural = _("environments")
        constraints = [_unique_name("environment")]


class CostCenter(Dimension):
    key = "cost_center"
    ancestors = {"cost_center": "pk"}

    class Meta(Dimension.Meta):
        verbose_name = _("cost center")
        verbose_name_plural = _("cost centers")
        constraints = [_unique_name("costcenter")]


DIMENSION_MODELS: dict[str, type[Dimension]] = {
    model.key: model for model in (BusinessUnit, Project, Feature, Environment, CostCenter)
}
