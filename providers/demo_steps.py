"""Demo: a connection per demo client tenant for every provider whose simulator is running, and
the cost source its declaration offers (Yandex Cloud: the billing export in the simulator's
Object Storage; Selectel and Beget: their cost APIs; VK Cloud: estimates from the inventory and
an illustrative price list, seeded when the platform has none).

Which providers and how to connect to their simulators comes from the registry
(``ProviderSpec.simulator``): ``scripts/infrazen.py up`` starts a simulator and passes its URL in
the setting each declaration names (``YANDEX_SIMULATOR_URL`` ...); a provider whose URL is unset is
skipped (there is nothing to connect to). Connections are created through
``connection_create``, so their first sync is queued at once and the worker runs it. A simulator
gets a new port on every start, so an existing demo connection is re-pointed (audited) and synced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings

from core.management.commands.seed_demo import CLIENTS
from providers.adapters.registry import provider_specs
from providers.models import Connection, CostSource, ProviderPrice, SyncRun


def connection_name(spec) -> str:
    return f"{spec.name} (demo simulator)"


def cost_source_name(spec) -> str:
    return f"{spec.name} costs (demo simulator)"


# The names the first demo used (Yandex Cloud), kept so existing demo data is found again.
CONNECTION_NAME = "Yandex Cloud (demo simulator)"
COST_SOURCE_NAME = "Yandex Cloud billing export (demo simulator)"
_LEGACY_COST_SOURCE_NAMES = {"yandex_cloud": COST_SOURCE_NAME}


def _running_simulators():
    """(spec, url) of every provider whose simulator the quick start runs."""
    for spec in provider_specs():
        simulator = spec.simulator
        url = getattr(settings, simulator.url_setting, "") if simulator else ""
        if url:
            yield spec, url


def create_demo_connections(demo) -> None:
    from providers.services.connections import (
        connection_create,
        connection_request_sync,
        connection_update,
    )

    for spec, url in _running_simulators():
        settings_for = spec.simulator.connection(url)
        name = connection_name(spec)
        for client in CLIENTS:
            tenant = demo.tenants[client["key"]]
            connection = Connection.objects.filter(tenant=tenant, name=name).first()
            if connection is None:
                connection_create(
                    actor=None, tenant=tenant, provider=spec.key, name=name, **settings_for
                )
                demo.note_created(f"connection {name!r} @ {tenant.slug}")
            elif connection.endpoints != settings_for.get("endpoints", {}):
                connection = connection_update(
                    actor=None, connection=connection, endpoints=settings_for.get("endpoints", {})
                )
                if connection.is_enabled:
                    connection_request_sync(actor=None, connection=connection)
                demo.say(f"  {name!r} @ {tenant.slug} now points at {url}")


def demo_sync_status(since: str | None = None) -> list[dict]:
    """Each demo connection with its latest successful discovery run started at or after
    ``since`` (ISO 8601; None while there is none); the quick-start's smoke test waits on this."""
    rows = []
    names = [connection_name(spec) for spec, _url in _running_simulators()] or [CONNECTION_NAME]
    connections = Connection.objects.filter(
        name__in=names, tenant__slug__in=[client["slug"] for client in CLIENTS]
    ).select_related("tenant")
    for connection in connections:
        runs = SyncRun.objects.filter(
            connection=connection, kind=SyncRun.Kind.DISCOVERY, status=SyncRun.Status.SUCCEEDED
        )
        if since:
            runs = runs.filter(started_at__gte=since)
        run = runs.order_by("-started_at").first()
        rows.append(
            {
                "tenant": connection.tenant.slug,
                "connection": connection.pk,
                "status": connection.status,
                "last_error": connection.last_error,
                "run": None
                if run is None
                else {
                    "trigger": run.trigger,
                    "seen": run.seen,
                    "created": run.created,
                    "duration_ms": run.duration_ms,
                    "api_calls": run.api_calls,
                },
            }
        )
    return sorted(rows, key=lambda row: (row["tenant"], row["connection"]))


def create_demo_cost_sources(demo) -> None:
    """The cost source each running simulator's provider offers, per demo connection.

    Created without an immediate pull: the dispatcher pulls it at its next tick (within a
    minute), by which time the connection's first sync has usually registered the resources
    that the cost rows link to."""
    from providers.services.cost_sources import cost_source_create, cost_source_update

    for spec, url in _running_simulators():
        offer = spec.simulator.demo_cost_source
        options = offer(url) if offer else None
        if not options:
            continue
        name = _LEGACY_COST_SOURCE_NAMES.get(spec.key) or cost_source_name(spec)
        for client in CLIENTS:
            tenant = demo.tenants[client["key"]]
            source = CostSource.objects.filter(tenant=tenant, name=name).first()
            if source is None:
                cost_source_create(
                    actor=None,
                    tenant=tenant,
                    name=name,
                    connection=Connection.objects.filter(
                        tenant=tenant, name=connection_name(spec)
                    ).first(),
                    start_pull=False,
                    **options,
                )
                demo.note_created(f"cost source {name!r} @ {tenant.slug}")
            elif options.get("endpoint_url") and source.endpoint_url != options["endpoint_url"]:
                # (a new location is pulled at the dispatcher's next tick)
                cost_source_update(actor=None, source=source, endpoint_url=options["endpoint_url"])
                demo.say(f"  {name!r} @ {tenant.slug} now reads {options['endpoint_url']}")


# An illustrative price list for providers whose costs are estimated (VK Cloud): without one the
# demo's estimates would all be zero. Seeded only while the platform has no price for the provider,
# so an operator's real list is never touched.
DEMO_PRICES = {
    "vk_cloud": [
        ("vm", "vcpu_hour", "1.10"),
        ("vm", "memory_gib_hour", "0.45"),
        ("disk", "storage_gib_hour", "0.02"),
        ("ip_address", "hour", "0.25"),
    ],
}
DEMO_PRICES_FROM = dt.date(2020, 1, 1)


def create_demo_prices(demo) -> None:
    from providers.services.prices import provider_price_create

    for spec, _url in _running_simulators():
        prices = DEMO_PRICES.get(spec.key)
        if not prices or ProviderPrice.objects.filter(provider=spec.key).exists():
            continue
        for resource_type, metric, price in prices:
            provider_price_create(
                actor=None,
                provider=spec.key,
                resource_type=resource_type,
                metric=metric,
                valid_from=DEMO_PRICES_FROM,
                price=Decimal(price),
                note="demo price list (illustrative)",
            )
        demo.note_created(f"{len(prices)} demo prices for {spec.name}")


STEPS = [create_demo_connections, create_demo_prices, create_demo_cost_sources]
