"""Cost sources: create, update, enable/disable, delete, request a pull.

Services check the capability (manage_connections), validate tenant consistency and write one
audit event. The pull itself is ``providers.services.cost_source_pulls``, a single Yandex export
file ``providers.services.yandex_imports``; S3 access and the export mapping live in
``providers.costs.sources``. Pulls are scheduled by ``next_pull_at`` and never overlap (see
``providers.services.scheduled``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from core.capabilities import Capability
from core.crypto import decrypt_json, encrypt_json
from core.services.guards import require_capability
from providers.costs import hooks, rollups
from providers.costs.sources.endpoints import endpoint_errors
from providers.models import CostLineItem, CostSource, CostSourceObject, ImportRun, ProviderType
from providers.services.scheduled import set_enabled

logger = logging.getLogger(__name__)

AUDIT_FIELDS = [
    "kind",
    "name",
    "connection_id",
    "endpoint_url",
    "bucket",
    "prefix",
    "region",
    "policy",
    "focus_replace",
    "start_date",
    "pull_interval",
    "file_kind",
    "lookback_days",
    "status",
]
EDITABLE = frozenset(
    {
        "name",
        "connection",
        "endpoint_url",
        "bucket",
        "prefix",
        "region",
        "policy",
        "focus_replace",
        "start_date",
        "pull_interval",
        "lookback_days",
    }
)
# Changing any of these points the source at other objects: what it remembers no longer applies.
LOCATION_FIELDS = frozenset({"endpoint_url", "bucket", "prefix"})
MIN_INTERVAL = timedelta(minutes=5)
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")


# --- settings -------------------------------------------------------------------------------
# A provider's own export format belongs to a connection of that provider.
EXPORT_PROVIDER = {CostSource.Kind.YANDEX_BILLING_EXPORT: "yandex_cloud"}


def _validate(actor, source: CostSource, credentials: dict | None, *, creating: bool) -> None:
    errors: dict[str, list[str]] = {}
    if source.kind not in CostSource.Kind.values:
        errors["kind"] = [_("Unknown kind of cost source: %(k)s") % {"k": source.kind}]
    elif source.reads_bucket:
        errors.update(_bucket_errors(actor, source, credentials, creating=creating))
    else:
        errors.update(_provider_errors(source, credentials))
    if source.pull_interval is not None and source.pull_interval < MIN_INTERVAL:
        errors["pull_interval"] = [_("The pull interval must be at least 5 minutes.")]
    connection = source.connection
    wanted = EXPORT_PROVIDER.get(source.kind)
    if wanted and connection is not None and connection.provider != wanted:
        errors["connection"] = [
            _("A %(p)s export belongs to a %(p)s connection.") % {"p": ProviderType(wanted).label}
        ]
    if errors:
        raise ValidationError(errors)
    source.full_clean(exclude=["credentials_encrypted"])  # also rejects another tenant's FK


def _bucket_errors(actor, source, credentials, *, creating: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if creating and not credentials:
        errors["credentials"] = [_("An access key id and secret key are required.")]
    if credentials is not None:
        shape = isinstance(credentials, dict) and all(
            isinstance(credentials.get(k), str) and credentials[k].strip()
            for k in ("access_key_id", "secret_access_key")
        )
        if not shape:
            errors["credentials"] = [_("Give access_key_id and secret_access_key.")]
    if not BUCKET_NAME.fullmatch(source.bucket or ""):
        errors["bucket"] = [_("Not a bucket name (3-63 letters, digits, '.', '-', '_').")]
    if source.prefix.startswith("/"):
        errors["prefix"] = [_("Key prefixes do not start with '/'.")]
    if found := endpoint_errors(source.endpoint_url or "", actor):
        errors["endpoint_url"] = found
    return errors


def _provider_errors(source, credentials) -> dict[str, list[str]]:
    """A cost API or provider-file source: the connection's declaration must offer it; it reads
    with the connection's credentials (or takes uploads), so it has no keys of its own."""
    from providers.adapters.registry import cost_file_formats, provider_spec
    from providers.adapters.spec import CostCapability

    errors: dict[str, list[str]] = {}
    if credentials:
        errors["credentials"] = [
            _("This kind of source uses its connection's credentials; give none.")
        ]
    connection = source.connection
    if source.kind == CostSource.Kind.PROVIDER_API:
        if connection is None:
            errors["connection"] = [_("A cost API source reads through one of your connections.")]
        elif not {CostCapability.API, CostCapability.ESTIMATE} & set(
            provider_spec(connection.provider).capabilities.costs
        ):
            errors["connection"] = [
                _("%(p)s has no cost API.") % {"p": ProviderType(connection.provider).label}
            ]
    if source.kind == CostSource.Kind.PROVIDER_FILE:
        formats = cost_file_formats()
        if source.file_kind not in formats:
            errors["file_kind"] = [
                _("Choose the file format: %(kinds)s.")
                % {"kinds": ", ".join(sorted(formats)) or _("none is available yet")}
            ]
        elif connection is not None and connection.provider != formats[source.file_kind][0]:
            errors["connection"] = [_("These files belong to a connection of their provider.")]
    elif source.file_kind:
        errors["file_kind"] = [_("Only uploaded provider files have a file format.")]
    return errors


