"""VAT rules: create, change and delete (platform data, like exchange rates).

A rule says which VAT applies to a provider's charges (in a currency, or any) from a date; every
import reads them, so only platform superusers change them (``actor=None`` is the system: data
migrations and seeding). Events go on the platform chain (tenant NULL) with the rule before and
after.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from providers.models import VatRule

FIELDS = ["provider_name", "currency", "valid_from", "rate", "included_in_price"]


def _require_platform_admin(actor) -> None:
    if actor is None or (actor.is_active and actor.is_superuser):
        return
    raise PermissionDenied(_("Only platform administrators change VAT rules."))


@transaction.atomic
def vat_rule_create(*, actor, **fields) -> VatRule:
    _require_platform_admin(actor)
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError({name: _("Not a VAT rule field.") for name in sorted(unknown)})
    rule = VatRule(**fields)
    rule.full_clean()
    rule.save()
    record_event(event_type="vatrule.created", actor=actor, target=rule, after=snapshot(rule))
    return rule


@transaction.atomic
def vat_rule_update(*, actor, rule: VatRule, **changes) -> VatRule:
    _require_platform_admin(actor)
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError({name: _("Not a VAT rule field.") for name in sorted(unknown)})
    rule = VatRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule)
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.full_clean()
    rule.save()
    record_event(
        event_type="vatrule.updated", actor=actor, target=rule, before=before, after=snapshot(rule)
    )
    return rule


@transaction.atomic
def vat_rule_delete(*, actor, rule: VatRule) -> None:
    _require_platform_admin(actor)
    rule = VatRule.objects.select_for_update().get(pk=rule.pk)
    record_event(event_type="vatrule.deleted", actor=actor, target=rule, before=snapshot(rule))
    rule.delete()
