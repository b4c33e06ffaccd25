"""Demo: a Yandex Cloud connection per demo client tenant, pointed at a running simulator.

``scripts/infrazen.py up`` starts the simulator and passes its URL as YANDEX_SIMULATOR_URL; without
it this step does nothing (there is nothing to connect to). Connections are created through
``connection_create``, so their first sync is queued at once and the worker runs it. The simulator
gets a new port on every start, so an existing demo connection is re-pointed (audited) and synced.
"""

from __future__ import annotations

from django.conf import settings

from core.management.commands.seed_demo import CLIENTS
from providers.adapters.yandex.simulator_iam import DEFAULT_OAUTH_TOKEN
from providers.models import Connection, ProviderType, SyncRun

CONNECTION_NAME = "Yandex Cloud (demo simulator)"


def create_demo_connections(demo) -> None:
    from providers.services.connections import (
        connection_create,
        connection_request_sync,
        connection_update,
    )

    url = settings.YANDEX_SIMULATOR_URL
    if not url:
        return
    endpoints = {"*": url}
    for spec in CLIENTS:
        tenant = demo.tenants[spec["key"]]
        connection = Connection.objects.filter(tenant=tenant, name=CONNECTION_NAME).first()
        if connection is None:
            connection_create(
                actor=None,
                tenant=tenant,
                provider=ProviderType.YANDEX_CLOUD,
                name=CONNECTION_NAME,
                credentials={"oauth_token": DEFAULT_OAUTH_TOKEN},
                endpoints=endpoints,
            )
            demo.note_created(f"connection {CONNECTION_NAME!r} @ {tenant.slug}")
        elif connection.endpoints != endpoints:
            connection = connection_update(actor=None, connection=connection, endpoints=endpoints)
            if connection.is_enabled:
                connection_request_sync(actor=None, connection=connection)
            demo.say(f"  {CONNECTION_NAME!r} @ {tenant.slug} now points at {url}")


def demo_sync_status(since: str | None = None) -> list[dict]:
    """Each demo connection with its latest successful discovery run started at or after
    ``since`` (ISO 8601; None while there is none); the quick-start's smoke test waits on this."""
    rows = []
    connections = Connection.objects.filter(
        name=CONNECTION_NAME, tenant__slug__in=[spec["slug"] for spec in CLIENTS]
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
    return sorted(rows, key=lambda row: row["tenant"])


STEPS = [create_demo_connections]
