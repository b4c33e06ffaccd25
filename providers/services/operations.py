"""Collecting resource operation logs: who created or changed which resource, and when.

``operations_collect`` asks the adapter for ``operations(since)`` (only for providers whose
declaration claims the ``operations_log`` capability), where ``since`` is the newest stored
operation of the connection minus ``OVERLAP``: provider logs are eventually consistent (an
operation may show up a little after a later one), so the window is re-read a little and the
repeats are dropped by the provider's operation id (``INSERT ... ON CONFLICT DO NOTHING``).
Operations are linked to the inventory by the resource's provider id (also those stored before
the resource was first listed), and ``Resource.created_by`` is set from the earliest "created"
operation. It runs right after each successful sync, in the sync's own task
(``providers.connection_sync``); a failure there never fails the sync: it is a warning on the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.db import connection as db
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError
from core.services.guards import require_capability
from providers.adapters.base import (
    OperationAction,
    OperationRecord,
    OperationStatus,
    ProviderError,
)
from providers.adapters.registry import UnsupportedProvider, provider_spec
from providers.models import Connection, Resource, ResourceOperation

logger = logging.getLogger(__name__)

# How far before the newest stored operation a collection starts reading again.
OVERLAP = timedelta(minutes=10)
BATCH_SIZE = 1000
_ACTIONS = frozenset(a.value for a in OperationAction)
_STATUSES = frozenset(s.value for s in OperationStatus)


@dataclass
class OperationCollection:
    connection_id: int
    ok: bool
    since: datetime | None = None
    fetched: int = 0
    stored: int = 0
    creators_set: int = 0
    error: str = ""


def collects_operations(connection: Connection) -> bool:
    """Whether the connection's provider has an operation log (declared and with an adapter)."""
    try:
        spec = provider_spec(connection.provider)
    except UnsupportedProvider:
        return False
    return spec.capabilities.operations_log and spec.has_adapter


def operations_since(connection: Connection) -> datetime | None:
    """Where the next collection starts: the newest stored operation minus ``OVERLAP``."""
    newest = ResourceOperation.objects.filter(
        tenant_id=connection.tenant_id, connection=connection
    ).aggregate(newest=Max("at"))["newest"]
    return newest - OVERLAP if newest is not None else None


def operations_collect(
    *,
    actor=None,
    connection_id: int,
    trigger: str = "sync",
    adapter_factory: Callable[[Connection], object] | None = None,
) -> OperationCollection | None:
    """Read and store the connection's new operations. None (nothing written) for a disabled
    connection or a provider without an operation log. ``actor`` None is the sync task; a person
    needs manage_connections."""
    connection = Connection.objects.select_related("tenant").get(pk=connection_id)
    if actor is not None:
        require_capability(actor, Capability.MANAGE_CONNECTIONS, connection.tenant, action="sync")
    if connection.status == Connection.Status.DISABLED or not collects_operations(connection):
        return None
    from providers.services.sync import adapter_for

    since = operations_since(connection)
    result = OperationCollection(connection.pk, True, since)
    new_resource_ids: set[int] = set()
    try:
        adapter = (adapter_factory or adapter_for)(connection)
        for batch in _batches(adapter.operations(since), BATCH_SIZE):
            result.fetched += len(batch)
            stored, touched = _store_batch(connection, batch)
            result.stored += stored
            new_resource_ids.update(touched)
    except (ProviderError, UnsupportedProvider, NotImplementedError, ValueError) as exc:
        result.ok, result.error = False, str(exc) or type(exc).__name__
    except DecryptionError:
        result.ok, result.error = False, "The stored credentials cannot be decrypted."
    # What was stored before a failure is kept (each batch commits) and linked all the same.
    result.creators_set = _link_and_set_creators(connection, new_resource_ids)
    _audit(actor, connection, trigger, result)
    if not result.ok:
        logger.info("connection %s: operations not read: %s", connection.pk, result.error)
    return result


def operations_collect_after_sync(run) -> OperationCollection | None:
    """Collect after a successful sync (in the sync's task, so the resources it names are
    already in the inventory). A failure never fails the sync: it becomes a warning on the run
    (and so leaves the connection degraded until a collection succeeds)."""
    from providers.models import SyncRun

    try:
        result = operations_collect(connection_id=run.connection_id, trigger="sync")
    except Exception as exc:
        logger.exception("connection %s: operation log after the sync failed", run.connection_id)
        result, error = None, f"Internal error: {type(exc).__name__}"
    else:
        if result is None or result.ok:
            return result
        error = result.error
    warnings = [
        *(run.warnings or []),
        {"service": "operations", "message": f"Operation log not read: {error}"},
    ]
    SyncRun.objects.filter(pk=run.pk).update(warnings=warnings)
    run.warnings = warnings
    return result


