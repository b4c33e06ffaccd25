"""Where a tenant's cost data comes from: a bucket, a provider's cost API, or uploaded files.

A ``CostSource`` is one of:

- a Yandex Cloud detailed billing export (daily CSV files, one MSK day each) or a prefix of FOCUS
  files (CSV, CSV.gz, Parquet) from any provider, in an S3-compatible bucket; credentials are a
  static access key pair, Fernet-encrypted and write-only;
- a provider's cost API (``provider_api``), read through its connection's adapter
  (``ProviderAdapter.costs(period)``): each pull re-reads the last ``lookback_days`` before the
  day it last covered (``pulled_through``) up to today, one import per calendar month;
- provider-specific cost files uploaded by people (``provider_file``), read by the parser its
  ``file_kind`` names (``providers.adapters.registry.cost_file_format``).

Pulls follow the connection pattern: ``next_pull_at`` read by one dispatcher, a lease so that
two pulls of one source never overlap.

``CostSourceObject`` remembers which version (ETag, Last-Modified) of each bucket object was
imported and with what outcome, so an unchanged object is never downloaded twice and a
rewritten one is imported again.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel
from providers.models.costs import ImportRun

MANAGE = Capability.MANAGE_CONNECTIONS
YANDEX_STORAGE_URL = "https://storage.yandexcloud.net"


class CostSource(TenantOwnedModel):
    class Kind(models.TextChoices):
        YANDEX_BILLING_EXPORT = "yandex_billing_export", _("Yandex Cloud billing export")
        FOCUS_BUCKET = "focus_bucket", _("FOCUS files in a bucket")
        PROVIDER_API = "provider_api", _("The provider's cost API")
        PROVIDER_FILE = "provider_file", _("Uploaded provider cost files")

    class FocusReplace(models.TextChoices):
        # Month-to-date deliveries (a newer file holds the whole month so far) and one file per
        # month: the newest file of a month wins. Files are imported oldest first.
        MONTHS = "months", _("Each file replaces the months it covers")
        # Multi-part deliveries (several files per month): parts must not replace each other.
        FILE = "file", _("Each file replaces only its own earlier version")

    class Status(models.TextChoices):
        PENDING = "pending", _("Not pulled yet")
        OK = "ok", _("OK")
        AUTH_FAILED = "auth_failed", _("Access refused")
        ERROR = "error", _("Error")
        DISABLED = "disabled", _("Disabled")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    # The Yandex connection an export belongs to: its rows carry x_connection for rollups.
    connection = models.ForeignKey(
        "providers.Connection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cost_sources",
        verbose_name=_("connection"),
    )
    endpoint_url = models.URLField(
        _("storage endpoint"), max_length=500, default=YANDEX_STORAGE_URL
    )
    bucket = models.CharField(_("bucket"), max_length=63, blank=True)
    prefix = models.CharField(_("key prefix"), max_length=1024, blank=True)
    region = models.CharField(_("signing region"), max_length=64, default="ru-central1")
    # Fernet ciphertext of {"access_key_id", "secret_access_key"}; never shown (write-only).
    credentials_encrypted = models.TextField(editable=False)
    policy = models.CharField(
        _("bad-row policy"),
        max_length=16,
        choices=ImportRun.BadRowPolicy.choices,
        default=ImportRun.BadRowPolicy.REJECT_FILE,
    )
    focus_replace = models.CharField(
        _("FOCUS files replace"),
        max_length=8,
        choices=FocusReplace.choices,
        default=FocusReplace.MONTHS,
        help_text=_("FOCUS buckets only: what a newly imported file replaces."),
    )
    start_date = models.DateField(
        _("import from"),
        null=True,
        blank=True,
        help_text=_("Files of earlier days (or modified earlier) are left alone. Empty: all."),
    )
    file_kind = models.CharField(
        _("file format"),
        max_length=64,
        blank=True,
        help_text=_("Uploaded provider files only: the format they are read as."),
    )
    lookback_days = models.PositiveSmallIntegerField(
        _("days re-read"),
        default=3,
        help_text=_(
            "Cost APIs only: each pull re-reads this many days before the last day it covered "
            "(providers revise recent days)."
        ),
    )
    # Cost APIs: the last day (in the provider's billing time zone) a pull loaded completely.
    pulled_through = models.DateField(_("pulled through"), null=True, blank=True, editable=False)
    pull_interval = models.DurationField(_("pull interval"), default=timedelta(hours=1))
    next_pull_at = models.DateTimeField(_("next pull"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    last_pull_at = models.DateTimeField(_("last pull"), null=True, blank=True)
    # Pull lease: a conditional UPDATE claims it; it expires by itself if a worker dies.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    tenant_capabilities = {
        "view": Capability.VIEW_TENANT,
        "add": MANAGE,
        "change": MANAGE,
        "delete": MANAGE,
        "pull": MANAGE,
    }

    class Meta:
        ordering = ["tenant__name", "name"]
        verbose_name = _("cost source")
        verbose_name_plural = _("cost sources")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="cost_source_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def source_key(self) -> str:
        """The ImportRun/CostLineItem source key of this source's data."""
        return f"{SOURCE_KEY_PREFIXES[self.kind]}:{self.pk}"

    @property
    def reads_bucket(self) -> bool:
        return self.kind in (self.Kind.YANDEX_BILLING_EXPORT, self.Kind.FOCUS_BUCKET)

    def source_key_for(self, key: str) -> str:
        """What importing bucket object ``key`` replaces: a Yandex file its MSK day (one key per
        source, days never overlap); a FOCUS file its months under the source's key, or, for
        multi-part deliveries, only its own earlier version (a key per object)."""
        if self.kind == self.Kind.FOCUS_BUCKET and self.focus_replace == self.FocusReplace.FILE:
            digest = hashlib.sha256(key.encode()).hexdigest()[:20]
            return f"{self.source_key}:{digest}"
        return self.source_key

    @property
    def is_enabled(self) -> bool:
        return self.status != self.Status.DISABLED


SOURCE_KEY_PREFIXES = {
    CostSource.Kind.YANDEX_BILLING_EXPORT: "yc-billing",
    CostSource.Kind.FOCUS_BUCKET: "focus-bucket",
    CostSource.Kind.PROVIDER_API: "provider-api",
    CostSource.Kind.PROVIDER_FILE: "provider-file",
}


class CostSourceObject(TenantOwnedModel):
    """The last version of one bucket object that a pull dealt with."""

    class Outcome(models.TextChoices):
        # The data from this version is loaded (or the same bytes were already loaded).
        IMPORTED = "imported", _("Imported")
        # The content failed validation under ``policy``; retried when the object changes.
        REJECTED = "rejected", _("Rejected (bad content)")

    source = models.ForeignKey(CostSource, on_delete=models.CASCADE, related_name="bucket_objects")
    key = models.CharField(_("key"), max_length=1024)
    etag = models.CharField(_("ETag"), max_length=200)
    last_modified = models.DateTimeField(_("last modified"), null=True, blank=True)
    size = models.BigIntegerField(_("size"), default=0)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    # The policy the outcome was reached under: a rejected file is retried when it changes.
    policy = models.CharField(_("bad-row policy"), max_length=16, blank=True)
    import_run = models.ForeignKey(
        ImportRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pulled_at = models.DateTimeField(_("pulled"))

    tenant_capabilities = {"view": Capability.VIEW_TENANT}

    class Meta:
        ordering = ["source", "key"]
        verbose_name = _("cost source object")
        verbose_name_plural = _("cost source objects")
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="cost_source_object_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.outcome})"
