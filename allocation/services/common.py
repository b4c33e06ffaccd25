"""What every allocation service checks, and the rules lock."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from core.access import dimension_scope_for
from core.capabilities import Capability
from core.locks import LockKey, advisory_xact_lock
from core.models import Membership
from core.services.guards import require_capability


def require_manage(actor, tenant) -> None:
    """``manage_allocation`` on the tenant, as an unrestricted member: settings that apply to
    every project are not for a member limited to some of them."""
    require_capability(actor, Capability.MANAGE_ALLOCATION, tenant)
    if dimension_scope_for(actor, tenant, Capability.MANAGE_ALLOCATION) is not None:
        raise PermissionDenied(
            _("Members limited to some dimension values cannot change allocation settings.")
        )


def lock_rules(tenant_id: int) -> None:
    """Exclusive: taken first by a transaction that changes what the mapping rules do (see
    core.locks); imports mapping with the old rules commit before it proceeds."""
    advisory_xact_lock(LockKey.MAPPING_RULES, tenant_id)


def lock_rules_shared(cursor, tenant_id: int) -> None:
    cursor.execute(
        "SELECT pg_advisory_xact_lock_shared(%s, %s)", [int(LockKey.MAPPING_RULES), tenant_id]
    )


def check_member(tenant, user, field: str = "owner") -> None:
    if user is not None and not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({field: [_("Choose a member of this tenant.")]})


def rules_need_reapplying(tenant_id: int) -> bool:
    from allocation.models import TagRule

    return TagRule.objects.filter(tenant_id=tenant_id, enabled=True).exists()
