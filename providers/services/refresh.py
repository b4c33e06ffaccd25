"""Refreshing one resource (the webhook refresh): read it alone from the provider and apply it
exactly as a sync applies one record of its listing.

``adapter.refresh(provider_id)`` returns the record as discovery would list it (same hash): an
unchanged resource costs no write, a changed one is updated with a "changed" (or "reappeared")
event, and a provider that answers 404 for it (refresh returns None) marks it deleted with a
"disappeared" event — the sync's own functions do each of these, so a refresh and a sync can
never disagree about what a record means. It never lists anything, so it cannot mark any other
resource deleted. The connection's sync lease is held while it writes: a running sync and a
refresh never interleave their writes (the task retries a little later).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError
from core.services.guards import require_capability
from providers.adapters.base import ProviderError, ResourceRecord
from providers.adapters.listing import ListingReport
from providers.adapters.registry import UnsupportedProvider, provider_spec
from providers.models import Connection, Resource

logger = logging.getLogger(__name__)


class Outcome:
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    UNSUPPORTED = "unsupported"  # the provider cannot read this type alone: the next sync will
    BUSY = "busy"  # a sync of the connection holds the lease
    FAILED = "failed"


@dataclass
class RefreshResult:
    resource_id: int
    outcome: str
    error: str = ""
    api_calls: int = 0


def refreshes_resources(connection: Connection) -> bool:
    """Whether the connection's provider can read one resource by id (declared, with adapter)."""
    try:
        spec = provider_spec(connection.provider)
    except UnsupportedProvider:
        return False
    return spec.capabilities.refresh and spec.has_adapter


def resource_refresh(
    *,
    actor=None,
    resource_id: int,
    trigger: str = "webhook",
    adapter_factory: Callable[[Connection], object] | None = None,
) -> RefreshResult:
    """Read one resource from its provider now and apply it. ``actor`` None is the webhook's
    task; a person needs manage_connections."""
    from providers.services.sync import SYNC_LEASE, adapter_for

    resource = Resource.objects.select_related("connection").get(pk=resource_id)
    connection = resource.connection
    if actor is not None:
        require_capability(
            actor, Capability.MANAGE_CONNECTIONS, resource.tenant_id, action="refresh"
        )
    if connection.status == Connection.Status.DISABLED or not refreshes_resources(connection):
        return _finish(actor, resource, trigger, RefreshResult(resource.pk, Outcome.UNSUPPORTED))
    token = SYNC_LEASE.claim(connection.pk)
    if token is None:
        return RefreshResult(resource.pk, Outcome.BUSY)
    adapter = None
    try:
        adapter = (adapter_factory or adapter_for)(connection)
        types = getattr(adapter, "refresh_types", None)
        if types is not None and resource.type not in types:
            result = RefreshResult(resource.pk, Outcome.UNSUPPORTED)
        else:
            record = adapter.refresh(resource.provider_id)
            result = _apply(connection, resource, record)
    except (ProviderError, UnsupportedProvider, NotImplementedError, ValueError) as exc:
        result = RefreshResult(resource.pk, Outcome.FAILED, str(exc) or type(exc).__name__)
    except DecryptionError:
        result = RefreshResult(
            resource.pk, Outcome.FAILED, "The stored credentials cannot be decrypted."
        )
    finally:
        SYNC_LEASE.release(connection.pk, token)
    result.api_calls = getattr(adapter, "api_calls", 0) if adapter is not None else 0
    return _finish(actor, resource, trigger, result)


def _apply(connection: Connection, resource: Resource, record: ResourceRecord | None):
    from providers.services import sync

    deleted = resource.deleted_at is not None
    known = {resource.provider_id: (resource.pk, resource.content_hash, deleted)}
    if record is None:
        # The provider answered 404 for this id: gone, as a complete listing without it says.
        gone = sync._mark_missing_deleted(
            connection, None, known, set(), ListingReport(finished=True)
        )
        return RefreshResult(resource.pk, Outcome.DELETED if gone else Outcome.UNCHANGED)
    if record.provider_id != resource.provider_id:
        raise ProviderError(
            f"asked for {resource.provider_id}, the provider answered {record.provider_id}"
        )
    tally = sync._Tally()
    for batch in sync._classified_batches([record], known, 1):
        sync._apply_batch(connection, None, batch, known, tally)
    if tally.updated:
        sync._link_parents(connection.pk)
        return RefreshResult(resource.pk, Outcome.UPDATED)
    return RefreshResult(resource.pk, Outcome.UNCHANGED)


@transaction.atomic
def _finish(actor, resource: Resource, trigger: str, result: RefreshResult) -> RefreshResult:
    record_event(
        event_type="resource.refreshed"
        if result.outcome != Outcome.FAILED
        else "resource.refresh_failed",
        actor=actor,
        tenant=resource.tenant_id,
        target=resource,
        extra={
            "trigger": trigger,
            "outcome": result.outcome,
            "error": result.error,
            "api_calls": result.api_calls,
        },
    )
    if result.error:
        logger.info("resource %s: refresh failed: %s", resource.pk, result.error)
    return result


def resource_request_refresh(*, actor, resource: Resource, trigger: str = "webhook") -> None:
    """Queue a refresh of one resource (after the caller's transaction commits) and audit the
    request."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, resource.tenant_id, action="refresh")
    record_event(
        event_type="resource.refresh_requested",
        actor=actor,
        tenant=resource.tenant_id,
        target=resource,
        extra={"trigger": trigger, "provider_id": resource.provider_id},
    )
    from providers.tasks import resource_refresh_task

    resource_id = resource.pk
    transaction.on_commit(
        lambda: resource_refresh_task.apply_async(
            kwargs={"resource_id": resource_id, "trigger": trigger}
        )
    )
