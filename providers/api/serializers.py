"""Serializers for connections, resources, their history and metrics.

Credentials are write-only: accepted on create/update, never serialized (``has_credentials``
says whether any are stored). The webhook secret appears once, in the create response.
"""

from __future__ import annotations

import base64
import binascii
import io
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers

from core.api.base import TenantScopedSerializer
from core.api.tenant_choices import TenantChoiceMixin
from core.capabilities import Capability
from core.models import Tenant
from providers.connection_settings import settings_shape_errors
from providers.models import (
    BalanceSnapshot,
    Connection,
    CostLineItem,
    CostSource,
    CostSourceObject,
    ImportRun,
    Resource,
    ResourceEvent,
    ResourceMetric,
    ResourceMetricDaily,
    SyncRun,
)
from providers.services.connections import MIN_INTERVAL
from providers.services.cost_sources import MIN_INTERVAL as COST_SOURCE_MIN_INTERVAL
from providers.services.uploads import MAX_WAIT_BYTES, cost_upload_check

MAX_INTERVAL = timedelta(days=366)


class SecondsField(serializers.IntegerField):
    """A duration as whole seconds: simpler for integrators than Django's "D HH:MM:SS"."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The bounds are checked on the integer below; Django's validators would compare the
        # converted timedelta with an int.
        self.validators = [v for v in self.validators if v.code not in ("min_value", "max_value")]

    def to_representation(self, value: timedelta) -> int:
        return int(value.total_seconds())

    def to_internal_value(self, data) -> timedelta:
        seconds = super().to_internal_value(data)
        if self.min_value is not None and seconds < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if self.max_value is not None and seconds > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return timedelta(seconds=seconds)


def _credentials_help() -> str:
    """Each provider's credential keys, from its declaration."""
    from providers.adapters.registry import provider_specs

    parts = [f"{spec.name}: {', '.join(sorted(spec.credential_keys))}" for spec in provider_specs()]
    return (
        "JSON object of the provider's credential fields, write-only: never returned; which "
        "combinations each provider takes is checked on write. " + "; ".join(parts) + ". "
        "Omit on update to keep."
    )


class ConnectionSerializer(TenantChoiceMixin, TenantScopedSerializer):
    tenant_choice_capability = Capability.MANAGE_CONNECTIONS
    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all())
    credentials = serializers.JSONField(
        write_only=True,
        help_text=_credentials_help(),
    )
    has_credentials = serializers.SerializerMethodField()
    sync_interval = SecondsField(
        required=False,
        min_value=int(MIN_INTERVAL.total_seconds()),
        max_value=int(MAX_INTERVAL.total_seconds()),
        help_text="Seconds between scheduled syncs (default 3600, at least 300).",
    )
    webhook_url = serializers.SerializerMethodField(
        help_text="POST here, signed with the webhook secret, to request an immediate sync."
    )

    class Meta:
        model = Connection
        fields = [
            "id",
            "tenant",
            "provider",
            "name",
            "credentials",
            "has_credentials",
            "scope",
            "endpoints",
            "sync_interval",
            "status",
            "last_error",
            "last_sync_at",
            "last_full_sync_at",
            "next_sync_at",
            "webhook_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "last_error",
            "last_sync_at",
            "last_full_sync_at",
            "next_sync_at",
            "created_at",
            "updated_at",
        ]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # A connection never moves between tenants or providers; credentials are optional.
            fields["tenant"].read_only = True
            fields["provider"].read_only = True
            fields["credentials"].required = False
        return fields

    def get_has_credentials(self, obj) -> bool:
        return bool(obj.credentials_encrypted)

    def get_webhook_url(self, obj) -> str:
        return reverse("connection-webhook", kwargs={"pk": obj.pk})

    def validate(self, attrs):
        attrs = super().validate(attrs)
        provider = attrs.get("provider") or getattr(self.instance, "provider", None)
        errors = settings_shape_errors(
            provider,
            credentials=attrs.get("credentials"),
            scope=attrs.get("scope"),
            endpoints=attrs.get("endpoints"),
        )
        if "credentials" in attrs and not attrs["credentials"] and "credentials" not in errors:
            errors["credentials"] = _("Credentials are required.")
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CreatedConnectionSerializer(ConnectionSerializer):
    webhook_secret = serializers.CharField(
        read_only=True,
        help_text="Key for signing webhook calls (HMAC-SHA256). Shown only in this response.",
    )

    class Meta(ConnectionSerializer.Meta):
        fields = [*ConnectionSerializer.Meta.fields, "webhook_secret"]


class VerifyResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    status = serializers.CharField(help_text="The connection's status after the check.")


class ResourceSerializer(serializers.ModelSerializer):
    effective_last_seen_at = serializers.DateTimeField(
        read_only=True,
        help_text="When the provider last listed it: for live resources the later of "
        "last_seen_at and the connection's last complete listing.",
    )

    class Meta:
        model = Resource
        fields = [
            "id",
            "tenant",
            "connection",
            "provider",
            "provider_id",
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
            "parent",
            "parent_provider_id",
            "provider_created_at",
            "created_by",
            "first_seen_at",
            "last_seen_at",
            "effective_last_seen_at",
            "deleted_at",
        ]
        read_only_fields = fields


class ResourceEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResourceEvent
        fields = ["id", "tenant", "resource", "sync_run", "kind", "changes", "at"]
        read_only_fields = fields


class SyncRunSerializer(serializers.ModelSerializer):
    warnings = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text=(
            "Services that could not be read (their resources were kept): "
            '`{"service", "service_name", "outcome": "denied"|"absent", "types", "scopes", '
            '"message"}`, e.g. "cannot read Managed Kubernetes: permission denied — grant '
            'k8s.viewer".'
        ),
    )
    outcomes = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text='Resource type -> how its listing ended: "complete", "denied", "absent" or '
        '"failed". Only completely listed types have missing resources marked deleted.',
    )

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "tenant",
            "connection",
            "kind",
            "trigger",
            "status",
            "complete",
            "started_at",
            "finished_at",
            "duration_ms",
            "seen",
            "created",
            "updated",
            "unchanged",
            "deleted",
            "api_calls",
            "error",
            "warnings",
            "outcomes",
            "progress",
        ]
        read_only_fields = fields


class ResourceMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResourceMetric
        fields = ["metric", "ts", "value"]
        read_only_fields = fields


class ResourceMetricDailySerializer(serializers.ModelSerializer):
    class Meta:
        model = ResourceMetricDaily
        fields = ["id", "tenant", "resource", "metric", "day", "avg", "min", "max", "samples"]
        read_only_fields = fields


# --- cost data ----------------------------------------------------------------------------------
class ExactDecimalField(serializers.DecimalField):
    """A stored amount as written in the database: plain notation, nothing rounded or padded."""

    def to_representation(self, value):
        return None if value is None else format(Decimal(value), "f")


class BalanceSnapshotSerializer(serializers.ModelSerializer):
    """One prepaid balance as the provider reported it at one collection (amounts are exact
    Decimal strings in ``currency``)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: ExactDecimalField,
    }

    class Meta:
        model = BalanceSnapshot
        fields = [
            "id",
            "tenant",
            "connection",
            "account_id",
            "kind",
            "currency",
            "amount",
            "days_to_block",
            "details",
            "as_of",
            "collected_at",
        ]
        read_only_fields = fields


class _BalanceFigureSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField(help_text="Every kind in this currency, a Decimal string.")
    as_of = serializers.DateTimeField()
    daily_burn = serializers.CharField(allow_null=True, help_text="Money per day.")
    burn_source = serializers.CharField(
        allow_null=True,
        help_text="costs_7d, costs_30d, provider_costs_7d, provider_costs_30d, balance_7d or "
        "balance_30d (see the summary's description); null: no burn known.",
    )
    days_left = serializers.CharField(allow_null=True)
    runs_out_on = serializers.DateField(allow_null=True)
    provider_days_to_block = serializers.CharField(
        allow_null=True, help_text="The provider's own forecast, when it gives one."
    )
    by_kind = serializers.DictField(child=serializers.CharField())


class _ConnectionBalanceSerializer(serializers.Serializer):
    connection = serializers.IntegerField()
    name = serializers.CharField()
    provider = serializers.CharField()
    collected_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    balances = _BalanceFigureSerializer(many=True)


class _BalanceTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()
    daily_burn = serializers.CharField()
    days_left = serializers.CharField(allow_null=True)
    runs_out_on = serializers.DateField(allow_null=True)


class _EarliestSerializer(_BalanceFigureSerializer):
    connection = serializers.IntegerField()
    name = serializers.CharField()


class BalanceSummarySerializer(serializers.Serializer):
    tenant = serializers.IntegerField()
    connections = _ConnectionBalanceSerializer(many=True)
    totals = _BalanceTotalSerializer(many=True)
    earliest = _EarliestSerializer(allow_null=True)


class CostLineItemSerializer(serializers.ModelSerializer):
    """One FOCUS 1.2 row (snake_case FOCUS column names) with InfraZen's x_ extensions."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: ExactDecimalField,
    }

    class Meta:
        model = CostLineItem
        fields = [
            "id",
            "tenant",
            *(f.name for f in CostLineItem._meta.concrete_fields if f.name not in ("id", "tenant")),
        ]
        read_only_fields = fields


class ImportRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRun
        fields = [
            "id",
            "tenant",
            "source",
            "source_key",
            "connection",
            "status",
            "policy",
            "file_name",
            "file_sha256",
            "file_size",
            "focus_version",
            "period_start",
            "period_end",
            "rows_read",
            "rows_loaded",
            "rows_rejected",
            "rows_replaced",
            "totals",
            "warnings",
            "errors",
            "error",
            "progress",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields


def uploaded_stream(attrs: dict) -> tuple[io.IOBase, str, str]:
    """Pop ``file`` (multipart) or ``content`` (base64, for JSON clients) from ``attrs``:
    (stream, file name, the field it came in). Exactly one of them must be given."""
    upload, content = attrs.pop("file", None), attrs.pop("content", None)
    if (upload is None) == (content is None):
        raise serializers.ValidationError(
            {"file": _("Send the file as multipart “file”, or base64 in “content”.")}
        )
    if upload is not None:
        return upload, upload.name, "file"
    try:
        raw = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise serializers.ValidationError({"content": _("Not valid base64.")}) from None
    return io.BytesIO(raw), "upload.csv", "content"


def stream_size(stream) -> int:
    return getattr(stream, "size", None) or len(stream.getbuffer())


class ImportUploadSerializer(TenantChoiceMixin, TenantScopedSerializer):
    """A FOCUS file to import: multipart ``file``, or JSON with the bytes base64-encoded in
    ``content``. Queued (202) unless ``wait`` is true (small files only: imported at once, 201)."""

    tenant_choice_capability = Capability.MANAGE_CONNECTIONS

    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all())
    file = serializers.FileField(
        write_only=True, required=False, help_text="FOCUS 1.0-1.2 CSV, CSV.gz or Parquet."
    )
    content = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        help_text="Instead of `file`: the file's bytes, base64-encoded (JSON requests).",
    )
    file_name = serializers.CharField(
        required=False, max_length=255, help_text="Defaults to the uploaded file's name."
    )
    source_key = serializers.CharField(
        required=False,
        max_length=200,
        default="focus-upload",
        help_text="Names the source: a new file replaces this source's rows for the months it "
        "covers.",
    )
    policy = serializers.ChoiceField(
        choices=ImportRun.BadRowPolicy.choices,
        default=ImportRun.BadRowPolicy.REJECT_FILE,
        help_text="reject_file: any bad row rejects the file; skip_rows: load the good rows.",
    )
    force = serializers.BooleanField(
        default=False, help_text="Import even if this exact file was already loaded."
    )
    wait = serializers.BooleanField(
        default=False,
        help_text="Import during the request (files up to 20 MB) instead of queueing it.",
    )

    class Meta:
        model = ImportRun
        fields = ["tenant", "file", "content", "file_name", "source_key", "policy", "force", "wait"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        stream, name, field = uploaded_stream(attrs)
        try:
            cost_upload_check(stream)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({field: exc.messages}) from None
        if attrs.get("wait") and stream_size(stream) > MAX_WAIT_BYTES:
            raise serializers.ValidationError(
                {"wait": _("Files over 20 MB are imported in the background; omit “wait”.")}
            )
        attrs["stream"] = stream
        attrs["file_name"] = attrs.get("file_name") or name
        return attrs


# --- cost sources -------------------------------------------------------------------------------
class StorageKeysSerializer(serializers.Serializer):
    """A static access key pair of the bucket's storage (write-only)."""

    access_key_id = serializers.CharField(max_length=256)
    secret_access_key = serializers.CharField(max_length=256, style={"input_type": "password"})


class CostSourceSerializer(TenantChoiceMixin, TenantScopedSerializer):
    """Where cost data comes from: an S3-compatible bucket of billing files pulled on a schedule
    (the key pair is write-only: accepted on create/update, never returned; ``has_credentials``
    says whether one is stored), a provider's cost API read through ``connection``
    (``provider_api``), or provider files uploaded to it (``provider_file``, in the format
    ``file_kind`` names). ``pull_interval`` is in seconds."""

    tenant_choice_capability = Capability.MANAGE_CONNECTIONS

    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all())
    credentials = StorageKeysSerializer(
        write_only=True,
        required=False,
        help_text='Buckets: {"access_key_id": "...", "secret_access_key": "..."}, write-only: '
        "never returned. Omit on update to keep the stored pair; omit for other kinds.",
    )
    has_credentials = serializers.SerializerMethodField()
    pull_interval = SecondsField(
        required=False,
        min_value=int(COST_SOURCE_MIN_INTERVAL.total_seconds()),
        max_value=int(MAX_INTERVAL.total_seconds()),
        help_text="Seconds between scheduled pulls (default 3600, at least 300).",
    )
    source_key = serializers.CharField(
        read_only=True,
        help_text="The x_source_key of this source's line items and import runs.",
    )

    class Meta:
        model = CostSource
        fields = [
            "id",
            "tenant",
            "kind",
            "name",
            "connection",
            "endpoint_url",
            "bucket",
            "prefix",
            "region",
            "credentials",
            "has_credentials",
            "policy",
            "focus_replace",
            "start_date",
            "pull_interval",
            "file_kind",
            "lookback_days",
            "pulled_through",
            "source_key",
            "status",
            "last_error",
            "last_pull_at",
            "next_pull_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "pulled_through",
            "status",
            "last_error",
            "last_pull_at",
            "next_pull_at",
            "created_at",
            "updated_at",
        ]
        # DRF would turn the (tenant, name) constraint into a non-field error that also makes
        # ``tenant`` required on updates; validate() answers on ``name`` instead.
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # A source never changes tenant or kind (its data and key depend on both).
            fields["tenant"].read_only = True
            fields["kind"].read_only = True
            fields["file_kind"].read_only = True
        return fields

    def get_has_credentials(self, obj) -> bool:
        return bool(obj.credentials_encrypted)

    def validate_credentials(self, value):
        # A partial update makes the nested fields optional too; a key pair is all or nothing.
        missing = [k for k in ("access_key_id", "secret_access_key") if not value.get(k)]
        if missing:
            raise serializers.ValidationError({k: [_("This field is required.")] for k in missing})
        return dict(value)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        tenant = attrs.get("tenant") or getattr(self.instance, "tenant", None)
        name = attrs.get("name")
        if tenant is not None and name:
            taken = CostSource.objects.filter(tenant=tenant, name=name)
            if self.instance is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise serializers.ValidationError(
                    {"name": _("This tenant already has a cost source with this name.")}
                )
        return attrs


class CostSourceObjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostSourceObject
        fields = [
            "id",
            "source",
            "key",
            "etag",
            "last_modified",
            "size",
            "outcome",
            "policy",
            "import_run",
            "pulled_at",
        ]
        read_only_fields = fields


class YandexExportUploadSerializer(serializers.Serializer):
    """One Yandex Cloud daily billing export file, imported into the source at once: multipart
    ``file`` or base64 ``content``. It replaces the source's rows for its MSK day."""

    file = serializers.FileField(
        write_only=True, required=False, help_text="A daily export CSV (…YYYYMMDD.csv[.gz])."
    )
    content = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        help_text="Instead of `file`: the file's bytes, base64-encoded (JSON requests).",
    )
    file_name = serializers.CharField(
        required=False,
        max_length=255,
        help_text="Defaults to the uploaded file's name; its YYYYMMDD names the day.",
    )
    day = serializers.DateField(
        required=False, help_text="The MSK day the file holds, if its name does not say."
    )
    policy = serializers.ChoiceField(
        choices=ImportRun.BadRowPolicy.choices,
        required=False,
        help_text="Default: the source's bad-row policy.",
    )
    force = serializers.BooleanField(
        default=False, help_text="Import even if this exact file was already loaded."
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        stream, name, field = uploaded_stream(attrs)
        # Yandex files have no queued import path: they are imported during the request.
        if stream_size(stream) > MAX_WAIT_BYTES:
            raise serializers.ValidationError(
                {field: _("Files over 20 MB cannot be uploaded here; let the source pull them.")}
            )
        attrs["stream"] = stream
        attrs["file_name"] = attrs.get("file_name") or name
        return attrs
