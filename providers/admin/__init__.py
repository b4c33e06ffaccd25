"""Admin for connections, the resource registry, sync runs and daily metrics (tenant-scoped).

Raw metric samples (``ResourceMetric``) are deliberately not registered: a changelist always
counts its filtered rows, and that count over the partitioned table is the one query we must not
run. Per-resource samples are served by ``/api/v1/resources/<id>/metrics/`` with a bounded window.
"""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin.base import ReadOnlyTenantScopedAdmin, TenantListFilter, TenantScopedAdmin
from core.audit import record_event, snapshot
from providers.connection_settings import settings_shape_errors
from providers.costs.uploads import MAX_WAIT_BYTES, cost_upload_check, cost_upload_enqueue
from providers.models import (
    Connection,
    CostDaily,
    CostDailySummary,
    CostLineItem,
    ExchangeRate,
    ImportRun,
    ProviderType,
    Resource,
    ResourceEvent,
    ResourceMetricDaily,
    SyncRun,
    VatRule,
)
from providers.services.connections import (
    connection_create,
    connection_delete,
    connection_request_sync,
    connection_set_enabled,
    connection_update,
    connection_verify,
    webhook_secret,
)
from providers.services.costs import cost_file_import

RECENT_RUNS = 10
RECENT_EVENTS = 20


# --- list filters (scoped: they list only what the operator may view) ---------------------
class ConnectionListFilter(admin.SimpleListFilter):
    """Pick a connection; RelatedFieldListFilter would list every tenant's connections."""

    title = _("connection")
    parameter_name = "connection"
    field = "connection_id"  # path from the listed model to the connection's id

    def lookups(self, request, model_admin):
        connections = Connection.objects.for_user(request.user, "view").order_by("name")
        return [(str(c.pk), c.name) for c in connections.only("pk", "name")[:500]]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset


class ResourceConnectionListFilter(ConnectionListFilter):
    field = "resource__connection_id"


class ProviderListFilter(admin.SimpleListFilter):
    # From the choices, not SELECT DISTINCT over a table that may hold millions of resources.
    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return ProviderType.choices

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class DeletedListFilter(admin.SimpleListFilter):
    title = _("deleted at the provider")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", _("No (live)")), ("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


