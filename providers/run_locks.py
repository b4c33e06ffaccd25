"""Is the process running a run still alive? It holds a session advisory lock on the run's id.

A worker that dies (OOM kill, lost machine, deploy) leaves its SyncRun or ImportRun marked
running forever; a time limit cannot tell a dead worker from a slow import. PostgreSQL can: the
process running a run holds a session-level advisory lock keyed on the run's id for as long as it
works on it, and the lock goes with its database session when the process dies. Whoever finds a
run still marked running and can take its lock (the reaper, or a redelivered task) knows nobody
is working on it, and decides its fate while holding the lock, so two of them never both do.

Like the metrics collection lock, this assumes a direct (or session-pooled) database connection,
as Celery workers and web processes have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import DatabaseError, connection

from core.locks import LockKey

_INT4 = 2**32


def _key(run_id: int) -> int:
    # Advisory locks take two int4 keys; ids beyond 2**31 wrap (two runs 4 billion ids apart
    # sharing a key only makes one of them look alive a little longer).
    return (run_id + 2**31) % _INT4 - 2**31


@contextlib.contextmanager
def holding(namespace: LockKey, run_id: int) -> Iterator[None]:
    """Hold the run's lock while the block runs (waits if a reaper is looking at it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [int(namespace), _key(run_id)])
    try:
        yield
    finally:
        _unlock(namespace, run_id)


@contextlib.contextmanager
def unless_alive(namespace: LockKey, run_id: int) -> Iterator[bool]:
    """Take the run's lock if nobody holds it: yields True (and holds it for the block) when the
    process that ran it is gone, False when it is still working."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [int(namespace), _key(run_id)])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            _unlock(namespace, run_id)


def _unlock(namespace: LockKey, run_id: int) -> None:
    # If the connection is unusable by now, the lock went with the session anyway.
    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [int(namespace), _key(run_id)])