def _batches(records: Iterable[OperationRecord], size: int) -> Iterator[list[OperationRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        for record in batch:
            if not isinstance(record, OperationRecord):
                raise ProviderError(f"operations() yielded a {type(record).__name__}")
            if record.at.tzinfo is None:
                raise ValueError(f"operation {record.provider_id} has a naive time")
        yield batch


@transaction.atomic
def _store_batch(connection: Connection, batch: list[OperationRecord]) -> tuple[int, set[int]]:
    """Insert the batch, dropping repeats by operation id; returns (rows stored, ids of the
    resources whose "created" operations are new)."""
    resource_ids = dict(
        Resource.objects.filter(
            tenant_id=connection.tenant_id,
            connection=connection,
            provider_id__in={r.resource_provider_id for r in batch},
        ).values_list("provider_id", "pk")
    )
    now = timezone.now()
    rows, seen = [], set()
    for record in batch:
        if record.provider_id in seen:  # a provider listing an operation twice in one read
            continue
        seen.add(record.provider_id)
        rows.append(
            ResourceOperation(
                tenant_id=connection.tenant_id,
                connection=connection,
                resource_id=resource_ids.get(record.resource_provider_id),
                resource_provider_id=record.resource_provider_id[:255],
                provider_operation_id=record.provider_id[:255],
                action=record.action if record.action in _ACTIONS else OperationAction.OTHER,
                raw_action=(record.raw_action or "")[:255],
                actor=(record.actor or "")[:255],
                at=record.at,
                status=record.status if record.status in _STATUSES else OperationStatus.DONE,
                details=dict(record.details),
                collected_at=now,
            )
        )
    existing = set(
        ResourceOperation.objects.filter(
            tenant_id=connection.tenant_id,
            connection=connection,
            provider_operation_id__in=[row.provider_operation_id for row in rows],
        ).values_list("provider_operation_id", flat=True)
    )
    fresh = [row for row in rows if row.provider_operation_id not in existing]
    # ON CONFLICT DO NOTHING as well: a concurrent collection may insert the same operation
    # between the read above and this write.
    ResourceOperation.objects.bulk_create(fresh, ignore_conflicts=True)
    touched = {
        row.resource_id
        for row in fresh
        if row.resource_id is not None and row.action == OperationAction.CREATED
    }
    return len(fresh), touched


@transaction.atomic
def _link_and_set_creators(connection: Connection, resource_ids: set[int]) -> int:
    """Link operations stored before their resource was listed, then set ``created_by`` of the
    resources with new "created" operations (and of the ones just linked) from the earliest
    "created" operation that names an actor. Returns how many resources changed."""
    params = {"t": connection.tenant_id, "c": connection.pk, "created": OperationAction.CREATED}
    with db.cursor() as cursor:
        cursor.execute(
            """
            UPDATE providers_resourceoperation AS op
               SET resource_id = r.id
              FROM providers_resource AS r
             WHERE op.tenant_id = %(t)s AND op.connection_id = %(c)s AND op.resource_id IS NULL
               AND r.connection_id = %(c)s AND r.provider_id = op.resource_provider_id
            RETURNING r.id, op.action
            """,
            params,
        )
        resource_ids = set(resource_ids) | {
            pk for pk, action in cursor.fetchall() if action == OperationAction.CREATED
        }
        if not resource_ids:
            return 0
        cursor.execute(
            """
            UPDATE providers_resource AS r
               SET created_by = first.actor
              FROM (
                    SELECT DISTINCT ON (resource_id) resource_id, actor
                      FROM providers_resourceoperation
                     WHERE tenant_id = %(t)s AND connection_id = %(c)s
                       AND resource_id = ANY(%(ids)s) AND action = %(created)s AND actor <> ''
                     ORDER BY resource_id, at, id
                   ) AS first
             WHERE r.id = first.resource_id AND r.created_by IS DISTINCT FROM first.actor
            """,
            {**params, "ids": sorted(resource_ids)},
        )
        return cursor.rowcount


@transaction.atomic
def _audit(actor, connection: Connection, trigger: str, result: OperationCollection) -> None:
    record_event(
        event_type="connection.operations_collected"
        if result.ok
        else "connection.operations_failed",
        actor=actor,
        tenant=connection.tenant_id,
        target=connection,
        extra={
            "trigger": trigger,
            "since": result.since.isoformat() if result.since else None,
            "fetched": result.fetched,
            "stored": result.stored,
            "creators_set": result.creators_set,
            "error": result.error,
        },
    )
