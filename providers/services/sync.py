"""The discovery sync: page through an adapter, write only what changed, record the run.

Rules (DESIGN.md §5):
- two syncs of one connection never overlap: a lease claimed with a conditional UPDATE, renewed
  while the run progresses and expiring by itself if a worker dies;
- unchanged resources cost no write (content hash);
- each batch commits on its own, so a run that fails midway keeps what it already learned;
- resources are marked deleted only after a *complete* listing; a failed run marks nothing;
- authentication errors stop the run and mark the connection; other provider errors fail the run
  with the reason in words; the run record and one audit event are written either way.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from django.db import connection as db
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError, decrypt_json
from core.services.guards import require_capability
from providers.adapters.base import ProviderAuthError, ProviderError, ResourceRecord
from providers.adapters.registry import UnsupportedProvider, build_adapter
from providers.models import Connection, Resource, ResourceEvent, SyncRun

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
LEASE_TTL = timedelta(minutes=10)
# Fields compared (and diffed in "changed" events) between the stored row and a new listing.
TRACKED_FIELDS = (
    "type",
    "name",
    "region",
    "zone",
    "sub_account",
    "status",
    "raw_status",
    "specs",
    "pricing_model",
    "labels",
    "properties",
    "related_ids",
    "parent_provider_id",
    "provider_created_at",
)


@dataclass
class _Known:
    id: int
    content_hash: str
    deleted: bool


@dataclass
class _Tally:
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    seen_ids: set[int] = field(default_factory=set)


# --- lease ----------------------------------------------------------------------------------
def lease_claim(connection_id: int, *, ttl: timedelta = LEASE_TTL) -> str | None:
    """Claim the connection's sync lease; None when another sync holds it (or it is disabled)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        Connection.objects.filter(pk=connection_id)
        .exclude(status=Connection.Status.DISABLED)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_token=token, lease_until=now + ttl)
    )
    return token if claimed else None


def lease_renew(connection_id: int, token: str, *, ttl: timedelta = LEASE_TTL) -> bool:
    return bool(
        Connection.objects.filter(pk=connection_id, lease_token=token).update(
            lease_until=timezone.now() + ttl
        )
    )


def lease_release(connection_id: int, token: str) -> None:
    Connection.objects.filter(pk=connection_id, lease_token=token).update(
        lease_token="", lease_until=None
    )


# --- the sync -------------------------------------------------------------------------------
def connection_sync(
    *,
    actor=None,
    connection_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    progress: Callable[[SyncRun], None] | None = None,
    adapter_factory: Callable[[Connection], object] | None = None,
) -> SyncRun | None:
    """Run one discovery sync. Returns None (and writes nothing) if another sync is running.

    ``actor`` is None for scheduled runs; a person asking for a sync needs manage_connections.
    """
    if actor is not None:
        tenant_id = Connection.objects.values_list("tenant_id", flat=True).get(pk=connection_id)
        require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant_id, action="sync")
    token = lease_claim(connection_id)
    if token is None:
        logger.info("connection %s: sync already running, skipped", connection_id)
        return None
    try:
        return _run(actor, connection_id, token, trigger, progress, adapter_factory)
    finally:
        lease_release(connection_id, token)


def adapter_for(connection: Connection):
    return build_adapter(
        connection.provider,
        credentials=decrypt_json(connection.credentials_encrypted) or {},
        scope=connection.scope,
        endpoints=connection.endpoints,
    )