# --- connections --------------------------------------------------------------------------
class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value: stored credentials (and what was typed) stay off the page."""

    def format_value(self, value):
        return None


class ConnectionForm(forms.ModelForm):
    credentials = forms.JSONField(
        label=_("Credentials"),
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text=_(
            'JSON, write-only: never shown again. Yandex Cloud: {"oauth_token": "..."} or the '
            "authorized key file's JSON. Leave empty when editing to keep the stored ones."
        ),
    )

    class Meta:
        model = Connection
        fields = [
            "tenant",
            "provider",
            "name",
            "credentials",
            "scope",
            "endpoints",
            "sync_interval",
        ]

    def clean(self):
        cleaned = super().clean()
        credentials = cleaned.get("credentials")
        if self.instance.pk is None and not credentials and "credentials" not in self.errors:
            self.add_error("credentials", _("Credentials are required."))
        provider = cleaned.get("provider") or self.instance.provider
        errors = settings_shape_errors(
            provider,
            credentials=credentials or None,
            scope=cleaned.get("scope") if "scope" in cleaned else None,
            endpoints=cleaned.get("endpoints") if "endpoints" in cleaned else None,
        )
        for field, message in errors.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        return cleaned


def _resource_count(**filters):
    # One correlated subquery per displayed row (evaluated after LIMIT), not a GROUP BY over
    # every resource of every connection in scope.
    resources = (
        Resource.objects.filter(connection=OuterRef("pk"), **filters)
        .order_by()
        .values("connection")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(resources, output_field=IntegerField()), 0)


@admin.register(Connection)
class ConnectionAdmin(TenantScopedAdmin):
    action_nouns = (_("connection"), _("connections"))
    form = ConnectionForm
    list_display = [
        "name",
        "tenant",
        "provider",
        "status",
        "health",
        "last_sync_at",
        "live_resources",
        "deleted_resources",
        "next_sync_at",
    ]
    list_filter = ["status", ProviderListFilter, TenantListFilter]
    search_fields = ["name"]
    list_select_related = ["tenant"]
    actions = ["verify_connections", "sync_now", "enable_connections", "disable_connections"]
    status_fields = [
        "status",
        "last_error",
        "last_sync_at",
        "last_full_sync_at",
        "next_sync_at",
        "webhook_url",
        "recent_sync_runs",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                live_count=_resource_count(deleted_at__isnull=True),
                deleted_count=_resource_count(deleted_at__isnull=False),
            )
        )

    def get_fields(self, request, obj=None):
        editable = ["tenant", "provider", "name", "credentials", "scope", "endpoints"]
        if obj is None:
            return [*editable, "sync_interval"]
        return [*editable, "sync_interval", *self.status_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A connection never moves between tenants or providers; status changes via actions.
        return ["tenant", "provider", *self.status_fields]

    # --- display ----------------------------------------------------------------------------
    @admin.display(description=_("health"))
    def health(self, obj):
        if obj.last_error:
            return format_html('<span title="{}">⚠ {}</span>', obj.last_error, obj.last_error[:80])
        if obj.last_sync_at is None:
            return _("never synced")
        return _("synced %(ago)s ago") % {"ago": _ago(obj.last_sync_at)}

    @admin.display(description=_("live resources"), ordering="live_count")
    def live_resources(self, obj):
        url = reverse("admin:providers_resource_changelist")
        return format_html(
            '<a href="{}?connection={}&deleted=no">{}</a>', url, obj.pk, obj.live_count
        )

    @admin.display(description=_("deleted"), ordering="deleted_count")
    def deleted_resources(self, obj):
        return obj.deleted_count

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, obj):
        return reverse("connection-webhook", kwargs={"pk": obj.pk})

    @admin.display(description=_("recent sync runs"))
    def recent_sync_runs(self, obj):
        runs = obj.sync_runs.order_by("-started_at", "-id")[:RECENT_RUNS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:providers_syncrun_change", args=[run.pk]),
                    f"{run.started_at:%Y-%m-%d %H:%M:%S}",
                    run.get_trigger_display(),
                    run.get_status_display(),
                    _run_summary(run),
                    run.error[:120],
                )
                for run in runs
            ),
        )
        if not rows:
            return _("No sync yet.")
        all_url = reverse("admin:providers_syncrun_changelist") + f"?connection={obj.pk}"
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            '</thead><tbody>{}</tbody></table><a href="{}">{}</a>',
            _("started"),
            _("trigger"),
            _("status"),
            _("counts"),
            _("error"),
            rows,
            all_url,
            _("All sync runs of this connection →"),
        )

    # --- writes go through the services --------------------------------------------------------
    def service_create(self, request, form):
        data = form.cleaned_data
        connection = connection_create(
            actor=request.user,
            tenant=data["tenant"],
            provider=data["provider"],
            name=data["name"],
            credentials=data["credentials"],
            scope=data.get("scope") or {},
            endpoints=data.get("endpoints") or {},
            sync_interval=data["sync_interval"],
        )
        # Like an API token: the signing key is shown once, for the customer's webhook sender.
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                _("Webhook signing secret (copy it now; it will not be shown again):"),
                webhook_secret(connection),
            ),
            level=messages.WARNING,
        )
        return connection

    def service_update(self, request, obj, form):
        editable = ("name", "scope", "endpoints", "sync_interval")
        changes = {k: form.cleaned_data[k] for k in editable if k in form.changed_data}
        for key in ("scope", "endpoints"):  # an emptied JSON box means "none", not null
            if key in changes and changes[key] is None:
                changes[key] = {}
        credentials = form.cleaned_data.get("credentials") or None  # empty keeps the stored
        return connection_update(
            actor=request.user,
            connection=Connection.objects.get(pk=obj.pk),
            credentials=credentials,
            **changes,
        )

    def service_delete(self, request, obj):
        connection_delete(actor=request.user, connection=obj)

    def get_deleted_objects(self, objs, request):
        # Django's collector would list every resource and event (and refuse: resources are
        # PROTECTed); the service deletes them, so the confirmation shows counts instead.
        objs = list(objs)
        ids = [o.pk for o in objs]
        counts = {
            _("resources"): Resource.objects.filter(connection_id__in=ids).count(),
            _("sync runs"): SyncRun.objects.filter(connection_id__in=ids).count(),
        }
        return [str(o) for o in objs], counts, set(), []

    # --- actions ------------------------------------------------------------------------------
    @admin.action(description=_("Verify credentials"), permissions=["change"])
    def verify_connections(self, request, queryset):
        def work(connection):
            ok, message = connection_verify(actor=request.user, connection=connection)
            if ok:
                return messages.SUCCESS, _("credentials OK — %(m)s") % {"m": message}
            return messages.ERROR, _("verification failed — %(m)s") % {"m": message}

        self.act_on_each(request, queryset, "verify", work)

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_now(self, request, queryset):
        def work(connection):
            connection_request_sync(actor=request.user, connection=connection, trigger="manual")
            return messages.SUCCESS, _("sync queued; watch its progress under Sync runs.")

        self.act_on_each(request, queryset, "sync", work)

    @admin.action(description=_("Enable (resume scheduled syncs)"), permissions=["change"])
    def enable_connections(self, request, queryset):
        def work(connection):
            connection_set_enabled(actor=request.user, connection=connection, enabled=True)
            return messages.SUCCESS, _("enabled; a sync starts now.")

        self.act_on_each(request, queryset, "change", work)

    @admin.action(description=_("Disable (stop syncing)"), permissions=["change"])
    def disable_connections(self, request, queryset):
        def work(connection):
            connection_set_enabled(actor=request.user, connection=connection, enabled=False)
            return messages.SUCCESS, _("disabled; no further syncs until enabled.")

        self.act_on_each(request, queryset, "change", work)


# --- resources ----------------------------------------------------------------------------
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
        "first_seen_at",
        "last_seen_at",
        "effective_last_seen_at",
        "deleted_at",
        "timeline",
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
                "ago": _ago(obj.started_at),
                "seen": p.get("seen", 0),
                "created": p.get("created", 0),
                "updated": p.get("updated", 0),
                "calls": p.get("api_calls", 0),
            }
        return _run_summary(obj)

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, obj):
        return "" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.1f} s"


@admin.register(ResourceMetricDaily)
class ResourceMetricDailyAdmin(ReadOnlyTenantScopedAdmin):
    list_display = ["day", "resource", "metric", "avg", "min", "max", "samples", "tenant"]
    list_filter = [ResourceConnectionListFilter, TenantListFilter]
    search_fields = ["metric", "resource__name", "resource__provider_id"]
    list_select_related = ["resource", "tenant"]


# --- helpers ------------------------------------------------------------------------------
def _run_summary(run: SyncRun) -> str:
    counts = _("%(seen)s seen · +%(created)s · ~%(updated)s · =%(unchanged)s · -%(deleted)s") % {
        "seen": run.seen,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "deleted": run.deleted,
    }
    if run.status == SyncRun.Status.SUCCEEDED and not run.complete:
        counts += " " + str(_("(partial listing)"))
    if run.warnings:
        counts += " ⚠ " + "; ".join(w.get("message", "") for w in run.warnings)
    return counts


def _ago(moment) -> str:
    from django.utils.timesince import timesince

    return timesince(moment, timezone.now())


# --- cost data ------------------------------------------------------------------------------
class BoundedCountPaginator(Paginator):
    """Counts at most ``cap`` rows (COUNT over a LIMITed subquery), never a whole partitioned
    table: exact for small results, "cap + 1" (pages to browse, not a total) for large ones."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap + 1].count()


