"""PostgreSQL advisory locks, with every key namespace listed in one place."""

from __future__ import annotations

import enum

from django.db import connection


class LockKey(enum.IntEnum):
    AUDIT_CHAIN = 1001
    METRICS_COLLECT = 1003
    PARTITION_CREATE = 1004  # key: hashtext of the partition's name
    SYNC_RUN = 1005  # key: SyncRun id; held by the process running it (session lock)
    IMPORT_RUN = 1006  # key: ImportRun id; held by the process running it (session lock)


def advisory_xact_lock(namespace: LockKey, key: int) -> None:
    """Block until this transaction holds the lock; released at commit or rollback."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [int(namespace), int(key)])
