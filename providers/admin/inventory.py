"""Admin for the resource registry, its events, sync runs and daily metrics (read-only records).

Raw metric samples (``ResourceMetric``) are deliberately not registered: a changelist always
counts its filtered rows, and that count over the partitioned table is the one query we must not
run. Per-resource samples are served by ``/api/v1/resources/<id>/metrics/`` with a bounded window.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin.base import ReadOnlyTenantScopedAdmin, TenantListFilter
from providers.admin.display import ago, run_summary
from providers.admin.filters import (
    ConnectionListFilter,
    DeletedListFilter,
    ProviderListFilter,
    ResourceConnectionListFilter,
)
from providers.models import (
    Resource,
    ResourceEvent,
    ResourceMetricDaily,
    ResourceOperation,
    SyncRun,
)

RECENT_EVENTS = 20


@admin.register(Resource)
class ResourceAdmin(ReadOnlyTenantScopedAdmin):
    list_display = [
        "name_or_id",
        "type",
        "status",
        "provider",
        "region",
        "zone",
        "connection",
        "tenant",
        "last_seen_at",
        "deleted_at",
    ]
    list_filter = [
        "type",
        "status",
        ProviderListFilter,
        DeletedListFilter,
        ConnectionListFilter,
        TenantListFilter,
    ]
    search_fields = ["name", "provider_id"]
    list_select_related = ["connection", "tenant"]
    fields = [
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
        "pricing_model",
        "specs",
        "labels",
        "properties",
        "related_ids",
        "parent",
        "children_list",
        "provider_created_at",
        "created_by",
        "first_seen_at",
        "last_seen_at",
        "effective_last_seen_at",
        "deleted_at",
        "timeline",
        "operations_list",
    ]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.fields]

    @admin.display(description=_("name"), ordering="name")
    def name_or_id(self, obj):
        return obj.name or obj.provider_id

    @admin.display(description=_("last seen (effective)"))
    def effective_last_seen_at(self, obj):
        return obj.effective_last_seen_at

    @admin.display(description=_("attached resources"))
    def children_list(self, obj):
        children = obj.children.order_by("type", "name")[:50]
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:providers_resource_change", args=[c.pk]), str(c)) for c in children),
        ) or _("none")

    @admin.display(description=_("timeline (newest first)"))
    def timeline(self, obj):
        events = obj.events.order_by("-at", "-id")[:RECENT_EVENTS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    f"{e.at:%Y-%m-%d %H:%M:%S}",
                    e.get_kind_display(),
                    json.dumps(e.changes, ensure_ascii=False, default=str)[:500]
                    if e.changes
                    else "",
                )
                for e in events
            ),
        )
        if not rows:
            return _("No events.")
        more = reverse("admin:providers_resourceevent_changelist") + f"?resource={obj.pk}"
        return format_html(
            '<table><tbody>{}</tbody></table><a href="{}">{}</a>', rows, more, _("All events →")
        )

    @admin.display(description=_("operations at the provider (newest first)"))
    def operations_list(self, obj):
        operations = ResourceOperation.objects.filter(
            tenant_id=obj.tenant_id, resource=obj
        ).order_by("-at", "-id")[:RECENT_EVENTS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (f"{op.at:%Y-%m-%d %H:%M:%S}", op.action, op.raw_action, op.actor, op.status)
                for op in operations
            ),
        )
        if not rows:
            return _("No operations recorded.")
        more = reverse("admin:providers_resourceoperation_changelist") + f"?resource={obj.pk}"
        return format_html(
            '<table><tbody>{}</tbody></table><a href="{}">{}</a>', rows, more, _("All operations →")
        )


@admin.register(ResourceOperation)
class ResourceOperationAdmin(ReadOnlyTenantScopedAdmin):
    """The providers' operation logs as collected (written by collections only)."""

    list_display = ["at", "action", "raw_action", "actor", "status", "resource_label", "tenant"]
    list_filter = ["action", "status", ConnectionListFilter, TenantListFilter]
    search_fields = ["resource_provider_id", "actor", "provider_operation_id"]
    list_select_related = ["resource", "connection", "tenant"]
    ordering = ["-at", "-id"]

    @admin.display(description=_("resource"))
    def resource_label(self, obj):
        return str(obj.resource) if obj.resource_id else obj.resource_provider_id


@admin.register(ResourceEvent)
class ResourceEventAdmin(ReadOnlyTenantScopedAdmin):
    list_display = ["at", "kind", "resource", "connection_name", "tenant"]
    list_filter = ["kind", ResourceConnectionListFilter, TenantListFilter]
    search_fields = ["resource__name", "resource__provider_id"]
    list_select_related = ["resource", "resource__connection", "tenant"]

    @admin.display(description=_("connection"))
    def connection_name(self, obj):
        return obj.resource.connection.name


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyTenantScopedAdmin):
    list_display = [
        "started_at",
        "connection",
        "tenant",
        "kind",
        "trigger",
        "status",
        "progress_display",
        "duration",
        "api_calls",
    ]
    list_filter = ["status", "kind", "trigger", ConnectionListFilter, TenantListFilter]
    search_fields = ["connection__name", "error"]
    list_select_related = ["connection", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "progress_display", "warnings_display"]

    @admin.display(description=_("services not read"))
    def warnings_display(self, obj):
        return "; ".join(w.get("message", "") for w in obj.warnings or []) or "—"

    @admin.display(description=_("progress / result"))
    def progress_display(self, obj):
        if obj.status == SyncRun.Status.RUNNING:
            p = obj.progress or {}
            return _(
                "running for %(ago)s: %(seen)s seen, %(created)s new, %(updated)s changed, "
                "%(calls)s API calls"
            ) % {
                "ago": ago(obj.started_at),
                "seen": p.get("seen", 0),
                "created": p.get("created", 0),
                "updated": p.get("updated", 0),
                "calls": p.get("api_calls", 0),
            }
        return run_summary(obj)

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, obj):
        return "" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.1f} s"


@admin.register(ResourceMetricDaily)
class ResourceMetricDailyAdmin(ReadOnlyTenantScopedAdmin):
    list_display = ["day", "resource", "metric", "avg", "min", "max", "samples", "tenant"]
    list_filter = [ResourceConnectionListFilter, TenantListFilter]
    search_fields = ["metric", "resource__name", "resource__provider_id"]
    list_select_related = ["resource", "tenant"]
