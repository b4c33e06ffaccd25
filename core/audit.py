"""Writing and verifying the audit log.

``record_event`` is called by services inside their transaction, so an event exists exactly when
the change it describes was committed. Each tenant (and the platform, tenant NULL) has its own hash
chain: ``hash = sha256(prev_hash || canonical JSON of the row)``. Appends to one chain are
serialised with a transaction-scoped advisory lock, so concurrent writers never fork a chain; the
tenant row is locked before it, in the one lock order documented in ``core.locks``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, models
from django.utils import timezone

from core import context
from core.locks import lock_tenant_chain
from core.models import AuditEvent

GENESIS_HASH = "0" * 64
SECRET_MARKERS = ("password", "secret", "token", "credential", "key_hash", "api_key")
HASHED_FIELDS = (
    "tenant_id",
    "seq",
    "created_at",
    "actor_id",
    "actor_repr",
    "source",
    "request_id",
    "ip_address",
    "event_type",
    "target_type",
    "target_id",
    "target_repr",
    "before",
    "after",
    "changed_fields",
    "extra",
    "prev_hash",
)


def _json_safe(value):
    """Plain JSON values only, so a row hashes the same before and after a jsonb round trip."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Decimal | float | uuid.UUID):
        return str(value)
    return str(value)


def _redact(data: dict | None) -> dict | None:
    if data is None:
        return None
    return {
        key: ("[redacted]" if any(marker in key.lower() for marker in SECRET_MARKERS) else value)
        for key, value in data.items()
    }


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict:
    """A JSON-safe picture of a row's concrete fields (FKs as ids), secrets redacted."""
    names = fields or [
        f.attname
        for f in instance._meta.concrete_fields
        if not getattr(f, "auto_now", False)  # bookkeeping, not a change worth diffing
    ]
    return _redact({name: _json_safe(getattr(instance, name)) for name in names})


def diff(before: dict | None, after: dict | None) -> list[str]:
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def canonical_payload(fields: dict) -> bytes:
    return json.dumps(
        {name: fields[name] for name in HASHED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def compute_hash(fields: dict) -> str:
    return hashlib.sha256(fields["prev_hash"].encode() + canonical_payload(fields)).hexdigest()


def _row_fields(event: AuditEvent) -> dict:
    return {
        "tenant_id": event.tenant_id,
        "seq": event.seq,
        "created_at": event.created_at.astimezone(dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "source": event.source,
        "request_id": event.request_id,
        "ip_address": event.ip_address,
        "event_type": event.event_type,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "before": event.before,
        "after": event.after,
        "changed_fields": event.changed_fields,
        "extra": event.extra,
        "prev_hash": event.prev_hash,
    }


def _actor_repr(actor) -> str:
    if actor is None:
        return ""
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)


def record_event(
    *,
    event_type: str,
    actor=None,
    tenant=None,
    target: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    extra: dict | None = None,
    source: str | None = None,
) -> AuditEvent:
    """Append one event to the tenant's chain. Must run inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must be called inside the service's transaction")
    ctx = context.current()
    tenant_id = getattr(tenant, "pk", tenant)
    lock_tenant_chain(tenant_id)  # tenant row first, then the chain: see core/locks.py
    last = (
        AuditEvent.objects.filter(tenant_id=tenant_id)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    event = AuditEvent(
        tenant_id=tenant_id,
        seq=seq,
        created_at=timezone.now().astimezone(dt.UTC),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_repr=_actor_repr(actor)[:200],
        source=source or ctx.source,
        request_id=ctx.request_id,
        ip_address=ctx.ip_address,
        event_type=event_type,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        before=_json_safe(_redact(before)),
        after=_json_safe(_redact(after)),
        changed_fields=diff(before, after) if before is not None and after is not None else [],
        extra=_json_safe(_redact(extra or {})),
        prev_hash=prev_hash,
    )
    event.hash = compute_hash(_row_fields(event))
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainBreak:
    tenant_id: int | None
    seq: int
    event_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    tenant_id: int | None
    events: int
    head_hash: str
    first_break: ChainBreak | None


def _verify_one(tenant_id: int | None) -> ChainReport:
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    events = AuditEvent.objects.filter(tenant_id=tenant_id).order_by("seq")
    for event in events.iterator(chunk_size=5000):
        count += 1
        reason = None
        if event.seq != expected_seq:
            reason = f"sequence gap: expected {expected_seq}, found {event.seq}"
        elif event.prev_hash != expected_prev:
            reason = "prev_hash does not match the previous event's hash"
        elif compute_hash(_row_fields(event)) != event.hash:
            reason = "stored hash does not match the event's content (modified row)"
        if reason:
            return ChainReport(
                tenant_id, count, expected_prev, ChainBreak(tenant_id, event.seq, event.pk, reason)
            )
        expected_prev, expected_seq = event.hash, event.seq + 1
    return ChainReport(tenant_id, count, expected_prev, None)


def verify_chains(tenant_ids: Iterable[int | None] | None = None) -> Iterator[ChainReport]:
    if tenant_ids is None:
        tenant_ids = AuditEvent.objects.values_list("tenant_id", flat=True).distinct()
        tenant_ids = sorted(set(tenant_ids), key=lambda t: (t is not None, t or 0))
    for tenant_id in tenant_ids:
        yield _verify_one(tenant_id)
