"""Tag aliases (normalisation), the tagging policy (required keys) and virtual tags.

Aliases change what tag conditions match, so adding or removing one re-applies the rules.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from allocation.models import MappingRun, RequiredTag, TagAlias, TagRule, VirtualTag
from allocation.services.common import lock_rules, require_manage, rules_need_reapplying
from allocation.services.runs import mapping_run_enqueue
from core.audit import record_event, snapshot

ALIAS_FIELDS = ["kind", "key", "alias", "canonical"]


@transaction.atomic
def tag_alias_create(*, actor, tenant, kind: str, alias: str, canonical: str, key: str = ""):
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    alias, canonical, key = alias.strip(), canonical.strip(), key.strip()
    if kind == TagAlias.Kind.VALUE and not key:
        raise ValidationError({"key": [_("A value alias names the key whose values it renames.")]})
    if kind == TagAlias.Kind.KEY and key:
        raise ValidationError({"key": [_("A key alias takes no key.")]})
    # "Env" → "env" is an alias too: it makes the key's case irrelevant (aliases match any case).
    if alias == canonical:
        raise ValidationError({"alias": [_("An alias differs from what it becomes.")]})
    if kind == TagAlias.Kind.KEY:
        # No chains: an alias is not some other alias's target, and a target is nobody's alias.
        keys = TagAlias.objects.filter(tenant=tenant, kind=TagAlias.Kind.KEY)
        others = keys.exclude(canonical__iexact=canonical)
        if others.filter(canonical__iexact=alias).exists():
            raise ValidationError({"alias": [_("Other aliases become this key.")]})
        if others.filter(alias__iexact=canonical).exists():
            raise ValidationError({"canonical": [_("This key is itself an alias.")]})
        if keys.filter(alias__iexact=alias).exclude(canonical=canonical).exists():
            raise ValidationError({"alias": [_("This alias already becomes another key.")]})
    row = TagAlias(tenant=tenant, kind=kind, key=key, alias=alias, canonical=canonical)
    row.full_clean()
    row.save()
    _rules_changed(actor, tenant, _("tag alias %(a)s added") % {"a": row})
    record_event(
        event_type="allocation.tag_alias_created",
        actor=actor,
        tenant=tenant,
        target=row,
        after=snapshot(row, ALIAS_FIELDS),
    )
    return row


@transaction.atomic
def tag_alias_delete(*, actor, alias: TagAlias) -> None:
    tenant = alias.tenant
    require_manage(actor, tenant)
    lock_rules(tenant.pk)
    _rules_changed(actor, tenant, _("tag alias %(a)s removed") % {"a": alias})
    record_event(
        event_type="allocation.tag_alias_deleted",
        actor=actor,
        tenant=tenant,
        target=alias,
        before=snapshot(alias, ALIAS_FIELDS),
    )
    alias.delete()


def _rules_changed(actor, tenant, reason: str) -> None:
    if rules_need_reapplying(tenant.pk):
        mapping_run_enqueue(
            tenant=tenant,
            trigger=MappingRun.Trigger.RULES_CHANGED,
            reason=reason,
            created_by=actor,
        )


# --- tagging policy ------------------------------------------------------------------------
@transaction.atomic
def required_tag_create(*, actor, tenant, key: str, description: str = "") -> RequiredTag:
    require_manage(actor, tenant)
    row = RequiredTag(tenant=tenant, key=key.strip(), description=description)
    row.full_clean()
    row.save()
    record_event(
        event_type="allocation.required_tag_created",
        actor=actor,
        tenant=tenant,
        target=row,
        after=snapshot(row, ["key", "description"]),
    )
    return row


@transaction.atomic
def required_tag_update(*, actor, required_tag: RequiredTag, **changes) -> RequiredTag:
    unknown = set(changes) - {"key", "description"}
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    tenant = required_tag.tenant
    require_manage(actor, tenant)
    row = RequiredTag.objects.select_for_update().get(pk=required_tag.pk)
    before = snapshot(row, ["key", "description"])
    for name, value in changes.items():
        setattr(row, name, value.strip() if name == "key" else value)
    row.full_clean()
    row.save()
    record_event(
        event_type="allocation.required_tag_updated",
        actor=actor,
        tenant=tenant,
        target=row,
        before=before,
        after=snapshot(row, ["key", "description"]),
    )
    return row


@transaction.atomic
def required_tag_delete(*, actor, required_tag: RequiredTag) -> None:
    require_manage(actor, required_tag.tenant)
    record_event(
        event_type="allocation.required_tag_deleted",
        actor=actor,
        tenant=required_tag.tenant,
        target=required_tag,
        before=snapshot(required_tag, ["key", "description"]),
    )
    required_tag.delete()


# --- virtual tags --------------------------------------------------------------------------
@transaction.atomic
def virtual_tag_create(*, actor, tenant, key: str, description: str = "") -> VirtualTag:
    require_manage(actor, tenant)
    row = VirtualTag(tenant=tenant, key=key.strip(), description=description)
    row.full_clean()
    row.save()
    record_event(
        event_type="allocation.virtual_tag_created",
        actor=actor,
        tenant=tenant,
        target=row,
        after=snapshot(row, ["key", "description"]),
    )
    return row


@transaction.atomic
def virtual_tag_update(*, actor, virtual_tag: VirtualTag, **changes) -> VirtualTag:
    """Renaming a virtual tag needs no re-application: rows store its id."""
    unknown = set(changes) - {"key", "description"}
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    tenant = virtual_tag.tenant
    require_manage(actor, tenant)
    row = VirtualTag.objects.select_for_update().get(pk=virtual_tag.pk)
    before = snapshot(row, ["key", "description"])
    for name, value in changes.items():
        setattr(row, name, value.strip() if name == "key" else value)
    row.full_clean()
    row.save()
    record_event(
        event_type="allocation.virtual_tag_updated",
        actor=actor,
        tenant=tenant,
        target=row,
        before=before,
        after=snapshot(row, ["key", "description"]),
    )
    return row


@transaction.atomic
def virtual_tag_delete(*, actor, virtual_tag: VirtualTag) -> None:
    """Refused while rules set it; rows keep no value once its rules are gone and re-applied."""
    tenant = virtual_tag.tenant
    require_manage(actor, tenant)
    rules = TagRule.objects.filter(tenant=tenant, virtual_tag=virtual_tag).count()
    if rules:
        raise ValidationError(
            _("%(key)s cannot be deleted: %(n)d mapping rule(s) set it.")
            % {"key": virtual_tag.key, "n": rules}
        )
    record_event(
        event_type="allocation.virtual_tag_deleted",
        actor=actor,
        tenant=tenant,
        target=virtual_tag,
        before=snapshot(virtual_tag, ["key", "description"]),
    )
    virtual_tag.delete()
