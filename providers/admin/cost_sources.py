"""Admin for cost sources (buckets of billing files pulled on a schedule) and their objects."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin.base import ReadOnlyTenantScopedAdmin, TenantListFilter, TenantScopedAdmin
from core.api.base import scope_queryset
from providers.admin.display import ago
from providers.admin.filters import (
    ConnectionListFilter,
    CostSourceListFilter,
)
from providers.costs.sources.endpoints import endpoint_errors
from providers.models import (
    CostSource,
    CostSourceObject,
)
from providers.models.cost_sources import YANDEX_STORAGE_URL
from providers.services.cost_sources import (
    BUCKET_NAME,
    cost_source_create,
    cost_source_delete,
    cost_source_request_pull,
    cost_source_set_enabled,
    cost_source_update,
)

RECENT_OBJECTS = 20
KEY_FIELDS = ("access_key_id", "secret_access_key")


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

    lookback_days = forms.IntegerField(
        label=_("days re-read"),
        required=False,
        min_value=0,
        max_value=90,
        initial=3,
        help_text=_("Cost APIs only: days before the last one covered that each pull re-reads."),
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
            "file_kind",
            "lookback_days",
        ]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        bucket = kind in (CostSource.Kind.YANDEX_BILLING_EXPORT, CostSource.Kind.FOCUS_BUCKET)
        given = {name: cleaned.get(name) for name in KEY_FIELDS}
        if bucket and (any(given.values()) or self.instance.pk is None):
            for name, value in given.items():
                if not value:
                    self.add_error(name, _("Give both keys (or, when editing, neither)."))
        # The service decides; these cheap checks only keep the operator's input on the page
        # (a refusal by the service is reported after a redirect, with the form emptied).
        if bucket and "bucket" in cleaned and not BUCKET_NAME.fullmatch(cleaned["bucket"] or ""):
            self.add_error("bucket", _("Not a bucket name (3-63 letters, digits, '.', '-', '_')."))
        if (cleaned.get("prefix") or "").startswith("/"):
            self.add_error("prefix", _("Key prefixes do not start with '/'."))
        if cleaned.get("endpoint_url"):
            for message in endpoint_errors(cleaned["endpoint_url"], self.actor):
                self.add_error("endpoint_url", message)
        return cleaned

    def clean_lookback_days(self):
        value = self.cleaned_data.get("lookback_days")
        return 3 if value is None else value

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
        return ["tenant", "kind", "file_kind", *self.status_fields]

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    # --- display ----------------------------------------------------------------------------
    @admin.display(description=_("bucket"))
    def location(self, obj):
        if obj.kind == CostSource.Kind.PROVIDER_API:
            return _("cost API, read through %(day)s") % {"day": obj.pulled_through or "—"}
        if obj.kind == CostSource.Kind.PROVIDER_FILE:
            return _("uploads: %(kind)s") % {"kind": obj.file_kind}
        return f"{obj.bucket}/{obj.prefix}"

    @admin.display(description=_("health"))
    def health(self, obj):
        if obj.last_error:
            return format_html('<span title="{}">⚠ {}</span>', obj.last_error, obj.last_error[:80])
        if obj.last_pull_at is None:
            return _("never pulled")
        return _("pulled %(ago)s ago") % {"ago": ago(obj.last_pull_at)}

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
        fixed = ("tenant", "kind", "file_kind", *KEY_FIELDS)
        editable = [f for f in self.create_fields if f not in fixed]
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
