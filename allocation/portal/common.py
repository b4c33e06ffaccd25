"""What the allocation pages share: months, the "may change settings" check, redirects."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from core.access import dimension_scope_for
from core.capabilities import Capability
from core.portal.tenancy import portal_can

MONTHS_LISTED = 13


def month_start(tenant) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date().replace(day=1)


def selected_month(value: str | None, tenant) -> dt.date:
    try:
        return dt.datetime.strptime(value or "", "%Y-%m").date()
    except ValueError:
        return month_start(tenant)


def months(latest: dt.date) -> list[dt.date]:
    found = [latest]
    for _n in range(MONTHS_LISTED - 1):
        found.append((found[-1] - dt.timedelta(days=1)).replace(day=1))
    return found


def month_end(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def can_manage(request) -> bool:
    """Whether the user may change the tenant's allocation settings (not when limited)."""
    return portal_can(request, Capability.MANAGE_ALLOCATION) and (
        dimension_scope_for(request.user, request.portal_tenant, Capability.MANAGE_ALLOCATION)
        is None
    )


def require_manage(request) -> None:
    if not can_manage(request):
        raise PermissionDenied(_("You cannot change the allocation settings of this tenant."))


def error_text(error) -> str:
    return " ".join(getattr(error, "messages", [str(error)]))
