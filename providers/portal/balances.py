"""The portal's Balances page: each connection's prepaid balance, how fast it burns and when it
runs out, and the tenant's totals (the balance that runs out first on top).

Reads the forecasts the balance collections stored on the current tenant's connections
(``providers.balances``): one query, whatever the number of connections.
"""

from __future__ import annotations

import zoneinfo

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.portal.tenancy import portal_can, portal_view
from providers.adapters.registry import UnsupportedProvider, provider_spec
from providers.balances import tenant_balance_overview, tenant_today
from providers.models import Connection

# How the burn rate was found, in the customer's words.
BURN_SOURCES = {
    "costs_7d": _("costs of the last 7 days"),
    "costs_30d": _("costs of the last 30 days"),
    "provider_costs_7d": _("the provider's costs of the last 7 days"),
    "provider_costs_30d": _("the provider's costs of the last 30 days"),
    "balance_7d": _("the balance's decrease over 7 days"),
    "balance_30d": _("the balance's decrease over 30 days"),
}
# Fewer days than this left are shown as a warning.
WARN_DAYS = 14


@portal_view
def balances(request):
    tenant = request.portal_tenant
    if not portal_can(request, Capability.VIEW_COSTS):
        return render(request, "portal/balances.html", {"forbidden": True}, status=403)
    connections = (
        Connection.objects.for_user(request.user, "view").for_tenant(tenant).order_by("name", "pk")
    )
    overview = tenant_balance_overview(connections, today=tenant_today(tenant))
    for row in overview.connections:
        try:
            row.provider_name = provider_spec(row.connection.provider).name
        except UnsupportedProvider:
            row.provider_name = row.connection.provider
        for forecast in row.forecasts:
            forecast.burn_text = BURN_SOURCES.get(forecast.burn_source or "", "")
            forecast.warn = forecast.days_left is not None and forecast.days_left < WARN_DAYS
    with timezone.override(zoneinfo.ZoneInfo(tenant.time_zone)):
        return render(
            request,
            "portal/balances.html",
            {"overview": overview, "warn_days": WARN_DAYS},
        )
