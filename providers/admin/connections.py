"""Admin for connections: settings (credentials write-only), health, sync, verify, enable."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin.base import TenantListFilter, TenantScopedAdmin
from providers.admin.display import ago, run_summary
from providers.admin.filters import (
    ProviderListFilter,
)
from providers.connection_settings import settings_shape_errors
from providers.models import (
    Connection,
    Resource,
    SyncRun,
)
from providers.selectors import connection_with_resource_counts
from providers.services.connections import (
    connection_create,
    connection_delete,
    connection_request_sync,
    connection_set_enabled,
    connection_update,
    connection_verify,
    webhook_secret,
)

RECENT_RUNS = 10


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
        return connection_with_resource_counts(super().get_queryset(request))

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
        return _("synced %(ago)s ago") % {"ago": ago(obj.last_sync_at)}

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
                    run_summary(run),
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
