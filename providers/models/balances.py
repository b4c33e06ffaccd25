"""Prepaid balances: a time series per connection, as its provider reported them.

Each collection (``providers.services.balances``) writes one ``BalanceSnapshot`` per balance the
provider reports (per account and kind: main money, bonus, ...) with the same ``collected_at``;
``Connection.balance_collected_at`` names the latest complete one. Rows are never updated. The
table grows by a few rows per connection and hour, so every key and index leads with the tenant
(big-table friendly: it can be distributed by tenant like the cost tables).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.models import TenantOwnedModel
from providers.adapters.base import BalanceKind

MONEY = {"max_digits": 38, "decimal_places": 18}
KIND_CHOICES = [(k.value, k.value) for k in BalanceKind]


class BalanceSnapshot(TenantOwnedModel):
    connection = models.ForeignKey(
        "providers.Connection",
        on_delete=models.CASCADE,
        related_name="balance_snapshots",
        verbose_name=_("connection"),
    )
    # Whose balance, when a connection sees several (a Yandex billing account, a VK project).
    account_id = models.CharField(_("account"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=KIND_CHOICES)
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.DecimalField(_("amount"), **MONEY)
    # The provider's own forecast of days left before blocking (Beget, Selectel), if it gives one.
    days_to_block = models.DecimalField(
        _("days to block (provider)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    as_of = models.DateTimeField(_("as of"))  # as the provider reported it
    collected_at = models.DateTimeField(_("collected"))

    tenant_capabilities = {"view": Capability.VIEW_COSTS}

    class Meta:
        ordering = ["-collected_at", "connection_id", "account_id", "kind"]
        verbose_name = _("balance")
        verbose_name_plural = _("balances")
        constraints = [
            # One balance per account, kind and currency in each collection.
            models.UniqueConstraint(
                fields=["tenant", "connection", "collected_at", "account_id", "kind", "currency"],
                name="balance_snapshot_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "connection", "-collected_at"], name="balance_connection_recent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_id} {self.kind} {self.amount} {self.currency} @ {self.as_of}"
