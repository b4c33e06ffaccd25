"""Rows that run on a schedule: connections (syncs) and cost sources (pulls).

Both kinds share one lifecycle, kept here once:

- a due slot (``next_*_at``) is claimed by the dispatcher with one conditional UPDATE that moves it
  forward by the row's interval, so overlapping dispatchers never queue a row twice;
- a lease (``lease_token``/``lease_until``) claimed with a conditional UPDATE keeps two runs of one
  row from overlapping; it is renewed while the run progresses and expires by itself if a worker
  dies; a disabled row cannot be claimed;
- enabling and disabling change the status and the due slot and record one audit event (the
  public services, ``connection_set_enabled`` and ``cost_source_set_enabled``, call it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from core.audit import record_event, snapshot
from core.capabilities import Capability
from core.services.guards import require_capability

# The dispatcher's batch: at most this many rows are queued per tick (the rest wait one tick).
DISPATCH_BATCH = 1000


@dataclass(frozen=True)
class Lease:
    """The run lease of rows of ``model`` (which has ``lease_token``, ``lease_until`` and a
    ``Status`` with ``DISABLED``)."""

    model: type
    ttl: timedelta

    def claim(self, pk: int) -> str | None:
        """Claim the row's lease; None when another run holds it (or the row is disabled)."""
        token, now = uuid.uuid4().hex, timezone.now()
        claimed = (
            self.model.objects.filter(pk=pk)
            .exclude(status=self.model.Status.DISABLED)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_token=token, lease_until=now + self.ttl)
        )
        return token if claimed else None

    def renew(self, pk: int, token: str) -> bool:
        return bool(
            self.model.objects.filter(pk=pk, lease_token=token).update(
                lease_until=timezone.now() + self.ttl
            )
        )

    def release(self, pk: int, token: str) -> None:
        self.model.objects.filter(pk=pk, lease_token=token).update(lease_token="", lease_until=None)

    @contextmanager
    def held(self, pk: int) -> Iterator[str | None]:
        """The token while the block runs (None: not claimed, nothing to release)."""
        token = self.claim(pk)
        try:
            yield token
        finally:
            if token is not None:
                self.release(pk, token)


def due_claim(
    model, *, due_field: str, interval_field: str, enqueue: Callable[[int], None]
) -> list[int]:
    """Claim every enabled row whose ``due_field`` has passed, moving it one ``interval_field``
    on, and ``enqueue`` each claimed row's pk right after its claim; returns the claimed pks."""
    now = timezone.now()
    due = list(
        model.objects.filter(**{f"{due_field}__lte": now})
        .exclude(status=model.Status.DISABLED)
        .values_list("pk", flat=True)[:DISPATCH_BATCH]
    )
    claimed = []
    for pk in due:
        moved = model.objects.filter(pk=pk, **{f"{due_field}__lte": now}).update(
            **{due_field: now + F(interval_field)}
        )
        if moved:
            claimed.append(pk)
            enqueue(pk)
    return claimed


def set_enabled(actor, row, enabled: bool, *, due_field: str, audit_fields: list[str], noun: str):
    """Enable (due at once, status pending) or disable (never due) ``row``; one audit event
    ``<noun>.enabled`` / ``<noun>.disabled``. The caller holds the transaction."""
    model = type(row)
    require_capability(actor, Capability.MANAGE_CONNECTIONS, row.tenant)
    row = model.objects.select_for_update().get(pk=row.pk)
    before = snapshot(row, audit_fields)
    if enabled and row.status == model.Status.DISABLED:
        row.status = model.Status.PENDING
        setattr(row, due_field, timezone.now())
    elif not enabled:
        row.status = model.Status.DISABLED
        setattr(row, due_field, None)
    row.save(update_fields=["status", due_field, "updated_at"])
    record_event(
        event_type=f"{noun}.enabled" if enabled else f"{noun}.disabled",
        actor=actor,
        tenant=row.tenant,
        target=row,
        before=before,
        after=snapshot(row, audit_fields),
    )
    return row