def _clean_credentials(credentials: dict) -> dict:
    return {k: credentials[k].strip() for k in ("access_key_id", "secret_access_key")}


@transaction.atomic
def cost_source_create(
    *,
    actor,
    tenant,
    kind: str,
    name: str,
    bucket: str = "",
    credentials: dict | None = None,
    connection=None,
    endpoint_url: str | None = None,
    prefix: str = "",
    region: str = "ru-central1",
    policy: str = ImportRun.BadRowPolicy.REJECT_FILE,
    focus_replace: str = CostSource.FocusReplace.MONTHS,
    start_date: dt.date | None = None,
    pull_interval: timedelta = timedelta(hours=1),
    file_kind: str = "",
    lookback_days: int = 3,
    start_pull: bool = True,
) -> CostSource:
    """Create a source; with ``start_pull`` its first pull is queued at once (a source of
    uploaded provider files is never pulled: files come by ``provider_file_import``)."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant, action="add")
    source = CostSource(
        tenant=tenant,
        kind=kind,
        name=name,
        connection=connection,
        endpoint_url=endpoint_url or CostSource._meta.get_field("endpoint_url").default,
        bucket=bucket,
        prefix=prefix,
        region=region,
        policy=policy,
        focus_replace=focus_replace,
        start_date=start_date,
        pull_interval=pull_interval,
        file_kind=file_kind,
        lookback_days=lookback_days,
        next_pull_at=timezone.now() + (pull_interval if start_pull else timedelta(0)),
    )
    uploads_only = kind == CostSource.Kind.PROVIDER_FILE
    if uploads_only:
        source.next_pull_at = None
    _validate(actor, source, credentials, creating=True)
    source.credentials_encrypted = (
        encrypt_json(_clean_credentials(credentials)) if credentials else ""
    )
    source.save()
    record_event(
        event_type="cost_source.created",
        actor=actor,
        tenant=tenant,
        target=source,
        after=snapshot(source, AUDIT_FIELDS),
    )
    if start_pull and not uploads_only:
        _enqueue_pull(source.pk, "created")
    return source


@transaction.atomic
def cost_source_update(
    *, actor, source: CostSource, credentials: dict | None = None, **changes
) -> CostSource:
    """Change settings; ``credentials`` replaces the stored key pair (never read back)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError({name: _("This field cannot be changed.") for name in unknown})
    require_capability(actor, Capability.MANAGE_CONNECTIONS, source.tenant)
    source = CostSource.objects.select_for_update().get(pk=source.pk)
    before = snapshot(source, AUDIT_FIELDS)
    for name, value in changes.items():
        setattr(source, name, value)
    _validate(actor, source, credentials, creating=False)
    if credentials is not None:
        source.credentials_encrypted = encrypt_json(_clean_credentials(credentials))
        if source.status == CostSource.Status.AUTH_FAILED:
            source.status = CostSource.Status.PENDING  # new keys deserve a new try
    moved = any(before[f] != getattr(source, f) for f in LOCATION_FIELDS)
    if (moved or credentials is not None) and source.is_enabled:
        # Somewhere new to read, or new keys to try: the dispatcher's next tick pulls it.
        source.next_pull_at = timezone.now()
    source.save()
    after = snapshot(source, AUDIT_FIELDS)
    forgotten = 0
    if moved:
        forgotten = CostSourceObject.objects.filter(source=source).delete()[0]
    elif before["policy"] != after["policy"]:
        # Files rejected under the old policy deserve a retry under the new one.
        rejected = CostSourceObject.objects.filter(
            source=source, outcome=CostSourceObject.Outcome.REJECTED
        )
        forgotten = rejected.delete()[0]
    record_event(
        event_type="cost_source.updated",
        actor=actor,
        tenant=source.tenant,
        target=source,
        before=before,
        after=after,
        # (not "secrets_…": the audit log redacts any key that sounds like a secret)
        extra={"access_keys_replaced": credentials is not None, "objects_forgotten": forgotten},
    )
    return source


