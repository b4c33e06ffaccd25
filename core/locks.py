"""PostgreSQL locks: every advisory key namespace, and the one order in which locks are taken.

Lock order (every service, every task; a cycle in it is a deadlock):

0. the tenant's mapping-rules lock (``LockKey.MAPPING_RULES``): a service changing rules takes it
   (exclusive) before anything else; an import takes it (shared) after loading its rows, having
   locked the tenant row only FOR KEY SHARE, and records its audit event after it;
1. the tenant row (``core_tenant``), in any mode — FOR UPDATE when the tenant itself changes,
   FOR KEY SHARE otherwise. Note that *any* insert or update of a row with a foreign key to the
   tenant takes FOR KEY SHARE on it implicitly, so this lock is usually taken without asking;
2. the tenant's audit-chain advisory lock (``LockKey.AUDIT_CHAIN``);
3. nothing that conflicts with the above afterwards.

``record_event`` enforces 1 → 2 by itself: it takes FOR KEY SHARE on the tenant row (see
``lock_tenant_chain``) before the chain lock, so the audit row's own foreign-key check can never
wait behind a tenant row lock while the chain lock is held. The deadlock this prevents: one
transaction locked the tenant row FOR UPDATE and waited for the chain lock, another held the chain
lock and waited for the tenant row to insert its audit row.

A service that records events on several tenants' chains does so in ascending tenant id.
"""

from __future__ import annotations

import enum

from django.db import connection


class LockKey(enum.IntEnum):
    AUDIT_CHAIN = 1001
    METRICS_COLLECT = 1003
    PARTITION_CREATE = 1004  # key: hashtext of the partition's name
    SYNC_RUN = 1005  # key: SyncRun id; held by the process running it (session lock)
    IMPORT_RUN = 1006  # key: ImportRun id; held by the process running it (session lock)
    # key: tenant id. Shared by an import while it maps its rows with the tenant's mapping rules,
    # exclusive while the rules (or what they read) change: a change waits for imports mapping
    # with the old rules to commit, and imports after it see the new rules.
    MAPPING_RULES = 1007
    MAPPING_RUN = 1008  # key: tenant id; held by the process re-applying its rules (session)
    # key: tenant id; held by whoever recomputes its shared-cost results (transaction lock):
    # an import, a mapping run and a shared-cost run never write one tenant's days at once.
    ALLOCATION = 1009
    ALLOCATION_RUN = 1010  # key: tenant id; held by the process running its shared-cost run


def advisory_xact_lock(namespace: LockKey, key: int) -> None:
    """Block until this transaction holds the lock; released at commit or rollback."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [int(namespace), int(key)])


def lock_tenant_chain(tenant_id: int | None) -> None:
    """Take the tenant's row lock (FOR KEY SHARE) and then its audit-chain lock, in that order.

    Re-entrant: a transaction that already holds either lock (e.g. FOR UPDATE on the tenant from
    ``tenant_update``) passes straight through. ``None`` is the platform chain (no tenant row).
    """
    if tenant_id is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM core_tenant WHERE id = %s FOR KEY SHARE", [tenant_id])
    advisory_xact_lock(LockKey.AUDIT_CHAIN, tenant_id or 0)
