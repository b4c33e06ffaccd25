"""Tenant lifecycle: create, update, suspend and reactivate."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from core.capabilities import Capability
from core.models import Tenant
from core.services.guards import require_capability

EDITABLE_FIELDS = (
    "name",
    "slug",
    "status",
    "default_currency",
    "locale",
    "time_zone",
    "cost_amounts",
)


@transaction.atomic
def tenant_create(
    *,
    actor,
    name: str,
    slug: str,
    parent: Tenant | None = None,
    kind: str = Tenant.Kind.CLIENT,
    status: str = Tenant.Status.ACTIVE,
    default_currency: str = "RUB",
    locale: str = "ru",
    time_zone: str = "Europe/Moscow",
    cost_amounts: str = Tenant.CostAmounts.GROSS,
) -> Tenant:
    if parent is None:
        # Top-level tenants (new MSP organisations) are for platform superusers only.
        if actor is not None and not actor.is_superuser:
            raise PermissionDenied(_("Only platform administrators can create top-level tenants."))
    else:
        require_capability(actor, Capability.MANAGE_SUBTENANTS, parent)
    tenant = Tenant(
        name=name,
        slug=slug,
        parent=parent,
        kind=kind,
        status=status,
        default_currency=default_currency,
        locale=locale,
        time_zone=time_zone,
        cost_amounts=cost_amounts,
    )
    tenant.full_clean()
    tenant.save()
    record_event(
        event_type="tenant.created",
        actor=actor,
        tenant=tenant,
        target=tenant,
        after=snapshot(tenant),
    )
    return tenant


@transaction.atomic
def tenant_update(*, actor, tenant: Tenant, **changes) -> Tenant:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: _("This field cannot be changed.") for field in unknown})
    require_capability(actor, Capability.MANAGE_TENANT, tenant)
    if "status" in changes and changes["status"] != tenant.status:
        # Suspension is the MSP's decision: customers (who never hold MANAGE_SUBTENANTS) cannot
        # suspend or un-suspend themselves; operators assigned to the tenant or above can.
        require_capability(actor, Capability.MANAGE_SUBTENANTS, tenant)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = snapshot(tenant)
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.full_clean()
    tenant.save()
    after = snapshot(tenant)
    if before != after:
        record_event(
            event_type="tenant.updated",
            actor=actor,
            tenant=tenant,
            target=tenant,
            before=before,
            after=after,
        )
    return tenant
