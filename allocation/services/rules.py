"""Mapping rules: create, change, reorder, delete. Every change re-applies the rules to the
history (a ``MappingRun``, queued when the change commits) and is audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _

from allocation.conditions import clean_conditions, connection_ids
from allocation.models import MappingRun, TagRule
from allocation.services.common import lock_rules, require_manage
from allocation.services.runs import mapping_run_enqueue
from core.audit import record_event, snapshot

EDITABLE = (
    "name",
    "position",
    "enabled",
    "conditions",
    "description",
    "business_unit",
    "project",
    "feature",
    "environment",
    "cost_center",
    "virtual_tag",
    "virtual_tag_value",
    "virtual_tag_from_key",
)
SNAPSHOT = [
    "name",
    "position",
    "enabled",
    "conditions",
    "business_unit_id",
    "project_id",
    "feature_id",
    "environment_id",
    "cost_center_id",
    "virtual_tag_id",
    "virtual_tag_value",
    "virtual_tag_from_key",
]


def clean_rule(rule: TagRule) -> None:
    """Validate a rule (saved or not) completely: fields, conditions, targets, tenant."""
    errors: dict[str, list] = {}
    try:
        rule.conditions = clean_conditions(rule.conditions)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    else:
        _check_connections(rule, errors)
        _check_regexes(rule.conditions, errors)
    try:
        rule.full_clean(exclude=["position", "conditions"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if not errors:
        _check_targets(rule, errors)
    if errors:
        raise ValidationError(errors)


def _check_connections(rule: TagRule, errors: dict) -> None:
    from providers.models import Connection

    wanted = connection_ids(rule.conditions)
    if wanted:
        found = set(
            Connection.objects.filter(tenant_id=rule.tenant_id, pk__in=wanted).values_list(
                "pk", flat=True
            )
        )
        if wanted - found:
            errors["conditions"] = [
                _("No such connection in this tenant: %(ids)s.")
                % {"ids": ", ".join(map(str, sorted(wanted - found)))}
            ]


def _check_regexes(conditions, errors: dict) -> None:
    """PostgreSQL's regex dialect is not Python's: ask it."""
    for n, condition in enumerate(conditions, start=1):
        if "value" not in condition:
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT '' ~ %s", [condition["value"]])
        except DatabaseError as exc:
            message = str(exc).splitlines()[0]
            errors.setdefault("conditions", []).append(
                _("Condition %(n)d: invalid regular expression (%(e)s).") % {"n": n, "e": message}
            )


def _check_targets(rule: TagRule, errors: dict) -> None:
    hierarchy = (rule.business_unit_id, rule.project_id, rule.feature_id)
    has_vtag_value = bool(rule.virtual_tag_value or rule.virtual_tag_from_key)
    if rule.virtual_tag_id is None and has_vtag_value:
        errors["virtual_tag"] = [_("Choose the virtual tag this value is for.")]
    if rule.virtual_tag_id is not None:
        if rule.virtual_tag_value and rule.virtual_tag_from_key:
            errors["virtual_tag_value"] = [_("Give a value or a tag to copy, not both.")]
        elif not has_vtag_value:
            errors["virtual_tag_value"] = [_("Give the value (or a tag key to copy it from).")]
    targets = (*hierarchy, rule.environment_id, rule.cost_center_id, rule.virtual_tag_id)
    if not any(targets):
        errors["non_field_errors"] = [
            _(
                "Set at least one of: business unit, project, feature, environment, cost "
                "center, virtual tag."
            )
        ]
    if rule.feature_id and rule.project_id and rule.feature.project_id != rule.project_id:
        errors["feature"] = [_("This feature belongs to another project.")]
    project = rule.project or (rule.feature.project if rule.feature_id else None)
    bu = rule.business_unit_id
    if project is not None and bu and project.business_unit_id != bu:
        errors["project"] = [_("This project belongs to another business unit.")]


def _renumber(tenant, moving: TagRule | None = None, to: int | None = None) -> None:
    """Positions 1..n in order; ``moving`` goes to position ``to`` (1-based, clipped)."""
    rules = list(
        TagRule.objects.select_for_update().filter(tenant=tenant).order_by("position", "id")
    )
    if moving is not None:
        rules = [r for r in rules if r.pk != moving.pk]
        index = max(0, min(len(rules), (to or len(rules) + 1) - 1))
        rules.insert(index, moving)
    changed = []
    for n, rule in enumerate(rules, start=1):
        if rule.position != n:
            rule.position = n
            changed.append(rule)
    TagRule.objects.bulk_update(changed, ["position"])


def _reapply(actor, tenant, reason: str) -> None:
    mapping_run_enqueue(
        tenant=tenant, trigger=MappingRun.Trigger.RULES_CHANGED, reason=reason, created_by=actor
    )


@transaction.atomic
def tag_rule_create(*, actor, tenant, name: str, position: int | None = None, **fields) -> TagRule:
    """A new rule at ``position`` (1 = tried first; default: last)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({n: [_("Unknown field.")] for n in unknown})
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    last = TagRule.objects.filter(tenant=tenant).aggregate(m=Max("position"))["m"] or 0
    rule = TagRule(tenant=tenant, name=name, position=last + 1, created_by=actor, **fields)
    clean_rule(rule)
    rule.save()
    if position is not None:
        _renumber(tenant, rule, position)
        rule.refresh_from_db(fields=["position"])
    _reapply(actor, tenant, _("rule %(name)s added") % {"name": rule.name})
    record_event(
        event_type="allocation.tag_rule_created",
        actor=actor,
        tenant=tenant,
        target=rule,
        after=snapshot(rule, SNAPSHOT),
    )
    return rule


@transaction.atomic
def tag_rule_update(*, actor, rule: TagRule, **changes) -> TagRule:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({n: [_("This field cannot be changed.")] for n in unknown})
    tenant = rule.tenant
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    rule = TagRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule, SNAPSHOT)
    position = changes.pop("position", None)
    for name, value in changes.items():
        setattr(rule, name, value)
    clean_rule(rule)
    rule.save()
    if position is not None and position != rule.position:
        _renumber(tenant, rule, position)
        rule.refresh_from_db(fields=["position"])
    after = snapshot(rule, SNAPSHOT)
    if before != after:
        _reapply(actor, tenant, _("rule %(name)s changed") % {"name": rule.name})
    record_event(
        event_type="allocation.tag_rule_updated",
        actor=actor,
        tenant=tenant,
        target=rule,
        before=before,
        after=after,
    )
    return rule


@transaction.atomic
def tag_rule_delete(*, actor, rule: TagRule) -> None:
    tenant = rule.tenant
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    before = snapshot(rule, SNAPSHOT)
    name = rule.name
    record_event(
        event_type="allocation.tag_rule_deleted",
        actor=actor,
        tenant=tenant,
        target=rule,
        before=before,
    )
    rule.delete()
    TagRule.objects.filter(tenant=tenant, position__gt=before["position"]).update(
        position=F("position") - 1
    )
    _reapply(actor, tenant, _("rule %(name)s deleted") % {"name": name})
