"""A tenant's connection to one cloud account: credentials (encrypted), scope and sync state."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel
from providers.adapters.registry import provider_choices

MANAGE = Capability.MANAGE_CONNECTIONS

# One member per declared provider (providers/adapters/registry.py), named after its key
# (ProviderType.YANDEX_CLOUD == "yandex_cloud"), labelled with its name ("Yandex Cloud"): the
# name is also the FOCUS ProviderName of its costs and the provider name of its VAT rules.
ProviderType = models.TextChoices(
    "ProviderType", [(key.upper(), (key, name)) for key, name in provider_choices()]
)


class Connection(TenantOwnedModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Not synced yet")
        OK = "ok", _("OK")
        # Synced, but some services could not be read (a role is missing, or the service is not
        # in this region/installation): their resources are kept as last seen.
        DEGRADED = "degraded", _("Degraded: some services unreadable")
        AUTH_FAILED = "auth_failed", _("Authentication failed")
        ERROR = "error", _("Error")
        DISABLED = "disabled", _("Disabled")

    provider = models.CharField(_("provider"), max_length=32, choices=ProviderType.choices)
    name = models.CharField(_("name"), max_length=200)
    # Fernet ciphertext of a JSON object; never leaves the server (write-only everywhere).
    credentials_encrypted = models.TextField(editable=False)
    scope = models.JSONField(_("scope"), default=dict, blank=True)
    endpoints = models.JSONField(_("API endpoint overrides"), default=dict, blank=True)
    sync_interval = models.DurationField(_("sync interval"), default=timedelta(hours=1))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    # When the last *complete* listing finished: the "last seen" time of every live resource.
    last_full_sync_at = models.DateTimeField(_("last complete listing"), null=True, blank=True)
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True, db_index=True)
    # Sync lease: claimed with a conditional UPDATE so two syncs of one connection never overlap,
    # and it expires by itself if a worker dies mid-run.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(editable=False, blank=True)
    # Prepaid balance (providers.services.balances): when the last collection succeeded (its
    # snapshots carry that collected_at), why the last one failed ("" when it did not), and the
    # forecast computed then: {currency: {amount, daily_burn, burn_source, days_left, ...}}.
    balance_collected_at = models.DateTimeField(
        _("balance collected"), null=True, blank=True, editable=False
    )
    balance_error = models.TextField(_("balance error"), blank=True, editable=False)
    balance_forecast = models.JSONField(
        _("balance forecast"), default=dict, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    tenant_capabilities = {
        "view": Capability.VIEW_TENANT,
        "add": MANAGE,
        "change": MANAGE,
        "delete": MANAGE,
        "sync": MANAGE,
        "verify": MANAGE,
    }

    class Meta:
        ordering = ["tenant__name", "name"]
        verbose_name = _("provider connection")
        verbose_name_plural = _("provider connections")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="connection_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    @property
    def is_enabled(self) -> bool:
        return self.status != self.Status.DISABLED