class ChargeMonthListFilter(admin.SimpleListFilter):
    """One month at a time (the current one by default): the partitions prune to it."""

    title = _("month")
    parameter_name = "month"
    field = "charge_period_start"
    months_listed = 24

    def _months(self) -> list[dt.date]:
        today = timezone.now().date().replace(day=1)
        months = [today]
        for _n in range(self.months_listed - 1):
            months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
        return months

    def lookups(self, request, model_admin):
        return [(f"{m:%Y-%m}", f"{m:%Y-%m}") for m in self._months()]

    def choices(self, changelist):
        current = self.value() or f"{self._months()[0]:%Y-%m}"
        for value, label in self.lookup_choices:
            yield {
                "selected": value == current,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value()
        try:
            first = dt.datetime.strptime(value, "%Y-%m") if value else None
        except ValueError:
            first = None
        first = (first.date() if first else self._months()[0]).replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        if self.field == "day":
            return queryset.filter(day__gte=first, day__lt=following)
        start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(following, dt.time.min, tzinfo=dt.UTC)
        return queryset.filter(charge_period_start__gte=start, charge_period_start__lt=end)


class RollupMonthListFilter(ChargeMonthListFilter):
    field = "day"


class _SummaryValueListFilter(admin.SimpleListFilter):
    """Choices from the (small) daily summary the operator may view, not DISTINCT over raw rows."""

    column = ""
    limit = 200

    def lookups(self, request, model_admin):
        values = (
            CostDailySummary.objects.for_user(request.user, "view")
            .exclude(**{f"{self.column}__isnull": True})
            .order_by(self.column)
            .values_list(self.column, flat=True)
            .distinct()[: self.limit]
        )
        return [(v, v) for v in values]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.column: self.value()}) if self.value() else queryset