def _run(actor, connection_id, token, trigger, progress, adapter_factory) -> SyncRun:
    connection = Connection.objects.select_related("tenant").get(pk=connection_id)
    started = time.monotonic()
    run = SyncRun.objects.create(
        tenant_id=connection.tenant_id,
        connection=connection,
        kind=SyncRun.Kind.DISCOVERY,
        trigger=trigger,
        started_at=timezone.now(),
    )
    tally = _Tally()
    adapter = None
    new_status, error = Connection.Status.OK, ""
    try:
        adapter = (adapter_factory or adapter_for)(connection)
        known = _known_resources(connection.pk)
        for batch in _batches(adapter.discover(), BATCH_SIZE):
            _apply_batch(connection, run, batch, known, tally)
            lease_renew(connection.pk, token)
            _save_progress(run, tally, adapter)
            if progress:
                progress(run)
        # Reaching here means the adapter finished its listing: only now may absence mean gone.
        run.complete = True
        tally.deleted = _mark_missing_deleted(connection, run, known, tally.seen_ids)
        _link_parents(connection.pk)
    except ProviderAuthError as exc:
        new_status, error = Connection.Status.AUTH_FAILED, _reason(exc)
    except (ProviderError, UnsupportedProvider, DecryptionError, ValueError) as exc:
        new_status, error = Connection.Status.ERROR, _reason(exc)
    except Exception as exc:
        new_status, error = Connection.Status.ERROR, f"Internal error: {type(exc).__name__}"
        _finish(actor, connection, run, tally, adapter, started, new_status, error)
        raise
    _finish(actor, connection, run, tally, adapter, started, new_status, error)
    return run


def _reason(exc: Exception) -> str:
    # Adapters word their errors for people and never include credentials.
    return str(exc) or type(exc).__name__


