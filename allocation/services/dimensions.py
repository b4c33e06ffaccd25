"""Business units, projects, features, environments and cost centers: one set of services for
the five kinds (``kind`` is the dimension key: "business_unit", "project", …)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from allocation.models import DIMENSION_MODELS, Dimension, MappingRun, TagRule
from allocation.services.common import check_member, lock_rules, require_manage
from allocation.services.runs import mapping_run_enqueue
from core.audit import record_event, snapshot
from core.models import Membership

EDITABLE = ("name", "code", "description", "owner")
PARENTS = {"project": "business_unit", "feature": "project"}
FIELDS = ("name", "code", "description", "owner_id", "business_unit_id", "project_id")


def _snapshot(dimension: Dimension) -> dict:
    return snapshot(dimension, [f for f in FIELDS if hasattr(dimension, f)])


def _model(kind: str) -> type[Dimension]:
    model = DIMENSION_MODELS.get(kind)
    if model is None:
        raise ValidationError({"kind": [_("Unknown dimension kind: %(kind)s") % {"kind": kind}]})
    return model


@transaction.atomic
def dimension_create(
    *,
    actor,
    kind: str,
    tenant,
    name: str,
    code: str = "",
    description: str = "",
    owner=None,
    business_unit=None,
    project=None,
) -> Dimension:
    model = _model(kind)
    require_manage(actor, tenant)
    check_member(tenant, owner)
    fields = {"name": name, "code": code, "description": description, "owner": owner}
    parent = PARENTS.get(kind)
    if parent == "business_unit":
        fields["business_unit"] = business_unit
    elif parent == "project":
        fields["project"] = project
    dimension = model(tenant=tenant, **fields)
    dimension.full_clean()
    dimension.save()
    record_event(
        event_type=f"allocation.{kind}_created",
        actor=actor,
        tenant=tenant,
        target=dimension,
        after=_snapshot(dimension),
    )
    return dimension


@transaction.atomic
def dimension_update(*, actor, dimension: Dimension, **changes) -> Dimension:
    """Change name, code, description, owner, or the parent (a project's business unit, a
    feature's project): a new parent re-applies the rules, since rows carry the whole path."""
    model = type(dimension)
    parent = PARENTS.get(model.key)
    allowed = {*EDITABLE, *([parent] if parent else [])}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    tenant = dimension.tenant
    require_manage(actor, tenant)
    if parent in changes:
        lock_rules(tenant.pk)
    dimension = model.objects.select_for_update().get(pk=dimension.pk)
    if "owner" in changes:
        check_member(tenant, changes["owner"])
    before = _snapshot(dimension)
    for name, value in changes.items():
        setattr(dimension, name, value)
    dimension.full_clean()
    dimension.save()
    after = _snapshot(dimension)
    moved = parent is not None and before.get(f"{parent}_id") != after.get(f"{parent}_id")
    if moved and TagRule.objects.filter(tenant=tenant, enabled=True).exists():
        mapping_run_enqueue(
            tenant=tenant,
            trigger=MappingRun.Trigger.RULES_CHANGED,
            reason=_("%(name)s moved") % {"name": dimension.name},
            created_by=actor,
        )
    record_event(
        event_type=f"allocation.{model.key}_updated",
        actor=actor,
        tenant=tenant,
        target=dimension,
        before=before,
        after=after,
    )
    return dimension


@transaction.atomic
def dimension_delete(*, actor, dimension: Dimension) -> None:
    """Refused while anything still names the value: rules, members limited to it, values
    under it, or cost rows (the rules' re-application clears those once no rule names it)."""
    from providers.models import CostDailySummary

    model = type(dimension)
    tenant = dimension.tenant
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    dimension = model.objects.select_for_update().get(pk=dimension.pk)
    key = model.key
    reasons = []
    rules = TagRule.objects.filter(tenant=tenant, **{key: dimension}).count()
    if rules:
        reasons.append(_("%(n)d mapping rule(s) set it") % {"n": rules})
    from allocation.services.shared import rules_referencing

    sharing = len(rules_referencing(tenant.pk, key, dimension.pk))
    if sharing:
        reasons.append(_("%(n)d shared-cost rule(s) split costs over it") % {"n": sharing})
    children = {"business_unit": "projects", "project": "features"}.get(key)
    if children and getattr(dimension, children).exists():
        reasons.append(_("values under it exist"))
    limited = Membership.objects.filter(
        tenant=tenant, **{f"dimension_scope__{key}__contains": [dimension.pk]}
    ).count()
    if limited:
        reasons.append(_("%(n)d member(s) are limited to it") % {"n": limited})
    if CostDailySummary.objects.filter(tenant=tenant, **{f"x_{key}_id": dimension.pk}).exists():
        reasons.append(_("cost rows still carry it (wait for the rules to be re-applied)"))
    if reasons:
        raise ValidationError(
            _("%(name)s cannot be deleted: %(reasons)s.")
            % {"name": dimension.name, "reasons": "; ".join(reasons)}
        )
    record_event(
        event_type=f"allocation.{key}_deleted",
        actor=actor,
        tenant=tenant,
        target=dimension,
        before=_snapshot(dimension),
    )
    dimension.delete()
