"""Collecting prepaid balances: one collection reads every balance of a connection now.

``connection_balances_collect`` asks the adapter for ``balances()`` (only for providers whose
declaration claims the capability), writes one ``BalanceSnapshot`` per balance with one
``collected_at``, computes the forecast (burn rate and days left, ``providers.balances``) and
stores it on the connection with ``balance_collected_at``, and records one audit event. A failed
read writes no snapshot and keeps the last forecast; the connection's ``balance_error`` says why
(a missing billing role is the common case) and clears on the next success. Collections run on a
platform schedule (``providers.balances_dispatch``) and right after each successful sync, in the
sync's own task (``providers.connection_sync``): no extra task per sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError
from core.services.guards import require_capability
from providers import balances as forecasts
from providers.adapters.base import BalanceRecord, ProviderError
from providers.adapters.registry import UnsupportedProvider, provider_spec
from providers.models import BalanceSnapshot, Connection

logger = logging.getLogger(__name__)


@dataclass
class BalanceCollection:
    connection_id: int
    ok: bool
    balances: int = 0
    error: str = ""
    forecast: list[dict] = field(default_factory=list)


def collects_balances(connection: Connection) -> bool:
    """Whether the connection's provider reads balances (declared and with an adapter)."""
    try:
        spec = provider_spec(connection.provider)
    except UnsupportedProvider:
        return False
    return spec.capabilities.balance and spec.has_adapter


def connection_balances_collect(
    *,
    actor=None,
    connection_id: int,
    trigger: str = "schedule",
    adapter_factory: Callable[[Connection], object] | None = None,
) -> BalanceCollection | None:
    """Read and store the connection's balances now. None (nothing written) for a disabled
    connection or a provider that reports no balance. ``actor`` None is the scheduler; a person
    needs manage_connections."""
    connection = Connection.objects.select_related("tenant").get(pk=connection_id)
    if actor is not None:
        require_capability(actor, Capability.MANAGE_CONNECTIONS, connection.tenant, action="sync")
    if connection.status == Connection.Status.DISABLED or not collects_balances(connection):
        return None
    from providers.services.sync import adapter_for

    try:
        adapter = (adapter_factory or adapter_for)(connection)
        records = list(adapter.balances())
        for record in records:
            if not isinstance(record, BalanceRecord):
                raise ProviderError(f"balances() yielded a {type(record).__name__}")
    except (ProviderError, UnsupportedProvider, NotImplementedError, ValueError) as exc:
        return _failed(actor, connection, trigger, str(exc) or type(exc).__name__)
    except DecryptionError:
        return _failed(actor, connection, trigger, "The stored credentials cannot be decrypted.")
    return _store(actor, connection, trigger, records)


@transaction.atomic
def _store(actor, connection, trigger, records: list[BalanceRecord]) -> BalanceCollection:
    now = timezone.now()
    BalanceSnapshot.objects.bulk_create(
        BalanceSnapshot(
            tenant_id=connection.tenant_id,
            connection=connection,
            account_id=record.account_id[:255],
            kind=str(record.kind),
            currency=record.currency.upper()[:3],
            amount=record.amount,
            days_to_block=record.days_to_block,
            details=dict(record.details),
            as_of=record.as_of,
            collected_at=now,
        )
        for record in records
    )
    found = forecasts.connection_forecasts(connection, records)
    forecast = {"currencies": [f.as_json() for f in found], "collected_at": now.isoformat()}
    Connection.objects.filter(pk=connection.pk).update(
        balance_collected_at=now, balance_error="", balance_forecast=forecast
    )
    result = BalanceCollection(connection.pk, True, len(records), "", forecast["currencies"])
    record_event(
        event_type="connection.balances_collected",
        actor=actor,
        tenant=connection.tenant_id,
        target=connection,
        extra={"trigger": trigger, "balances": len(records), "forecast": result.forecast},
    )
    return result


@transaction.atomic
def _failed(actor, connection, trigger, error: str) -> BalanceCollection:
    Connection.objects.filter(pk=connection.pk).update(balance_error=error[:2000])
    record_event(
        event_type="connection.balances_failed",
        actor=actor,
        tenant=connection.tenant_id,
        target=connection,
        extra={"trigger": trigger, "error": error},
    )
    logger.info("connection %s: balances not read: %s", connection.pk, error)
    return BalanceCollection(connection.pk, False, 0, error)
