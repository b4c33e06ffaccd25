"""Connection lifecycle: create, update (credentials write-only), verify, enable/disable, delete,
request a sync. Scheduling lives in django-celery-beat via ``providers.schedules``."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from core.capabilities import Capability
from core.crypto import DecryptionError, decrypt_json, encrypt_json
from core.services.guards import require_capability
from providers.adapters.base import ProviderAuthError, ProviderError, ProviderPermissionDenied
from providers.adapters.registry import (
    UnsupportedProvider,
    clean_credentials,
    validate_settings,
)
from providers.connection_settings import settings_shape_errors
from providers.models import Connection, ProviderType, SyncRun
from providers.services.scheduled import set_enabled

# What the audit log may show of a connection: never credentials or secrets.
AUDIT_FIELDS = ["provider", "name", "scope", "endpoints", "sync_interval", "status"]
MIN_INTERVAL = timedelta(minutes=5)


def _validate(actor, provider, *, credentials, scope, endpoints, sync_interval) -> dict | None:
    """Refuse settings the provider's declaration would refuse (ValidationError by field);
    returns the credentials as they are stored (None: unchanged)."""
    errors = {}
    if provider not in ProviderType.values:
        errors["provider"] = _("Unknown provider: %(p)s") % {"p": provider}
    errors.update(
        settings_shape_errors(provider, credentials=credentials, scope=scope, endpoints=endpoints)
    )
    if endpoints and actor is not None and not actor.is_staff:
        # Overrides make the server call any URL with the connection's credentials (an SSRF
        # surface), so only MSP operators may point connections at private installations.
        errors["endpoints"] = _("Only MSP operators can set API endpoint overrides.")
    if sync_interval is not None and sync_interval < MIN_INTERVAL:
        errors["sync_interval"] = _("The sync interval must be at least 5 minutes.")
    if not errors:
        errors.update(
            validate_settings(
                provider,
                credentials=credentials,
                scope=scope,
                endpoints=endpoints,
                # MSP operators (and the system) may point URL credentials at private clouds.
                trusted=actor is None or actor.is_staff,
            )
        )
    if errors:
        raise ValidationError(errors)
    return None if credentials is None else clean_credentials(provider, credentials)


@transaction.atomic
def connection_create(
    *,
    actor,
    tenant,
    provider: str,
    name: str,
    credentials: dict,
    scope: dict | None = None,
    endpoints: dict | None = None,
    sync_interval: timedelta = timedelta(hours=1),
    start_sync: bool = True,
) -> Connection:
    require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant)
    scope, endpoints = scope or {}, endpoints or {}
    if not credentials:
        raise ValidationError({"credentials": _("Credentials are required.")})
    credentials = _validate(
        actor,
        provider,
        credentials=credentials,
        scope=scope,
        endpoints=endpoints,
        sync_interval=sync_interval,
    )
    connection = Connection(
        tenant=tenant,
        provider=provider,
        name=name,
        credentials_encrypted=encrypt_json(credentials),
        scope=scope,
        endpoints=endpoints,
        sync_interval=sync_interval,
        webhook_secret_encrypted=encrypt_json(secrets.token_urlsafe(32)),
        # With a first sync queued now, the dispatcher's turn comes one interval later;
        # otherwise the dispatcher picks it up at its next tick.
        next_sync_at=timezone.now() + (sync_interval if start_sync else timedelta(0)),
    )
    connection.full_clean(exclude=["credentials_encrypted", "webhook_secret_encrypted"])
    connection.save()
    record_event(
        event_type="connection.created",
        actor=actor,
        tenant=tenant,
        target=connection,
        after=snapshot(connection, AUDIT_FIELDS),
    )
    if start_sync:
        _enqueue_sync(connection.pk, SyncRun.Trigger.CREATED)
    return connection


@transaction.atomic
def connection_update(*, actor, connection: Connection, credentials: dict | None = None, **changes):
    """Change settings; ``credentials`` replaces the stored ones (they are never read back)."""
    allowed = {"name", "scope", "endpoints", "sync_interval"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({field: _("This field cannot be changed.") for field in unknown})
    require_capability(actor, Capability.MANAGE_CONNECTIONS, connection.tenant)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    before = snapshot(connection, AUDIT_FIELDS)
    for key, value in changes.items():
        setattr(connection, key, value)
    credentials = _validate(
        actor,
        connection.provider,
        credentials=credentials,
        scope=connection.scope,
        endpoints=changes.get("endpoints"),
        sync_interval=connection.sync_interval,
    )
    if credentials is not None:
        connection.credentials_encrypted = encrypt_json(credentials)
        if connection.status == Connection.Status.AUTH_FAILED:
            connection.status = Connection.Status.PENDING  # new credentials deserve a new try
    connection.full_clean(exclude=["credentials_encrypted", "webhook_secret_encrypted"])
    connection.save()
    after = snapshot(connection, AUDIT_FIELDS)
    record_event(
        event_type="connection.updated",
        actor=actor,
        tenant=connection.tenant,
        target=connection,
        before=before,
        after=after,
        # Named so the audit log's redaction (any key mentioning secrets) leaves the flag readable.
        extra={"login_replaced": credentials is not None},
    )
    return connection


@transaction.atomic
def connection_set_enabled(*, actor, connection: Connection, enabled: bool) -> Connection:
    """Disable (no more syncs) or enable (a sync is queued at once)."""
    connection = set_enabled(
        actor,
        connection,
        enabled,
        due_field="next_sync_at",
        audit_fields=AUDIT_FIELDS,
        noun="connection",
    )
    if enabled:
        _enqueue_sync(connection.pk, SyncRun.Trigger.MANUAL)
    return connection


@transaction.atomic
def connection_delete(*, actor, connection: Connection) -> None:
    """Delete a connection with its resources and history (an explicit, audited decision)."""
    from providers.models import Resource, ResourceEvent, ResourceMetric, ResourceMetricDaily

    require_capability(actor, Capability.MANAGE_CONNECTIONS, connection.tenant)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    resources = Resource.objects.filter(connection=connection)
    counts = {"resources": resources.count()}
    record_event(
        event_type="connection.deleted",
        actor=actor,
        tenant=connection.tenant,
        target=connection,
        before=snapshot(connection, AUDIT_FIELDS),
        extra=counts,
    )
    ids = resources.values("pk")
    ResourceMetric.objects.filter(resource_id__in=ids).delete()
    ResourceMetricDaily.objects.filter(resource_id__in=ids).delete()
    ResourceEvent.objects.filter(resource_id__in=ids).delete()
    resources.update(parent=None)
    resources.delete()
    connection.delete()


def connection_verify(*, actor, connection: Connection) -> tuple[bool, str]:
    """Cheap provider calls: the credentials, then one probe per service the sync reads.
    Returns (ok, message) — the message names the services that cannot be read and the role to
    grant; records the outcome on the connection."""
    from providers.services.sync import adapter_for

    require_capability(actor, Capability.MANAGE_CONNECTIONS, connection.tenant)
    status = None
    services = {}
    try:
        result = adapter_for(connection).verify()
        ok, message = True, result.message
        services = {probe.service: probe.outcome for probe in result.services}
        if connection.status == Connection.Status.AUTH_FAILED:
            status = Connection.Status.PENDING
    except ProviderPermissionDenied as exc:
        # Valid credentials without the role to read the scope: not an authentication failure.
        ok, message = False, str(exc)
    except ProviderAuthError as exc:
        ok, message, status = False, str(exc), Connection.Status.AUTH_FAILED
    except (ProviderError, UnsupportedProvider, ValueError) as exc:
        ok, message = False, str(exc)
    except DecryptionError:
        ok, message = False, _("The stored credentials cannot be decrypted; enter them again.")
    with transaction.atomic():
        if status is not None:
            Connection.objects.filter(pk=connection.pk).exclude(
                status=Connection.Status.DISABLED
            ).update(status=status, last_error="" if ok else message)
        record_event(
            event_type="connection.verified",
            actor=actor,
            tenant=connection.tenant,
            target=connection,
            extra={"ok": ok, "message": message, "services": services},
        )
    return ok, message


@transaction.atomic
def connection_request_sync(*, actor, connection: Connection, trigger: str = "manual") -> None:
    require_capability(actor, Capability.MANAGE_CONNECTIONS, connection.tenant, action="sync")
    if connection.status == Connection.Status.DISABLED:
        raise ValidationError(_("This connection is disabled; enable it first."))
    record_event(
        event_type="connection.sync_requested",
        actor=actor,
        tenant=connection.tenant,
        target=connection,
        extra={"trigger": trigger},
    )
    _enqueue_sync(connection.pk, trigger)


def connection_credentials(connection: Connection) -> dict:
    """Decrypted credentials, for adapters only (never for display)."""
    return decrypt_json(connection.credentials_encrypted) or {}


def webhook_secret(connection: Connection) -> str:
    return decrypt_json(connection.webhook_secret_encrypted) or ""


def _enqueue_sync(connection_id: int, trigger: str) -> None:
    from providers.tasks import connection_sync_task

    transaction.on_commit(
        lambda: connection_sync_task.apply_async(
            kwargs={"connection_id": connection_id, "trigger": trigger}
        )
    )
