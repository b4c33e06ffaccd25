"""Provider price lists: create, change and delete prices (platform data, like VAT rules).

Only platform superusers change them (``actor=None`` is the system: seeding); events go on the
platform chain with the price before and after. A price is for a provider that declares
estimates (``CostCapability.ESTIMATE``), in an ISO currency, and not negative.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from providers.models import ProviderPrice

FIELDS = [
    "provider",
    "resource_type",
    "metric",
    "variant",
    "valid_from",
    "price",
    "currency",
    "note",
]


def _require_platform_admin(actor) -> None:
    if actor is None or (actor.is_active and actor.is_superuser):
        return
    raise PermissionDenied(_("Only platform administrators change price lists."))


def _check(price: ProviderPrice) -> None:
    from providers.adapters.registry import UnsupportedProvider, provider_spec
    from providers.adapters.spec import CostCapability
    from providers.focus.currencies import ISO_4217

    errors = {}
    try:
        spec = provider_spec(price.provider)
    except UnsupportedProvider:
        errors["provider"] = [_("Unknown provider.")]
    else:
        if CostCapability.ESTIMATE not in spec.capabilities.costs:
            errors["provider"] = [_("%(p)s costs are not estimated.") % {"p": spec.name}]
    price.currency = (price.currency or "").strip().upper()
    if price.currency not in ISO_4217:
        errors["currency"] = [_("Give an ISO 4217 currency code.")]
    price.variant = (price.variant or "").strip()
    if errors:
        raise ValidationError(errors)
    price.full_clean()


def _unknown(fields) -> None:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError({name: _("Not a price field.") for name in sorted(unknown)})


@transaction.atomic
def provider_price_create(*, actor, **fields) -> ProviderPrice:
    _require_platform_admin(actor)
    _unknown(fields)
    price = ProviderPrice(**fields)
    _check(price)
    price.save()
    record_event(
        event_type="providerprice.created", actor=actor, target=price, after=snapshot(price)
    )
    return price


@transaction.atomic
def provider_price_update(*, actor, entry: ProviderPrice, **changes) -> ProviderPrice:
    """Change one price (``entry``: its ``price`` field is one of the changes)."""
    _require_platform_admin(actor)
    _unknown(changes)
    price = ProviderPrice.objects.select_for_update().get(pk=entry.pk)
    before = snapshot(price)
    for name, value in changes.items():
        setattr(price, name, value)
    _check(price)
    price.save()
    record_event(
        event_type="providerprice.updated",
        actor=actor,
        target=price,
        before=before,
        after=snapshot(price),
    )
    return price


@transaction.atomic
def provider_price_delete(*, actor, entry: ProviderPrice) -> None:
    _require_platform_admin(actor)
    price = ProviderPrice.objects.select_for_update().get(pk=entry.pk)
    record_event(
        event_type="providerprice.deleted", actor=actor, target=price, before=snapshot(price)
    )
    price.delete()