@transaction.atomic
def cost_source_set_enabled(*, actor, source: CostSource, enabled: bool) -> CostSource:
    """Disable (no more pulls) or enable (the dispatcher's next tick pulls it)."""
    return set_enabled(
        actor,
        source,
        enabled,
        due_field="next_pull_at",
        audit_fields=AUDIT_FIELDS,
        noun="cost_source",
    )


@transaction.atomic
def cost_source_delete(*, actor, source: CostSource, purge_costs: bool = False) -> None:
    """Delete a source. Its cost data stays (billing history) unless ``purge_costs``."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, source.tenant, action="delete")
    source = CostSource.objects.select_for_update().get(pk=source.pk)
    purged = _purge_costs(source) if purge_costs else 0
    record_event(
        event_type="cost_source.deleted",
        actor=actor,
        tenant=source.tenant,
        target=source,
        before=snapshot(source, AUDIT_FIELDS),
        extra={"purged_line_items": purged},
    )
    source.delete()


def _purge_costs(source: CostSource) -> int:
    items = CostLineItem.objects.filter(
        Q(x_source_key=source.source_key) | Q(x_source_key__startswith=f"{source.source_key}:"),
        tenant_id=source.tenant_id,
    )
    span = items.aggregate(first=Min("charge_period_start"), last=Max("charge_period_start"))
    if span["first"] is None:
        return 0
    deleted = items.delete()[0]
    tz = source.tenant.time_zone
    first_day, last_day = rollups.local_days(span["first"], span["last"] + timedelta(days=1), tz)
    rollups.refresh(
        tenant_id=source.tenant_id, time_zone=tz, first_day=first_day, last_day=last_day
    )
    hooks.after_rollups(source.tenant_id, tz, first_day, last_day)
    return deleted


@transaction.atomic
def cost_source_request_pull(*, actor, source: CostSource, trigger: str = "manual") -> None:
    """Queue a pull now (the admin's and API's "pull now")."""
    require_capability(actor, Capability.MANAGE_CONNECTIONS, source.tenant, action="pull")
    source = CostSource.objects.get(pk=source.pk)  # the status as stored, not as passed in
    if source.status == CostSource.Status.DISABLED:
        raise ValidationError(_("This cost source is disabled; enable it first."))
    record_event(
        event_type="cost_source.pull_requested",
        actor=actor,
        tenant=source.tenant,
        target=source,
        extra={"trigger": trigger},
    )
    _enqueue_pull(source.pk, trigger)


def _enqueue_pull(source_id: int, trigger: str) -> None:
    from providers.tasks import cost_source_pull_task

    transaction.on_commit(
        lambda: cost_source_pull_task.apply_async(
            kwargs={"source_id": source_id, "trigger": trigger}
        )
    )


def source_credentials(source: CostSource) -> dict:
    """Decrypted key pair, for the S3 client only (never for display)."""
    return decrypt_json(source.credentials_encrypted) or {}