class CostProviderListFilter(_SummaryValueListFilter):
    title = _("provider")
    parameter_name = "provider_name"
    column = "provider_name"


class CostServiceListFilter(_SummaryValueListFilter):
    title = _("service")
    parameter_name = "service_name"
    column = "service_name"


class ImportUploadForm(forms.ModelForm):
    file = forms.FileField(
        label=_("FOCUS file"), help_text=_("FOCUS 1.0-1.2 as CSV, CSV.gz or Parquet.")
    )
    force = forms.BooleanField(
        label=_("Import even if this file was already loaded"), required=False
    )
    run_now = forms.BooleanField(
        label=_("Import now and wait for the result"),
        required=False,
        help_text=_("Files up to 20 MB; otherwise the import is queued and shows its progress."),
    )

    class Meta:
        model = ImportRun
        fields = ["tenant", "file", "source_key", "policy", "force", "run_now"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "source_key" not in self.fields:
            return  # the read-only page of a recorded run
        self.fields["source_key"].initial = "focus-upload"
        self.fields["source_key"].help_text = _(
            "Names the source: a later file of the same source replaces its rows for the months "
            "the file covers."
        )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None:
            try:
                cost_upload_check(upload)
            except ValidationError as exc:
                self.add_error("file", exc)
            if cleaned.get("run_now") and upload.size > MAX_WAIT_BYTES:
                self.add_error("run_now", _("Files over 20 MB are imported in the background."))
        return cleaned


@admin.register(ImportRun)
class ImportRunAdmin(TenantScopedAdmin):
    """Cost imports. "Add" uploads a FOCUS file (queued, or imported at once for small files);
    runs are read-only records with their counts, totals, warnings and errors."""

    form = ImportUploadForm
    list_display = [
        "created_at",
        "tenant",
        "source",
        "source_key",
        "file_name",
        "status",
        "rows_display",
        "totals_display",
        "duration",
    ]
    list_filter = ["status", "source", TenantListFilter]
    search_fields = ["source_key", "file_name"]
    list_select_related = ["tenant"]
    actions = ["export_focus"]
    detail_fields = [
        "tenant",
        "source",
        "source_key",
        "connection",
        "status",
        "error",
        "progress_display",
        "file_name",
        "file_sha256",
        "file_size",
        "focus_version",
        "policy",
        "period_start",
        "period_end",
        "rows_display",
        "totals_table",
        "warnings_table",
        "errors_table",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "export_links",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "file", "source_key", "policy", "force", "run_now"]
        return self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.detail_fields

    def service_create(self, request, form):
        data = form.cleaned_data
        options = {
            "actor": request.user,
            "tenant": data["tenant"],
            "file": data["file"],
            "file_name": data["file"].name,
            "source_key": data["source_key"],
            "policy": data["policy"],
            "force": data["force"],
        }
        if not data["run_now"]:
            run = cost_upload_enqueue(**options)
            self.message_user(
                request, _("Import queued: this page shows its progress."), messages.INFO
            )
            return run
        run = cost_file_import(**options)
        level = messages.ERROR if run.status == ImportRun.Status.FAILED else messages.SUCCESS
        self.message_user(request, f"{run.get_status_display()}: {run.error or ''}", level)
        return run

    # --- display ---------------------------------------------------------------------------
    @admin.display(description=_("rows"))
    def rows_display(self, obj):
        if obj.status in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING):
            return self.progress_display(obj)
        return _("%(read)s read · %(loaded)s loaded · %(rejected)s rejected · %(replaced)s "
                 "replaced") % {
            "read": obj.rows_read,
            "loaded": obj.rows_loaded,
            "rejected": obj.rows_rejected,
            "replaced": obj.rows_replaced,
        }  # fmt: skip

    @admin.display(description=_("progress"))
    def progress_display(self, obj):
        if obj.status == ImportRun.Status.PENDING:
            return _("queued")
        if obj.status == ImportRun.Status.RUNNING:
            p = obj.progress or {}
            return _("running for %(ago)s: %(read)s rows read, %(loaded)s loaded") % {
                "ago": _ago(obj.started_at or obj.created_at),
                "read": p.get("rows_read", 0),
                "loaded": p.get("rows_loaded", 0),
            }
        return obj.get_status_display()

    @admin.display(description=_("totals"))
    def totals_display(self, obj):
        return "; ".join(
            f"{currency} {sums.get('billed_cost')}" for currency, sums in sorted(obj.totals.items())
        )

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, obj):
        return "" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.1f} s"

    @admin.display(description=_("totals by currency"))
    def totals_table(self, obj):
        if not obj.totals:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    currency,
                    sums.get("rows", ""),
                    sums.get("billed_cost", ""),
                    sums.get("effective_cost", ""),
                    sums.get("list_cost", ""),
                    sums.get("vat_amount", ""),
                )
                for currency, sums in sorted(obj.totals.items())
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            _("currency"),
            _("rows"),
            "BilledCost",
            "EffectiveCost",
            "ListCost",
            _("VAT"),
            rows,
        )

    @admin.display(description=_("warnings"))
    def warnings_table(self, obj):
        return _issues_table(obj.warnings) or _("None.")

    @admin.display(description=_("errors"))
    def errors_table(self, obj):
        return _issues_table(obj.errors) or _("None.")

    @admin.display(description=_("FOCUS export"))
    def export_links(self, obj):
        if obj.period_start is None:
            return "—"
        period = f"{obj.period_start:%Y-%m}"
        url = reverse("api:cost-export")
        return format_html(
            '<a href="{}?tenant={}&period={}&format=csv&escape_formulas=true">{} {} (CSV)</a> · '
            '<a href="{}?tenant={}&period={}&format=parquet">Parquet</a>',
            url,
            obj.tenant_id,
            period,
            _("Export FOCUS for"),
            period,
            url,
            obj.tenant_id,
            period,
        )

    # --- actions ---------------------------------------------------------------------------
    @admin.action(description=_("Export FOCUS (CSV) of the selected runs' tenant and month"))
    def export_focus(self, request, queryset):
        pairs = {
            (run.tenant_id, f"{run.period_start:%Y-%m}")
            for run in queryset.exclude(period_start=None).only("tenant_id", "period_start")
        }
        if len(pairs) != 1:
            self.message_user(
                request,
                _("Select runs of one tenant and one month (runs with a period) to export."),
                messages.ERROR,
            )
            return None
        tenant_id, period = pairs.pop()
        url = reverse("api:cost-export")
        return HttpResponseRedirect(
            f"{url}?tenant={tenant_id}&period={period}&format=csv&escape_formulas=true"
        )


