"""Admin for prepaid balances: the time series, read-only (written by collections only)."""

from __future__ import annotations

from django.contrib import admin

from core.admin.base import ReadOnlyTenantScopedAdmin, TenantListFilter
from providers.admin.filters import ConnectionListFilter
from providers.models import BalanceSnapshot


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyTenantScopedAdmin):
    list_display = [
        "collected_at",
        "connection",
        "tenant",
        "account_id",
        "kind",
        "amount",
        "currency",
        "days_to_block",
    ]
    list_filter = ["kind", ConnectionListFilter, TenantListFilter]
    search_fields = ["account_id", "connection__name"]
    list_select_related = ["connection", "tenant"]
    ordering = ["-collected_at", "-id"]