def _batches(records: Iterable[ResourceRecord], size: int) -> Iterator[list[ResourceRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _known_resources(connection_id: int) -> dict[str, _Known]:
    rows = Resource.objects.filter(connection_id=connection_id).values_list(
        "provider_id", "id", "content_hash", "deleted_at"
    )
    return {pid: _Known(pk, digest, deleted is not None) for pid, pk, digest, deleted in rows}


def _fields_from(record: ResourceRecord) -> dict:
    return {
        "type": str(record.type),
        "name": (record.name or "")[:255],
        "region": record.region or "",
        "zone": record.zone or "",
        "sub_account": record.sub_account or "",
        "status": str(record.status),
        "raw_status": (record.raw_status or "")[:64],
        "specs": dict(record.specs),
        "pricing_model": str(record.pricing_model),
        "labels": dict(record.labels),
        "properties": _json_safe(record.properties),
        "related_ids": {role: list(ids) for role, ids in record.related_ids.items()},
        "parent_provider_id": record.parent_provider_id or "",
        "provider_created_at": record.created_at,
    }


def _json_safe(value):
    from core.audit import _json_safe as safe

    return safe(dict(value))


@transaction.atomic
def _apply_batch(connection, run, batch, known: dict[str, _Known], tally: _Tally) -> None:
    now = timezone.now()
    new, changed = [], []
    for record in batch:
        tally.seen += 1
        entry = known.get(record.provider_id)
        if entry is None:
            new.append(record)
        elif entry.content_hash != record.content_hash or entry.deleted:
            changed.append((entry, record))
            tally.seen_ids.add(entry.id)
        else:
            tally.unchanged += 1
            tally.seen_ids.add(entry.id)

    if new:
        created = Resource.objects.bulk_create(
            Resource(
                tenant_id=connection.tenant_id,
                connection_id=connection.pk,
                provider=connection.provider,
                provider_id=record.provider_id,
                first_seen_at=now,
                last_seen_at=now,
                content_hash=record.content_hash,
                **_fields_from(record),
            )
            for record in new
        )
        for resource in created:
            known[resource.provider_id] = _Known(resource.pk, resource.content_hash, False)
            tally.seen_ids.add(resource.pk)
        ResourceEvent.objects.bulk_create(
            ResourceEvent(
                tenant_id=connection.tenant_id,
                resource_id=resource.pk,
                sync_run=run,
                kind=ResourceEvent.Kind.APPEARED,
                at=now,
            )
            for resource in created
        )
        tally.created += len(created)

    if changed:
        _apply_changes(connection, run, changed, known, now)
        tally.updated += len(changed)


def _apply_changes(connection, run, changed, known, now) -> None:
    ids = [entry.id for entry, _ in changed]
    stored = {
        row["id"]: row
        for row in Resource.objects.filter(pk__in=ids).values("id", "deleted_at", *TRACKED_FIELDS)
    }
    resources, events = [], []
    for entry, record in changed:
        before = stored[entry.id]
        after = _fields_from(record)
        diff = {
            name: [_json_safe({"v": before[name]})["v"], _json_safe({"v": after[name]})["v"]]
            for name in TRACKED_FIELDS
            if before[name] != after[name]
        }
        reappeared = before["deleted_at"] is not None
        resource = Resource(
            pk=entry.id,
            content_hash=record.content_hash,
            last_seen_at=now,
            deleted_at=None,
            **after,
        )
        resources.append(resource)
        events.append(
            ResourceEvent(
                tenant_id=connection.tenant_id,
                resource_id=entry.id,
                sync_run=run,
                kind=ResourceEvent.Kind.REAPPEARED if reappeared else ResourceEvent.Kind.CHANGED,
                changes=diff,
                at=now,
            )
        )
        known[record.provider_id] = _Known(entry.id, record.content_hash, False)
    Resource.objects.bulk_update(
        resources, ["content_hash", "last_seen_at", "deleted_at", *TRACKED_FIELDS]
    )
    ResourceEvent.objects.bulk_create(events)


@transaction.atomic
def _mark_missing_deleted(connection, run, known: dict[str, _Known], seen_ids: set[int]) -> int:
    gone = [entry.id for entry in known.values() if not entry.deleted and entry.id not in seen_ids]
    if not gone:
        return 0
    now = timezone.now()
    last_seen = connection.last_full_sync_at or now
    Resource.objects.filter(pk__in=gone, deleted_at__isnull=True).update(
        deleted_at=now, last_seen_at=last_seen
    )
    ResourceEvent.objects.bulk_create(
        ResourceEvent(
            tenant_id=connection.tenant_id,
            resource_id=pk,
            sync_run=run,
            kind=ResourceEvent.Kind.DISAPPEARED,
            at=now,
        )
        for pk in gone
    )
    for entry in known.values():
        if entry.id in gone:
            entry.deleted = True
    return len(gone)


def _link_parents(connection_id: int) -> None:
    """Point parent FKs at the rows named by parent_provider_id; touches only rows that differ."""
    with db.cursor() as cursor:
        cursor.execute(
            """
            UPDATE providers_resource AS child
               SET parent_id = parent.id
              FROM providers_resource AS parent
             WHERE child.connection_id = %(c)s
               AND parent.connection_id = %(c)s
               AND parent.provider_id = child.parent_provider_id
               AND child.parent_id IS DISTINCT FROM parent.id
            """,
            {"c": connection_id},
        )
        cursor.execute(
            """
            UPDATE providers_resource SET parent_id = NULL
             WHERE connection_id = %(c)s AND parent_id IS NOT NULL AND parent_provider_id = ''
            """,
            {"c": connection_id},
        )


def _save_progress(run: SyncRun, tally: _Tally, adapter) -> None:
    run.progress = {
        "seen": tally.seen,
        "created": tally.created,
        "updated": tally.updated,
        "unchanged": tally.unchanged,
        "api_calls": getattr(adapter, "api_calls", 0),
    }
    SyncRun.objects.filter(pk=run.pk).update(progress=run.progress)


@transaction.atomic
def _finish(actor, connection, run, tally, adapter, started, status, error) -> None:
    now = timezone.now()
    run.status = SyncRun.Status.SUCCEEDED if not error else SyncRun.Status.FAILED
    run.error = error
    run.finished_at = now
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.seen, run.created, run.updated = tally.seen, tally.created, tally.updated
    run.unchanged, run.deleted = tally.unchanged, tally.deleted
    run.api_calls = getattr(adapter, "api_calls", 0) if adapter is not None else 0
    run.save()
    updates = {
        "status": status,
        "last_error": error,
        "last_sync_at": now,
        "next_sync_at": now + connection.sync_interval,
    }
    if run.complete:
        updates["last_full_sync_at"] = now
    # A connection disabled while the run was going stays disabled.
    Connection.objects.filter(pk=connection.pk).exclude(status=Connection.Status.DISABLED).update(
        **updates
    )
    record_event(
        event_type="connection.synced" if not error else "connection.sync_failed",
        actor=actor,
        tenant=connection.tenant_id,
        target=connection,
        extra={
            "sync_run": run.pk,
            "trigger": run.trigger,
            "complete": run.complete,
            "seen": run.seen,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "deleted": run.deleted,
            "api_calls": run.api_calls,
            "error": error,
        },
    )