def _issues_table(issues: dict):
    if not issues:
        return ""
    blocks = []
    for kind, info in sorted(issues.items(), key=lambda item: -item[1].get("count", 0)):
        columns = ", ".join(f"{c}: {n}" for c, n in (info.get("columns") or {}).items() if c)
        examples = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            (
                (
                    e.get("line") if e.get("line") is not None else "",
                    e.get("column") or "",
                    "" if e.get("value") is None else e["value"],
                    e.get("reason") or "",
                )
                for e in info.get("examples", [])
            ),
        )
        blocks.append(
            format_html(
                "<p><strong>{}</strong> — {} {}</p>"
                "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
                "<tbody>{}</tbody></table>",
                kind,
                info.get("count", 0),
                f"({columns})" if columns else "",
                _("line"),
                _("column"),
                _("value"),
                _("reason"),
                examples,
            )
        )
    return format_html_join("", "{}", ((block,) for block in blocks))


@admin.register(CostLineItem)
class CostLineItemAdmin(ReadOnlyTenantScopedAdmin):
    """FOCUS rows, one month at a time, never counted in full (see BoundedCountPaginator)."""

    paginator = BoundedCountPaginator
    list_display = [
        "charge_period_start",
        "provider_name",
        "service_name",
        "resource_id",
        "charge_category",
        "billed_cost",
        "billing_currency",
        "tenant",
    ]
    list_filter = [
        ChargeMonthListFilter,
        CostProviderListFilter,
        CostServiceListFilter,
        TenantListFilter,
    ]
    list_select_related = ["tenant"]
    ordering = ["charge_period_start", "id"]


