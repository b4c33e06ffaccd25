"""The discovery sync: page through an adapter, write only what changed, record the run.

Rules (DESIGN.md §5):
- two syncs of one connection never overlap: a lease claimed with a conditional UPDATE, renewed
  while the run progresses and expiring by itself if a worker dies;
- unchanged resources cost no write (content hash);
- each batch commits on its own, so a run that fails midway keeps what it already learned;
- a resource is marked deleted only when the listing of its type in its scope was complete
  (``providers.adapters.listing``): a service the credentials may not read (403) or that the
  provider lacks (404) is skipped with a warning on the run and the connection, keeps its rows and
  leaves the connection ``degraded``; a failure that ends the walk keeps every unit it did not
  finish, while the units completed before it are applied in full;
- records already listed are never lost: the batch in hand when a listing breaks off is applied;
- only a refusal of the credentials (IAM, 401) marks the connection ``auth_failed``; other provider
  errors fail the run with the reason in words; the run record and one audit event are written
  either way;
- the process running a run holds its lock (``providers.run_locks``), so a run whose worker died is
  recognised and reaped, and a redelivered task finds the run it already did (``task_id``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError, decrypt_json
from core.locks import LockKey
from core.services.guards import require_capability
from providers import run_locks
from providers.adapters.base import (
    ProviderAuthError,
    ProviderError,
    ProviderPermissionDenied,
    ResourceRecord,
)
from providers.adapters.listing import ListingReport
from providers.adapters.registry import UnsupportedProvider, build_adapter
from providers.models import Connection, Resource, ResourceEvent, SyncRun
from providers.services import health
from providers.services.scheduled import Lease

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
LEASE_TTL = timedelta(minutes=10)
# Each renewal and progress row is a committed UPDATE (a WAL flush, a few ms). Per batch that was
# a tenth of an unchanged re-sync's time, so both are paced by the clock instead: the lease is
# renewed well within its TTL, progress is persisted about once a second (the progress callback
# still sees every batch).
LEASE_RENEW_EVERY_S = LEASE_TTL.total_seconds() / 4
PROGRESS_SAVE_EVERY_S = 1.0
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


# What the sync knows of each stored resource: provider id -> (id, content hash, deleted?).
# Plain tuples of atoms rather than objects: the cyclic GC stops tracking such tuples, whereas
# tens of thousands of tracked objects kept alive for the whole run set off extra full
# collections (each a pass over the whole process heap) on every large run.
_Known = tuple[int, str, bool]


@dataclass
class _Tally:
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    duplicates: int = 0
    seen_ids: set[int] = field(default_factory=set)


@dataclass
class _Batch:
    """One batch of the listing, classified as it arrived: only records that need a write are
    kept; unchanged ones are just counted (see ``_classified_batches``)."""

    seen: int = 0
    duplicates: int = 0
    unchanged_ids: list[int] = field(default_factory=list)
    new: list[ResourceRecord] = field(default_factory=list)
    changed: list[tuple[int, ResourceRecord]] = field(default_factory=list)


# --- lease ----------------------------------------------------------------------------------
SYNC_LEASE = Lease(Connection, LEASE_TTL)


# --- the sync -------------------------------------------------------------------------------
def connection_sync(
    *,
    actor=None,
    connection_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    progress: Callable[[SyncRun], None] | None = None,
    adapter_factory: Callable[[Connection], object] | None = None,
    task_id: str = "",
) -> SyncRun | None:
    """Run one discovery sync. Returns None (and writes nothing) if another sync is running.

    ``actor`` is None for scheduled runs; a person asking for a sync needs manage_connections.
    ``task_id`` (the Celery task's id) makes a redelivered task idempotent: the run it already
    finished is returned instead of syncing again (see ``recovery.redelivered_sync_run``).
    """
    from providers.services.recovery import redelivered_sync_run

    if actor is not None:
        tenant_id = Connection.objects.values_list("tenant_id", flat=True).get(pk=connection_id)
        require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant_id, action="sync")
    if task_id:
        done, earlier = redelivered_sync_run(task_id, SyncRun.Kind.DISCOVERY)
        if done:
            return earlier
    token = SYNC_LEASE.claim(connection_id)
    if token is None:
        logger.info("connection %s: sync already running, skipped", connection_id)
        return None
    try:
        return _run(actor, connection_id, token, trigger, progress, adapter_factory, task_id)
    finally:
        SYNC_LEASE.release(connection_id, token)


def adapter_for(connection: Connection):
    return build_adapter(
        connection.provider,
        credentials=decrypt_json(connection.credentials_encrypted) or {},
        scope=connection.scope,
        endpoints=connection.endpoints,
    )


def _run(actor, connection_id, token, trigger, progress, adapter_factory, task_id) -> SyncRun:
    connection = Connection.objects.select_related("tenant").get(pk=connection_id)
    run = SyncRun.objects.create(
        tenant_id=connection.tenant_id,
        connection=connection,
        kind=SyncRun.Kind.DISCOVERY,
        trigger=trigger,
        started_at=timezone.now(),
        task_id=task_id,
    )
    with run_locks.holding(LockKey.SYNC_RUN, run.pk):
        _walk(actor, connection, run, token, progress, adapter_factory)
    return run


def _walk(actor, connection, run, token, progress, adapter_factory) -> None:
    started = time.monotonic()
    tally = _Tally()
    adapter = None
    walked = False  # the adapter was iterated: its listing report says what may be deleted
    listed = False  # ... and its walk reached the end
    new_status, error = Connection.Status.OK, ""
    try:
        adapter = (adapter_factory or adapter_for)(connection)
        known = _known_resources(connection.pk)
        renewed = saved = time.monotonic()
        walked = True
        for batch in _classified_batches(adapter.discover(), known, BATCH_SIZE):
            _apply_batch(connection, run, batch, known, tally)
            _note_progress(run, tally, adapter)
            clock = time.monotonic()
            if clock - renewed >= LEASE_RENEW_EVERY_S:
                SYNC_LEASE.renew(connection.pk, token)
                renewed = clock
            if clock - saved >= PROGRESS_SAVE_EVERY_S:
                SyncRun.objects.filter(pk=run.pk).update(progress=run.progress)
                saved = clock
            if progress:
                progress(run)
        listed = True
    except ProviderPermissionDenied as exc:
        # Valid credentials missing a role the adapter could not attribute to one service.
        new_status, error = Connection.Status.DEGRADED, _reason(exc)
    except ProviderAuthError as exc:
        new_status, error = Connection.Status.AUTH_FAILED, _reason(exc)
        walked = False  # refused credentials prove nothing about what exists
    except (ProviderError, UnsupportedProvider, DecryptionError, ValueError) as exc:
        new_status, error = Connection.Status.ERROR, _reason(exc)
    except Exception as exc:
        new_status, error = Connection.Status.ERROR, f"Internal error: {type(exc).__name__}"
        _finish(actor, connection, run, tally, adapter, started, new_status, error, None)
        raise
    report = _report_of(adapter, listed) if walked else None
    if report is not None:
        # Absence means gone only where the listing of that type and scope was complete; the
        # units finished before a failure count too.
        tally.deleted = _mark_missing_deleted(connection, run, known, tally.seen_ids, report)
        run.complete = not error and report.fully_complete
        if not error and (
            tally.created or tally.updated or not _links_current(connection.pk, run.pk)
        ):
            _link_parents(connection.pk)
    _finish(actor, connection, run, tally, adapter, started, new_status, error, report)


def _report_of(adapter, listed: bool) -> ListingReport:
    """The adapter's per-unit listing report; adapters that keep none are judged as one whole
    listing, complete when their discover() returned normally."""
    report = getattr(adapter, "listing", None)
    if isinstance(report, ListingReport):
        return report
    return ListingReport(finished=listed)


def _reason(exc: Exception) -> str:
    # Adapters word their errors for people and never include credentials.
    return str(exc) or type(exc).__name__


def _classified_batches(
    records: Iterable[ResourceRecord], known: dict[str, _Known], size: int
) -> Iterator[_Batch]:
    """Compare each record with what is stored as it arrives; yield every ``size`` records.

    Holding a whole batch of records until it was applied kept them alive long enough for the
    GC to promote them to its oldest generation, and the resulting full collections (each a
    pass over the whole process heap) took a tenth of an unchanged re-sync's time. A listing
    that breaks off with a provider error still has its last, partial batch applied. ``known``
    is read while the batch fills and updated by ``_apply_batch`` before the next one starts
    (the generator resumes only then).
    """
    batch = _Batch()
    listed: set[str] = set()
    try:
        for record in records:
            if record.provider_id in listed:
                # Providers occasionally list an id twice (paging over a changing collection);
                # the first occurrence wins, and a duplicate must never become a second row.
                batch.duplicates += 1
                continue
            listed.add(record.provider_id)
            batch.seen += 1
            entry = known.get(record.provider_id)
            if entry is None:
                batch.new.append(record)
            elif entry[1] != record.content_hash or entry[2]:
                batch.changed.append((entry[0], record))
            else:
                batch.unchanged_ids.append(entry[0])
            if batch.seen == size:
                yield batch
                batch = _Batch()
    except ProviderError:
        # The listing broke off: what it yielded so far is still true, so it is applied before
        # the error goes on (and counts as seen, so that nothing listed is taken for gone).
        if batch.seen or batch.duplicates:
            yield batch
        raise
    if batch.seen or batch.duplicates:
        yield batch


def _known_resources(connection_id: int) -> dict[str, _Known]:
    # Raw SQL: this reads every resource of the connection on every run, and the ORM's per-row
    # conversions (deleted_at to an aware datetime only to test it for None) cost more than the
    # query itself on large accounts.
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT provider_id, id, content_hash, deleted_at IS NOT NULL "
            "FROM providers_resource WHERE connection_id = %s",
            [connection_id],
        )
        return {pid: (pk, digest, deleted) for pid, pk, digest, deleted in cursor.fetchall()}


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
def _apply_batch(connection, run, batch: _Batch, known: dict[str, _Known], tally: _Tally) -> None:
    now = timezone.now()
    tally.seen += batch.seen
    tally.duplicates += batch.duplicates
    tally.unchanged += len(batch.unchanged_ids)
    tally.seen_ids.update(batch.unchanged_ids)
    if batch.new:
        new = batch.new
        for pk, record in zip(_insert_new(connection, run, new, known, now), new, strict=True):
            known[record.provider_id] = (pk, record.content_hash, False)
            tally.seen_ids.add(pk)
        tally.created += len(new)

    if batch.changed:
        _apply_changes(connection, run, batch.changed, known, now)
        tally.seen_ids.update(pk for pk, _ in batch.changed)
        tally.updated += len(batch.changed)


# Columns written for a new resource, in COPY order; JSON columns are sent as JSON text.
_NEW_COLUMNS = (
    "id",
    "tenant_id",
    "connection_id",
    "provider",
    "provider_id",
    "first_seen_at",
    "last_seen_at",
    "content_hash",
    "parent_id",
    *TRACKED_FIELDS,
)
_JSON_FIELDS = frozenset({"specs", "labels", "properties", "related_ids"})
_EVENT_COLUMNS = ("tenant_id", "resource_id", "sync_run_id", "kind", "changes", "at")


def _insert_new(connection, run, records: list[ResourceRecord], known, now) -> list[int]:
    """COPY new resources and their "appeared" events; returns the new ids in record order.

    A first sync is almost all inserts, and ``bulk_create`` spent most of its time building model
    instances and quoting parameters. COPY needs ids up front (it returns nothing), so they are
    drawn from the table's own sequence first: the same ids an INSERT would have taken. A parent
    already known (listings name VMs before their disks, clusters before their hosts) is linked
    in the same write, which spares ``_link_parents`` a second version of most rows.
    """
    resources, events = Resource._meta.db_table, ResourceEvent._meta.db_table
    # wrap_database_errors: COPY goes to psycopg directly, and a failure must surface as the same
    # django.db error (and mark the connection for a health check) as the ORM's writes would.
    with db.wrap_database_errors, db.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [resources, len(records)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        fresh = {record.provider_id: pk for pk, record in zip(ids, records, strict=True)}
        fixed = (connection.tenant_id, connection.pk, connection.provider)
        with cursor.copy(f"COPY {resources} ({', '.join(_NEW_COLUMNS)}) FROM STDIN") as copy:
            for pk, record in zip(ids, records, strict=True):
                fields = _fields_from(record)
                parent = fields["parent_provider_id"]
                parent_id = fresh.get(parent) if parent else None
                if parent and parent_id is None and parent in known:
                    parent_id = known[parent][0]
                copy.write_row(
                    (
                        pk,
                        *fixed,
                        record.provider_id,
                        now,
                        now,
                        record.content_hash,
                        parent_id,
                        *(
                            json.dumps(fields[name], separators=(",", ":"))
                            if name in _JSON_FIELDS
                            else fields[name]
                            for name in TRACKED_FIELDS
                        ),
                    )
                )
        with cursor.copy(f"COPY {events} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
            appeared = ResourceEvent.Kind.APPEARED.value
            for pk in ids:
                copy.write_row((connection.tenant_id, pk, run.pk, appeared, "{}", now))
    return ids


def _apply_changes(connection, run, changed, known, now) -> None:
    ids = [pk for pk, _ in changed]
    stored = {
        row["id"]: row
        for row in Resource.objects.filter(pk__in=ids).values("id", "deleted_at", *TRACKED_FIELDS)
    }
    resources, events = [], []
    for pk, record in changed:
        before = stored[pk]
        after = _fields_from(record)
        diff = {
            name: [_json_safe({"v": before[name]})["v"], _json_safe({"v": after[name]})["v"]]
            for name in TRACKED_FIELDS
            if before[name] != after[name]
        }
        reappeared = before["deleted_at"] is not None
        resource = Resource(
            pk=pk,
            content_hash=record.content_hash,
            last_seen_at=now,
            deleted_at=None,
            **after,
        )
        resources.append(resource)
        events.append(
            ResourceEvent(
                tenant_id=connection.tenant_id,
                resource_id=pk,
                sync_run=run,
                kind=ResourceEvent.Kind.REAPPEARED if reappeared else ResourceEvent.Kind.CHANGED,
                changes=diff,
                at=now,
            )
        )
        known[record.provider_id] = (pk, record.content_hash, False)
    Resource.objects.bulk_update(
        resources, ["content_hash", "last_seen_at", "deleted_at", *TRACKED_FIELDS]
    )
    ResourceEvent.objects.bulk_create(events)


@transaction.atomic
def _mark_missing_deleted(
    connection, run, known: dict[str, _Known], seen_ids: set[int], report: ListingReport
) -> int:
    unseen = [pk for pk, _, deleted in known.values() if not deleted and pk not in seen_ids]
    gone = _deletable(unseen, report)
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
    gone_ids = set(gone)  # not the list: a lookup per known resource would be quadratic
    for provider_id, (pk, digest, _) in list(known.items()):
        if pk in gone_ids:
            known[provider_id] = (pk, digest, True)
    return len(gone)


def _deletable(unseen: list[int], report: ListingReport) -> list[int]:
    """The unseen rows whose type and scope (sub-account) the report allows to mark deleted."""
    if not unseen or not report.per_unit:
        return unseen if report.finished else []
    rows = Resource.objects.filter(pk__in=unseen).values_list("pk", "type", "sub_account")
    return [pk for pk, type_, scope in rows if report.may_delete(type_, scope or "")]


def _links_current(connection_id: int, run_id: int) -> bool:
    """True when parent links cannot have changed since the previous discovery run linked them.

    Links depend only on which rows exist and on their parent_provider_id. A run that created and
    updated nothing changed neither (marking rows deleted keeps them), so if the run before it
    succeeded, i.e. reached its own ``_link_parents``, and the lease kept anyone else from writing
    in between, the links are still right. Checking that is one small query instead of a join
    over every resource of the connection on each unchanged re-sync.
    """
    previous = (
        SyncRun.objects.filter(connection_id=connection_id, kind=SyncRun.Kind.DISCOVERY)
        .exclude(pk=run_id)
        .order_by("-started_at", "-id")
        .values_list("status", "complete")
        .first()
    )
    # Any succeeded run reached _link_parents (a walk that skipped unreadable types included).
    return previous is not None and previous[0] == SyncRun.Status.SUCCEEDED


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


def _note_progress(run: SyncRun, tally: _Tally, adapter) -> None:
    run.progress = {
        "seen": tally.seen,
        "created": tally.created,
        "updated": tally.updated,
        "unchanged": tally.unchanged,
        "duplicates": tally.duplicates,
        "api_calls": getattr(adapter, "api_calls", 0),
    }


@transaction.atomic
def _finish(actor, connection, run, tally, adapter, started, status, error, report) -> None:
    now = timezone.now()
    run.status = SyncRun.Status.SUCCEEDED if not error else SyncRun.Status.FAILED
    run.error = error
    run.finished_at = now
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.seen, run.created, run.updated = tally.seen, tally.created, tally.updated
    run.unchanged, run.deleted = tally.unchanged, tally.deleted
    run.api_calls = getattr(adapter, "api_calls", 0) if adapter is not None else 0
    if report is not None:
        run.warnings, run.outcomes = report.warnings(), report.type_outcomes()
    run.save()
    updates = {"last_sync_at": now, "next_sync_at": now + connection.sync_interval}
    if not error:
        # Unreadable services, this run's or the last metrics run's, leave it degraded.
        status, error_text = health.after_run(connection.pk, run)
    else:
        error_text = error
    updates.update(status=status, last_error=error_text)
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
            "warnings": [w["message"] for w in run.warnings],
        },
    )
