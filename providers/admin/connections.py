"""Admin for connections: settings (credentials write-only), health, sync, verify, enable.

The form is generated from the provider's declaration (``ProviderSpec``): its credential fields
(write-only), scope options and named endpoints. The provider of a new connection is chosen with
``?provider=`` (links on the provider field); an existing connection keeps its provider.
"""

from __future__ import annotations

from functools import cache

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin.base import TenantListFilter, TenantScopedAdmin
from core.templatetags.money import format_money
from providers.adapters.registry import (
    UnsupportedProvider,
    provider_spec,
    provider_specs,
    validate_settings,
)
from providers.admin.display import ago, run_summary
from providers.admin.filters import (
    ProviderListFilter,
)
from providers.balances import connection_balance
from providers.connection_fields import IdListField, ProviderFields, credential_form_field
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
MODEL_FIELDS = ["tenant", "provider", "name", "endpoints", "sync_interval"]


class ConnectionForm(ProviderFields, forms.ModelForm):
    """The fields every provider shares; ``connection_form(spec)`` adds the provider's own."""

    provider_key = ""

    class Meta:
        model = Connection
        fields = MODEL_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance if self.instance.pk else None
        spec = provider_spec(instance.provider if instance else self.provider_key)
        self.add_provider_fields(
            spec, editing=instance is not None, scope=instance.scope if instance else None
        )
        if "provider" in self.fields:
            self.fields["provider"].initial = spec.key
            self.fields["provider"].help_text = _switch_links(spec.key)
        if "endpoints" in self.fields:
            self.fields["endpoints"].help_text = _endpoints_help(spec)

    def clean(self):
        cleaned = super().clean()
        self.clean_provider_fields(cleaned)
        endpoints = cleaned.get("endpoints") if "endpoints" in cleaned else None
        scope = cleaned.get("scope")
        errors = settings_shape_errors(self.spec.key, scope=scope, endpoints=endpoints)
        if not errors:  # named endpoints and scope as the provider declares them
            errors = validate_settings(
                self.spec.key, credentials=None, scope=scope, endpoints=endpoints, trusted=True
            )
        for field, message in errors.items():
            target = field if field in self.fields else None
            if target is None or target not in self.errors:
                self.add_error(target, message)
        return cleaned


def _switch_links(current: str):
    others = [spec for spec in provider_specs() if spec.key != current]
    links = format_html_join(
        " · ", '<a href="?provider={}">{}</a>', ((s.key, s.name) for s in others)
    )
    return format_html("{} {}", _("New connection of another provider:"), links)


def _endpoints_help(spec):
    names = format_html_join(", ", "<code>{}</code> ({})", spec.endpoints.items())
    return format_html(
        "{} {} {}",
        _("JSON object of URL overrides (MSP operators only); "),
        _('{"*": url} overrides them all. Named endpoints and their defaults:'),
        names or _("none"),
    )


@cache
def connection_form(provider: str) -> type[ConnectionForm]:
    """The admin form class of one provider: its credential and scope fields declared (Django's
    admin only renders fields the form class declares)."""
    spec = provider_spec(provider)
    declared: dict = {"provider_key": spec.key}
    for spec_field in spec.credential_fields:
        declared[spec_field.name] = credential_form_field(spec_field)
        if spec_field.upload_name:
            declared[spec_field.upload_name] = forms.FileField(
                label=_("…or upload the file"), required=False
            )
    for option in spec.scope_options:
        field_class = IdListField if option.kind == "list" else forms.CharField
        declared[option.name] = field_class(
            label=option.label, required=False, max_length=4000, help_text=option.help_text
        )
    return type(f"ConnectionForm_{spec.key}", (ConnectionForm,), declared)


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
        "balance",
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
        "balance_details",
        "recent_sync_runs",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return connection_with_resource_counts(super().get_queryset(request))

    def _provider(self, request, obj=None) -> str:
        if obj is not None:
            return obj.provider
        wanted = request.POST.get("provider") or request.GET.get("provider")
        try:
            return provider_spec(wanted).key
        except UnsupportedProvider:
            return provider_specs()[0].key

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = connection_form(self._provider(request, obj))
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        spec = provider_spec(self._provider(request, obj))
        credentials = []
        for spec_field in spec.credential_fields:
            credentials.append(spec_field.name)
            if spec_field.upload_name:
                credentials.append(spec_field.upload_name)
        fieldsets = [
            (None, {"fields": ["tenant", "provider", "name", "sync_interval"]}),
            (
                _("Credentials (write-only: never shown again)"),
                {"fields": credentials, "description": spec.credentials_help},
            ),
        ]
        if spec.scope_options:
            fieldsets.append((_("Scope"), {"fields": [o.name for o in spec.scope_options]}))
        fieldsets.append((_("API endpoints"), {"fields": ["endpoints"]}))
        if obj is not None:
            fieldsets.append((_("Status"), {"fields": self.status_fields}))
        return fieldsets

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

    @admin.display(description=_("balance / days left"))
    def balance(self, obj):
        """The forecast stored by the last collection (no query per row)."""
        parts = []
        for forecast in connection_balance(obj).forecasts:
            amount = format_money(forecast.amount, forecast.currency)
            if forecast.days_left is None:
                parts.append(format_html("{} · {}", amount, _("not running out")))
            else:
                parts.append(
                    format_html(
                        "{} · {}",
                        amount,
                        _("%(days)s days (to %(date)s)")
                        % {"days": forecast.days_left, "date": forecast.runs_out_on},
                    )
                )
        if obj.balance_error:
            parts.append(format_html('<span title="{}">⚠ {}</span>', obj.balance_error, _("error")))
        return format_html_join(format_html("<br>"), "{}", ((p,) for p in parts)) or "—"

    @admin.display(description=_("prepaid balance"))
    def balance_details(self, obj):
        view = connection_balance(obj)
        if not view.forecasts and not view.error:
            return _("Not collected (the provider reports none, or no collection yet).")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    format_money(f.amount, f.currency),
                    ", ".join(f"{k}: {format_money(v, f.currency)}" for k, v in f.by_kind.items()),
                    format_money(f.daily_burn, f.currency) if f.daily_burn is not None else "—",
                    f.burn_source or "—",
                    f"{f.days_left} ({f.runs_out_on})" if f.days_left is not None else "—",
                    f.provider_days_to_block if f.provider_days_to_block is not None else "—",
                )
                for f in view.forecasts
            ),
        )
        link = reverse("admin:providers_balancesnapshot_changelist") + f"?connection={obj.pk}"
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            '<th>{}</th></tr></thead><tbody>{}</tbody></table><p>{} {}</p><a href="{}">{}</a>',
            _("balance"),
            _("by kind"),
            _("burn per day"),
            _("burn from"),
            _("days left (runs out)"),
            _("provider's days to block"),
            rows,
            _("Collected:") if view.collected_at else "",
            view.collected_at or "",
            link,
            _("Balance history of this connection →"),
        ) + (format_html("<p>⚠ {}</p>", view.error) if view.error else "")

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
        editable = ("name", "endpoints", "sync_interval")
        changes = {k: form.cleaned_data[k] for k in editable if k in form.changed_data}
        if "endpoints" in changes and changes["endpoints"] is None:
            changes["endpoints"] = {}  # an emptied JSON box means "none", not null
        stored = Connection.objects.get(pk=obj.pk)
        if form.cleaned_data.get("scope", stored.scope) != stored.scope:
            changes["scope"] = form.cleaned_data["scope"]
        credentials = form.cleaned_data.get("credentials") or None  # empty keeps the stored
        return connection_update(
            actor=request.user,
            connection=stored,
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
