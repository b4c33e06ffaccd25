"""Demo: a Yandex Cloud connection per demo client tenant, pointed at a running simulator, and a
billing-export cost source per connection reading the simulator's Object Storage.

``scripts/infrazen.py up`` starts the simulator and passes its URL as YANDEX_SIMULATOR_URL; without
it this step does nothing (there is nothing to connect to). Connections are created through
``connection_create``, so their first sync is queued at once and the worker runs it. The simulator
gets a new port on every start, so an existing demo connection is re-pointed (audited) and synced.
"""

from __future__ import annotations

from django.conf import settings

from core.management.commands.seed_demo import CLIENTS
from providers.adapters.yandex.simulator_iam import DEFAULT_OAUTH_TOKEN
from providers.models import Connection, CostSource, ProviderType, SyncRun

CONNECTION_NAME = "Yandex Cloud (demo simulator)"
COST_SOURCE_NAME = "Yandex Cloud billing export (demo simulator)"


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


def create_demo_cost_sources(demo) -> None:
    """A billing-export source per demo connection, reading the simulator's export bucket.

    Created without an immediate pull: the dispatcher pulls it at its next tick (within a
    minute), by which time the connection's first sync has usually registered the resources
    that the cost rows link to."""
    from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX
    from providers.adapters.yandex.simulator_storage import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_KEY,
        S3_PATH,
    )
    from providers.services.cost_sources import cost_source_create, cost_source_update

    url = settings.YANDEX_SIMULATOR_URL
    if not url:
        return
    endpoint = url.rstrip("/") + S3_PATH
    for spec in CLIENTS:
        tenant = demo.tenants[spec["key"]]
        source = CostSource.objects.filter(tenant=tenant, name=COST_SOURCE_NAME).first()
        if source is None:
            cost_source_create(
                actor=None,
                tenant=tenant,
                kind=CostSource.Kind.YANDEX_BILLING_EXPORT,
                name=COST_SOURCE_NAME,
                connection=Connection.objects.filter(tenant=tenant, name=CONNECTION_NAME).first(),
                endpoint_url=endpoint,
                bucket=BILLING_BUCKET,
                prefix=BILLING_PREFIX,
                credentials={
                    "access_key_id": DEFAULT_ACCESS_KEY_ID,
                    "secret_access_key": DEFAULT_SECRET_KEY,
                },
                start_pull=False,
            )
            demo.note_created(f"cost source {COST_SOURCE_NAME!r} @ {tenant.slug}")
        elif source.endpoint_url != endpoint:
            # (a new location is pulled at the dispatcher's next tick)
            cost_source_update(actor=None, source=source, endpoint_url=endpoint)
            demo.say(f"  {COST_SOURCE_NAME!r} @ {tenant.slug} now reads {endpoint}")


STEPS = [create_demo_connections, create_demo_cost_sources]
