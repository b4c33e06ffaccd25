"""Replay protection that holds across processes and machines.

``claim_once(scope, value, ttl)`` is true for the first caller only, until ``ttl`` has passed:
the claim is one ``INSERT … ON CONFLICT`` against a unique key in PostgreSQL, so two web workers
(or two machines) receiving the same delivery at the same instant cannot both win. A per-process
cache could not promise that. An expired claim is taken over in the same statement.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import connection, transaction
from django.utils import timezone

from core.models.replay import SeenNonce


def _key(scope: str, value: str) -> str:
    return hashlib.sha256(f"{scope}\0{value}".encode()).hexdigest()


def claim_once(scope: str, value: str, ttl: dt.timedelta) -> bool:
    """True if this is the first claim of ``value`` in ``scope`` within ``ttl``.

    Commits on its own (a savepoint inside a caller's transaction): the claim must be visible to
    other processes at once, not when some outer transaction ends.
    """
    now = timezone.now()
    table = SeenNonce._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, expires_at) VALUES (%s, %s) "  # noqa: S608 (table name)
            f"ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at "
            f"WHERE {table}.expires_at <= %s RETURNING id",
            [_key(scope, value), now + ttl, now],
        )
        return cursor.fetchone() is not None


def release(scope: str, value: str) -> None:
    """Forget a claim (the work it guarded was refused, so a retry may try again)."""
    SeenNonce.objects.filter(key=_key(scope, value)).delete()


def purge_expired() -> int:
    deleted, _ = SeenNonce.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