class _RollupAdmin(ReadOnlyTenantScopedAdmin):
    paginator = BoundedCountPaginator
    list_display = [
        "day",
        "provider_name",
        "service_name",
        "sub_account_id",
        "region_id",
        "charge_category",
        "billed_cost",
        "effective_cost",
        "vat_amount",
        "billing_currency",
        "line_items",
        "tenant",
    ]
    list_filter = [
        RollupMonthListFilter,
        CostProviderListFilter,
        CostServiceListFilter,
        TenantListFilter,
    ]
    list_select_related = ["tenant"]
    ordering = ["day", "id"]


@admin.register(CostDailySummary)
class CostDailySummaryAdmin(_RollupAdmin):
    pass


@admin.register(CostDaily)
class CostDailyAdmin(_RollupAdmin):
    list_display = [*_RollupAdmin.list_display[:5], "resource_id", *_RollupAdmin.list_display[5:]]


class PlatformDataAdmin(admin.ModelAdmin):
    """Platform-wide reference data: superusers edit (audited on the platform chain), MSP
    operators read."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        record_event(
            event_type=f"{obj._meta.model_name}.{'updated' if change else 'created'}",
            actor=request.user,
            target=obj,
            before=before,
            after=snapshot(obj),
        )

    def delete_model(self, request, obj):
        before = snapshot(obj)
        record_event(
            event_type=f"{obj._meta.model_name}.deleted",
            actor=request.user,
            target=obj,
            before=before,
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "date", "rate"]
        help_texts = {"rate": _("RUB per one unit of the currency. A manual rate beats the CBR's.")}

    def clean_currency(self):
        from providers.focus.currencies import ISO_4217

        code = (self.cleaned_data.get("currency") or "").strip().upper()
        if code not in ISO_4217 or code == "RUB":
            raise ValidationError(_("Give an ISO 4217 currency other than RUB."))
        return code

    def clean_rate(self):
        rate = self.cleaned_data.get("rate")
        if rate is not None and rate <= 0:
            raise ValidationError(_("The rate must be a positive number."))
        return rate


@admin.register(ExchangeRate)
class ExchangeRateAdmin(PlatformDataAdmin):
    """CBR rates are fetched, never edited; manual rates (which beat the CBR's on their date)
    are set and cleared through the rates services."""

    form = ExchangeRateForm
    list_display = ["date", "currency", "rate", "source", "updated_at"]
    list_filter = ["source", "currency"]
    search_fields = ["currency"]
    date_hierarchy = "date"
    ordering = ["-date", "currency"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "currency",
            "date",
            "source",
            "updated_at",
            *([] if self._manual(obj) else ["rate"]),
        ]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or self._manual(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or self._manual(obj))

    @staticmethod
    def _manual(obj) -> bool:
        return obj.source == ExchangeRate.Source.MANUAL

    def save_model(self, request, obj, form, change):
        from providers.services.rates import exchange_rate_set

        saved = exchange_rate_set(
            actor=request.user, currency=obj.currency, date=obj.date, rate=obj.rate
        )
        obj.pk, obj.source = saved.pk, saved.source

    def delete_model(self, request, obj):
        from providers.services.rates import exchange_rate_clear

        exchange_rate_clear(actor=request.user, currency=obj.currency, date=obj.date)


@admin.register(VatRule)
class VatRuleAdmin(PlatformDataAdmin):
    list_display = ["provider_name", "currency", "valid_from", "rate", "included_in_price"]
    list_filter = ["included_in_price", "currency"]
    search_fields = ["provider_name"]


# --- cost sources ---------------------------------------------------------------------------
from django.forms.models import BaseInlineFormSet  # noqa: E402  (this section is appended)

from core.api.base import scope_queryset  # noqa: E402
from providers.costs.sources.endpoints import endpoint_errors  # noqa: E402
from providers.models import CostSource, CostSourceObject  # noqa: E402
from providers.models.cost_sources import YANDEX_STORAGE_URL  # noqa: E402
from providers.services.cost_sources import (  # noqa: E402
    BUCKET_NAME,
    cost_source_create,
    cost_source_delete,
    cost_source_request_pull,
    cost_source_set_enabled,
    cost_source_update,
)

RECENT_OBJECTS = 20
KEY_FIELDS = ("access_key_id", "secret_access_key")


class CostSourceListFilter(admin.SimpleListFilter):
    """Pick a cost source; RelatedFieldListFilter would list every tenant's sources."""

    title = _("cost source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = CostSource.objects.for_user(request.user, "view").order_by("name")
        return [(str(s.pk), s.name) for s in sources.only("pk", "name")[:500]]

    def queryset(self, request, queryset):
        return queryset.filter(source_id=self.value()) if self.value() else queryset


class CostSourceForm(forms.ModelForm):
    actor = None  # set by the admin: the endpoint policy depends on who asks

    endpoint_url = forms.URLField(
        label=_("storage endpoint"),
        max_length=500,
        initial=YANDEX_STORAGE_URL,
        assume_scheme="https",
        help_text=_("Any S3-compatible store; the default is Yandex Object Storage."),
    )
    # Write-only: a password input never renders a value, neither the stored pair (which the
    # form never loads) nor what was typed when the form comes back with errors.
    access_key_id = forms.CharField(
        label=_("Access key ID"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    secret_access_key = forms.CharField(
        label=_("Secret access key"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Write-only: the key pair is never shown again. Leave both empty when editing to "
            "keep the stored pair."
        ),
    )

    class Meta:
        model = CostSource
        fields = [
            "tenant",
            "kind",
            "name",
            "connection",
            "endpoint_url",
            "bucket",
            "prefix",
            "region",
            *KEY_FIELDS,
            "policy",
            "focus_replace",
            "start_date",
            "pull_interval",
        ]

    def clean(self):
        cleaned = super().clean()
        given = {name: cleaned.get(name) for name in KEY_FIELDS}
        if any(given.values()) or self.instance.pk is None:
            for name, value in given.items():
                if not value:
                    self.add_error(name, _("Give both keys (or, when editing, neither)."))
        # The service decides; these cheap checks only keep the operator's input on the page
        # (a refusal by the service is reported after a redirect, with the form emptied).
        if "bucket" in cleaned and not BUCKET_NAME.fullmatch(cleaned["bucket"] or ""):
            self.add_error("bucket", _("Not a bucket name (3-63 letters, digits, '.', '-', '_')."))
        if (cleaned.get("prefix") or "").startswith("/"):
            self.add_error("prefix", _("Key prefixes do not start with '/'."))
        if cleaned.get("endpoint_url"):
            for message in endpoint_errors(cleaned["endpoint_url"], self.actor):
                self.add_error("endpoint_url", message)
        return cleaned

    @property
    def credentials(self) -> dict | None:
        keys = {name: self.cleaned_data.get(name) for name in KEY_FIELDS}
        return keys if all(keys.values()) else None


class _RecentObjectsFormSet(BaseInlineFormSet):
    """The newest bucket objects only: a source may have thousands (the rest are a link)."""

    def get_queryset(self):
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset()[:RECENT_OBJECTS]
        return self._recent


class CostSourceObjectInline(admin.TabularInline):
    model = CostSourceObject
    formset = _RecentObjectsFormSet
    fields = ["key", "outcome", "size", "last_modified", "pulled_at", "import_run"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("bucket objects, most recently pulled first (at most 20)")

    def get_queryset(self, request):
        queryset = scope_queryset(super().get_queryset(request), request.user, "view")
        return queryset.select_related("import_run").order_by("-pulled_at", "-id")

    # The source's change page already checked access; these records are written by pulls only.
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CostSource)
class CostSourceAdmin(TenantScopedAdmin):
    """Buckets of billing files pulled on a schedule. Keys are write-only; "Pull now", "Enable"
    and "Disable" act through the services; deleting a source keeps the costs it loaded."""

    action_nouns = (_("cost source"), _("cost sources"))
    form = CostSourceForm
    inlines = [CostSourceObjectInline]
    list_display = [
        "name",
        "tenant",
        "kind",
        "location",
        "status",
        "health",
        "last_pull_at",
        "next_pull_at",
    ]
    list_filter = ["kind", "status", ConnectionListFilter, TenantListFilter]
    search_fields = ["name", "bucket", "prefix"]
    list_select_related = ["tenant"]
    actions = ["pull_now", "enable_sources", "disable_sources"]
    create_fields = CostSourceForm.Meta.fields
    status_fields = [
        "keys_state",
        "source_key",
        "imports_link",
        "status",
        "last_error",
        "last_pull_at",
        "next_pull_at",
        "created_at",
        "updated_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.create_fields
        return [*self.create_fields, *self.status_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Tenant and kind are fixed (the data and its source key depend on them); the status
        # fields change through pulls and the actions.
        return ["tenant", "kind", *self.status_fields]

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    # --- display ----------------------------------------------------------------------------
    @admin.display(description=_("bucket"))
    def location(self, obj):
        return f"{obj.bucket}/{obj.prefix}"

    @admin.display(description=_("health"))
    def health(self, obj):
        if obj.last_error:
            return format_html('<span title="{}">⚠ {}</span>', obj.last_error, obj.last_error[:80])
        if obj.last_pull_at is None:
            return _("never pulled")
        return _("pulled %(ago)s ago") % {"ago": _ago(obj.last_pull_at)}

    @admin.display(description=_("access keys"))
    def keys_state(self, obj):
        return _("stored (write-only)") if obj.credentials_encrypted else _("none")

    @admin.display(description=_("source key"))
    def source_key(self, obj):
        return obj.source_key

    @admin.display(description=_("imports"))
    def imports_link(self, obj):
        runs = reverse("admin:providers_importrun_changelist")
        objects = reverse("admin:providers_costsourceobject_changelist")
        # FOCUS sources in "file" mode import each object under "<source key>:<digest>".
        return format_html(
            '<a href="{}?source_key={}">{}</a> · <a href="{}?source_key__startswith={}:">{}</a>'
            ' · <a href="{}?source={}">{}</a>',
            runs,
            obj.source_key,
            _("import runs"),
            runs,
            obj.source_key,
            _("per-file import runs"),
            objects,
            obj.pk,
            _("all bucket objects"),
        )

    # --- writes go through the services --------------------------------------------------------
    def service_create(self, request, form):
        data = form.cleaned_data
        source = cost_source_create(
            actor=request.user,
            credentials=form.credentials,
            **{name: data[name] for name in self.create_fields if name not in KEY_FIELDS},
        )
        self.message_user(request, _("First pull queued."), messages.INFO)
        return source

    def service_update(self, request, obj, form):
        editable = [f for f in self.create_fields if f not in ("tenant", "kind", *KEY_FIELDS)]
        changes = {name: form.cleaned_data[name] for name in editable if name in form.changed_data}
        return cost_source_update(
            actor=request.user,
            source=CostSource.objects.get(pk=obj.pk),
            credentials=form.credentials,  # None (both keys left empty) keeps the stored pair
            **changes,
        )

    def service_delete(self, request, obj):
        cost_source_delete(actor=request.user, source=obj)

    def get_deleted_objects(self, objs, request):
        # The collector would list every bucket object; counts say as much. Costs stay.
        objs = list(objs)
        counts = {
            _("bucket objects"): CostSourceObject.objects.filter(
                source_id__in=[o.pk for o in objs]
            ).count()
        }
        return [str(o) for o in objs], counts, set(), []

    # --- actions ------------------------------------------------------------------------------
    @admin.action(description=_("Pull now"), permissions=["change"])
    def pull_now(self, request, queryset):
        def work(source):
            cost_source_request_pull(actor=request.user, source=source, trigger="manual")
            return messages.SUCCESS, _("pull queued; its files appear under Import runs.")

        self.act_on_each(request, queryset, "pull", work)

    @admin.action(description=_("Enable (resume scheduled pulls)"), permissions=["change"])
    def enable_sources(self, request, queryset):
        def work(source):
            cost_source_set_enabled(actor=request.user, source=source, enabled=True)
            return messages.SUCCESS, _("enabled; the scheduler pulls it at its next tick.")

        self.act_on_each(request, queryset, "change", work)

    @admin.action(description=_("Disable (stop pulling)"), permissions=["change"])
    def disable_sources(self, request, queryset):
        def work(source):
            cost_source_set_enabled(actor=request.user, source=source, enabled=False)
            return messages.SUCCESS, _("disabled; no further pulls until enabled.")

        self.act_on_each(request, queryset, "change", work)


@admin.register(CostSourceObject)
class CostSourceObjectAdmin(ReadOnlyTenantScopedAdmin):
    """What each source last did with each bucket object (written by pulls only)."""

    list_display = [
        "key",
        "source",
        "outcome",
        "size",
        "last_modified",
        "pulled_at",
        "import_run",
        "tenant",
    ]
    list_filter = ["outcome", CostSourceListFilter, TenantListFilter]
    search_fields = ["key", "etag"]
    list_select_related = ["source", "import_run", "tenant"]
    ordering = ["-pulled_at", "-id"]
