"""Admin for allocation: dimensions, tag aliases and required tags, virtual tags, mapping rules
(with their last-month effect) and the runs that re-apply them, shared-cost rules, their daily
results and runs. Every write goes through the
services; every list and choice is scoped by the tenant-scoped base."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from allocation.conditions import describe
from allocation.models import (
    AllocatedCost,
    AllocationRule,
    AllocationRun,
    BusinessMetric,
    BusinessMetricValue,
    BusinessUnit,
    CostCenter,
    Environment,
    Feature,
    Invoice,
    InvoiceLine,
    MappingRun,
    PriceBook,
    PriceBookCharge,
    PriceBookRule,
    Project,
    RequiredTag,
    TagAlias,
    TagRule,
    VirtualTag,
)
from allocation.services.billing import (
    invoice_delete,
    invoice_email,
    invoice_issue,
    price_book_charge_create,
    price_book_charge_delete,
    price_book_charge_update,
    price_book_create,
    price_book_delete,
    price_book_rule_create,
    price_book_rule_delete,
    price_book_rule_update,
    price_book_update,
)
from allocation.services.dimensions import dimension_create, dimension_delete, dimension_update
from allocation.services.metrics import (
    business_metric_create,
    business_metric_delete,
    business_metric_pull,
    business_metric_update,
)
from allocation.services.rules import EDITABLE as RULE_FIELDS
from allocation.services.rules import tag_rule_create, tag_rule_delete, tag_rule_update
from allocation.services.runs import mapping_run_request
from allocation.services.shared import EDITABLE as ALLOCATION_RULE_FIELDS
from allocation.services.shared import (
    allocation_rule_create,
    allocation_rule_delete,
    allocation_rule_update,
    allocation_run_request,
)
from allocation.services.tags import (
    required_tag_create,
    required_tag_delete,
    required_tag_update,
    tag_alias_create,
    tag_alias_delete,
    virtual_tag_create,
    virtual_tag_delete,
    virtual_tag_update,
)
from core.admin.base import ReadOnlyTenantScopedAdmin, TenantListFilter, TenantScopedAdmin


class _DimensionAdmin(TenantScopedAdmin):
    parent: str | None = None
    list_filter = [TenantListFilter]
    search_fields = ["name", "code"]
    list_select_related = ["tenant", "owner"]

    def get_list_display(self, request):
        parent = [self.parent] if self.parent else []
        return ["name", *parent, "code", "owner", "tenant", "updated_at"]

    def get_fields(self, request, obj=None):
        parent = [self.parent] if self.parent else []
        return ["tenant", "name", *parent, "code", "description", "owner"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj is not None else []

    def service_create(self, request, form):
        data = {k: form.cleaned_data[k] for k in self.get_fields(request)}
        return dimension_create(actor=request.user, kind=self.model.key, **data)

    def service_update(self, request, obj, form):
        editable = [f for f in self.get_fields(request, obj) if f != "tenant"]
        changes = {k: form.cleaned_data[k] for k in editable if k in form.changed_data}
        return dimension_update(
            actor=request.user, dimension=type(obj).objects.get(pk=obj.pk), **changes
        )

    def service_delete(self, request, obj):
        dimension_delete(actor=request.user, dimension=obj)


@admin.register(BusinessUnit)
class BusinessUnitAdmin(_DimensionAdmin):
    pass


@admin.register(Project)
class ProjectAdmin(_DimensionAdmin):
    parent = "business_unit"
    list_select_related = ["tenant", "owner", "business_unit"]


@admin.register(Feature)
class FeatureAdmin(_DimensionAdmin):
    parent = "project"
    list_select_related = ["tenant", "owner", "project"]


@admin.register(Environment)
class EnvironmentAdmin(_DimensionAdmin):
    pass


@admin.register(CostCenter)
class CostCenterAdmin(_DimensionAdmin):
    pass


@admin.register(TagAlias)
class TagAliasAdmin(TenantScopedAdmin):
    """Aliases are added and removed, not edited (each change re-applies the rules)."""

    list_display = ["__str__", "kind", "tenant", "created_at"]
    list_filter = ["kind", TenantListFilter]
    search_fields = ["key", "alias", "canonical"]
    list_select_related = ["tenant"]
    fields = ["tenant", "kind", "key", "alias", "canonical"]

    def service_create(self, request, form):
        return tag_alias_create(
            actor=request.user, **{k: form.cleaned_data[k] for k in self.fields}
        )

    def service_delete(self, request, obj):
        tag_alias_delete(actor=request.user, alias=obj)


class _KeyedAdmin(TenantScopedAdmin):
    list_display = ["key", "description", "tenant", "created_at"]
    list_filter = [TenantListFilter]
    search_fields = ["key", "description"]
    list_select_related = ["tenant"]
    fields = ["tenant", "key", "description"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj is not None else []

    def _changes(self, form):
        return {k: form.cleaned_data[k] for k in ("key", "description") if k in form.changed_data}


@admin.register(RequiredTag)
class RequiredTagAdmin(_KeyedAdmin):
    def service_create(self, request, form):
        return required_tag_create(
            actor=request.user, **{k: form.cleaned_data[k] for k in self.fields}
        )

    def service_update(self, request, obj, form):
        return required_tag_update(
            actor=request.user,
            required_tag=RequiredTag.objects.get(pk=obj.pk),
            **self._changes(form),
        )

    def service_delete(self, request, obj):
        required_tag_delete(actor=request.user, required_tag=obj)


@admin.register(VirtualTag)
class VirtualTagAdmin(_KeyedAdmin):
    def service_create(self, request, form):
        return virtual_tag_create(
            actor=request.user, **{k: form.cleaned_data[k] for k in self.fields}
        )

    def service_update(self, request, obj, form):
        return virtual_tag_update(
            actor=request.user,
            virtual_tag=VirtualTag.objects.get(pk=obj.pk),
            **self._changes(form),
        )

    def service_delete(self, request, obj):
        virtual_tag_delete(actor=request.user, virtual_tag=obj)


class TagRuleForm(forms.ModelForm):
    conditions = forms.JSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=_(
            'A JSON list, all must hold, e.g. [{"field": "service", "op": "in", "values": '
            '["Compute Cloud"]}, {"field": "tag", "key": "team", "op": "missing"}]. '
            "See the API schema of /api/v1/tag-rules/ for every field and op."
        ),
    )
    position = forms.IntegerField(
        required=False, min_value=1, help_text=_("1 = tried first; empty: after the last rule.")
    )

    class Meta:
        model = TagRule
        fields = ["tenant", *RULE_FIELDS]


@admin.register(TagRule)
class TagRuleAdmin(TenantScopedAdmin):
    """Mapping rules in the order they are tried. Saving, reordering or deleting one re-applies
    the rules to the cost history (see Mapping runs)."""

    form = TagRuleForm
    list_display = ["position", "name", "enabled", "conditions_text", "targets", "tenant"]
    list_display_links = ["name"]
    list_filter = ["enabled", TenantListFilter]
    search_fields = ["name", "description"]
    list_select_related = [
        "tenant",
        "business_unit",
        "project",
        "feature",
        "environment",
        "cost_center",
        "virtual_tag",
    ]
    ordering = ["tenant", "position", "id"]
    actions = ["reapply_rules"]

    def get_fields(self, request, obj=None):
        return ["tenant", *RULE_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj is not None else []

    @admin.display(description=_("conditions"))
    def conditions_text(self, obj):
        items = [describe(c) for c in obj.conditions or []] or [_("every row")]
        return format_html_join("", "<div>{}</div>", ((item,) for item in items))

    @admin.display(description=_("sets"))
    def targets(self, obj):
        parts = [
            str(value)
            for value in (obj.business_unit, obj.project, obj.feature, obj.environment)
            if value is not None
        ]
        if obj.cost_center is not None:
            parts.append(str(obj.cost_center))
        if obj.virtual_tag is not None:
            value = obj.virtual_tag_value or f"← {obj.virtual_tag_from_key}"
            parts.append(f"{obj.virtual_tag.key}={value}")
        return format_html("{}", ", ".join(parts))

    def _data(self, form, names):
        data = {k: form.cleaned_data.get(k) for k in names}
        data["conditions"] = data.get("conditions") or []
        for key in ("virtual_tag_value", "virtual_tag_from_key", "description"):
            if key in data and data[key] is None:
                data[key] = ""
        return data

    def service_create(self, request, form):
        data = self._data(form, ["tenant", *RULE_FIELDS])
        return tag_rule_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changed = [k for k in RULE_FIELDS if k in form.changed_data]
        data = self._data(form, changed)
        if "position" in data and data["position"] is None:
            data.pop("position")
        return tag_rule_update(actor=request.user, rule=TagRule.objects.get(pk=obj.pk), **data)

    def service_delete(self, request, obj):
        tag_rule_delete(actor=request.user, rule=obj)

    @admin.action(description=_("Re-apply the rules to the cost history"), permissions=["change"])
    def reapply_rules(self, request, queryset):
        tenants = {rule.tenant for rule in queryset.for_user(request.user, "change")}
        for tenant in sorted(tenants, key=lambda t: t.pk):
            mapping_run_request(actor=request.user, tenant=tenant)
            self.message_user(
                request,
                _("%(tenant)s: re-application queued (see Mapping runs).") % {"tenant": tenant},
                messages.SUCCESS,
            )


@admin.register(MappingRun)
class MappingRunAdmin(ReadOnlyTenantScopedAdmin):
    """Re-applications of the mapping rules, with progress while they run."""

    list_display = [
        "created_at",
        "tenant",
        "trigger",
        "status",
        "progress_text",
        "rows_changed",
        "days_refreshed",
        "duration_ms",
        "reason",
    ]
    list_filter = ["status", "trigger", TenantListFilter]
    search_fields = ["reason", "error"]
    list_select_related = ["tenant"]
    ordering = ["-created_at", "-id"]

    @admin.display(description=_("progress"))
    def progress_text(self, obj):
        progress = obj.progress or {}
        if not progress.get("batches"):
            return "—"
        return _("%(done)s of %(all)s months") % {
            "done": progress.get("batches_done", 0),
            "all": progress["batches"],
        }


# --- shared costs ---------------------------------------------------------------------------------
class AllocationRuleForm(forms.ModelForm):
    conditions = forms.JSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_(
            "The pool, as for mapping rules: a JSON list, all must hold, e.g. "
            '[{"field": "service", "op": "in", "values": ["Managed Kubernetes"]}].'
        ),
    )
    targets = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_(
            'The dimension values sharing the pool: [{"id": 12}, {"id": 13}]; for fixed '
            'percentages [{"id": 12, "percent": "60"}, {"id": 13, "percent": "40"}].'
        ),
    )
    method = forms.ChoiceField(choices=())
    position = forms.IntegerField(
        required=False, min_value=1, help_text=_("1 = tried first; empty: after the last rule.")
    )

    class Meta:
        model = AllocationRule
        fields = ["tenant", *ALLOCATION_RULE_FIELDS]

    def __init__(self, *args, **kwargs):
        from allocation.bases import bases

        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [(k, b.label) for k, b in sorted(bases().items())]


@admin.register(AllocationRule)
class AllocationRuleAdmin(TenantScopedAdmin):
    """Shared-cost rules in the order they claim cost rows. Saving, reordering or deleting one
    recomputes the shared costs of the history (see Shared-cost runs)."""

    form = AllocationRuleForm
    list_display = [
        "position",
        "name",
        "enabled",
        "conditions_text",
        "dimension",
        "method",
        "targets_text",
        "tenant",
    ]
    list_display_links = ["name"]
    list_filter = ["enabled", "dimension", "method", TenantListFilter]
    search_fields = ["name", "description"]
    list_select_related = ["tenant"]
    ordering = ["tenant", "position", "id"]
    actions = ["reallocate"]

    def get_fields(self, request, obj=None):
        return ["tenant", *ALLOCATION_RULE_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj is not None else []

    @admin.display(description=_("pool"))
    def conditions_text(self, obj):
        items = [describe(c) for c in obj.conditions or []] or [_("every row")]
        return format_html_join("", "<div>{}</div>", ((item,) for item in items))

    @admin.display(description=_("targets"))
    def targets_text(self, obj):
        from allocation.models import DIMENSION_MODELS

        model = DIMENSION_MODELS.get(obj.dimension)
        ids = obj.target_ids()
        names = dict(model.objects.filter(pk__in=ids).values_list("pk", "name")) if model else {}
        parts = []
        for target in obj.targets or []:
            name = names.get(target["id"], f"#{target['id']}")
            parts.append(f"{name} {target['percent']}%" if "percent" in target else name)
        return ", ".join(parts)

    def _data(self, form, names):
        data = {k: form.cleaned_data.get(k) for k in names}
        if "conditions" in data:
            data["conditions"] = data.get("conditions") or []
        for key in ("description", "metric"):
            if key in data and data[key] is None:
                data[key] = ""
        return data

    def service_create(self, request, form):
        data = self._data(form, ["tenant", *ALLOCATION_RULE_FIELDS])
        return allocation_rule_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changed = [k for k in ALLOCATION_RULE_FIELDS if k in form.changed_data]
        data = self._data(form, changed)
        if "position" in data and data["position"] is None:
            data.pop("position")
        return allocation_rule_update(
            actor=request.user, rule=AllocationRule.objects.get(pk=obj.pk), **data
        )

    def service_delete(self, request, obj):
        allocation_rule_delete(actor=request.user, rule=obj)

    @admin.action(
        description=_("Recompute the shared costs of the history"), permissions=["change"]
    )
    def reallocate(self, request, queryset):
        tenants = {rule.tenant for rule in queryset.for_user(request.user, "change")}
        for tenant in sorted(tenants, key=lambda t: t.pk):
            allocation_run_request(actor=request.user, tenant=tenant)
            self.message_user(
                request,
                _("%(tenant)s: recomputation queued (see Shared-cost runs).") % {"tenant": tenant},
                messages.SUCCESS,
            )


@admin.register(AllocationRun)
class AllocationRunAdmin(ReadOnlyTenantScopedAdmin):
    """Recomputations of the shared costs, with progress while they run."""

    list_display = [
        "created_at",
        "tenant",
        "trigger",
        "status",
        "progress_text",
        "rows_written",
        "days_allocated",
        "duration_ms",
        "reason",
    ]
    list_filter = ["status", "trigger", TenantListFilter]
    search_fields = ["reason", "error"]
    list_select_related = ["tenant"]
    ordering = ["-created_at", "-id"]

    @admin.display(description=_("progress"))
    def progress_text(self, obj):
        progress = obj.progress or {}
        if not progress.get("batches"):
            return "—"
        return _("%(done)s of %(all)s months") % {
            "done": progress.get("batches_done", 0),
            "all": progress["batches"],
        }


@admin.register(AllocatedCost)
class AllocatedCostAdmin(ReadOnlyTenantScopedAdmin):
    """The daily shared-cost results (read-only; recomputed by imports and runs)."""

    list_display = [
        "day",
        "rule",
        "kind",
        "target_id",
        "ratio",
        "billed_cost",
        "billing_currency",
        "service_name",
        "tenant",
    ]
    list_filter = ["kind", "billing_currency", TenantListFilter]
    search_fields = ["service_name"]
    list_select_related = ["tenant", "rule"]
    ordering = ["-day", "rule_id", "kind"]
    date_hierarchy = "day"
    show_full_result_count = False  # a large table: no exact count on every page


# --- unit economics --------------------------------------------------------------------------
METRIC_FIELDS = [
    "name",
    "unit",
    "description",
    "dimension",
    "pull_url",
    "pull_path",
    "pull_interval",
    "enabled",
]


@admin.register(BusinessMetric)
class BusinessMetricAdmin(TenantScopedAdmin):
    """Business metrics (orders, active users …) for cost per unit. Points arrive through the
    API, CSV uploads (portal) or pulls of the metric's URL (action "Pull now")."""

    list_display = [
        "name",
        "unit",
        "dimension",
        "tenant",
        "enabled",
        "last_pull_status",
        "last_pull_at",
    ]
    list_filter = ["dimension", "enabled", "last_pull_status", TenantListFilter]
    search_fields = ["name", "unit"]
    list_select_related = ["tenant"]
    actions = ["pull_now"]

    def get_fields(self, request, obj=None):
        fields = ["tenant", *METRIC_FIELDS]
        if obj is not None:
            fields += ["last_pull_at", "last_pull_status", "last_pull_points", "last_pull_error"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["tenant", "last_pull_at", "last_pull_status", "last_pull_points", "last_pull_error"]

    def service_create(self, request, form):
        data = {k: form.cleaned_data[k] for k in ["tenant", *METRIC_FIELDS]}
        return business_metric_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changes = {k: form.cleaned_data[k] for k in METRIC_FIELDS if k in form.changed_data}
        return business_metric_update(
            actor=request.user, metric=BusinessMetric.objects.get(pk=obj.pk), **changes
        )

    def service_delete(self, request, obj):
        business_metric_delete(actor=request.user, metric=obj)

    @admin.action(description=_("Pull now"), permissions=["change"])
    def pull_now(self, request, queryset):
        for metric in queryset.for_user(request.user, "change").exclude(pull_url=""):
            try:
                result = business_metric_pull(actor=request.user, metric=metric)
            except ValidationError as exc:
                self.message_user(request, f"{metric}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(metric)s: %(n)d points stored.") % {"metric": metric, "n": result.stored},
                    messages.SUCCESS,
                )


@admin.register(BusinessMetricValue)
class BusinessMetricValueAdmin(ReadOnlyTenantScopedAdmin):
    list_display = ["metric", "day", "dimension_value_id", "value", "tenant", "updated_at"]
    list_filter = [TenantListFilter]
    search_fields = ["metric__name"]
    list_select_related = ["tenant", "metric"]
    ordering = ["-day", "metric_id"]
    date_hierarchy = "day"


# --- chargeback ------------------------------------------------------------------------------
BOOK_FIELDS = [
    "name",
    "currency",
    "valid_from",
    "valid_to",
    "default_markup",
    "vat_rate",
    "email_to",
    "auto_invoice",
]


@admin.register(PriceBook)
class PriceBookAdmin(TenantScopedAdmin):
    """Client price books (MSP operators only). Rules, fees and custom lines are their own lists
    (filter them by price book)."""

    list_display = [
        "name",
        "tenant",
        "currency",
        "valid_from",
        "valid_to",
        "default_markup",
        "vat_rate",
        "auto_invoice",
        "last_run_error",
    ]
    list_filter = ["currency", "auto_invoice", TenantListFilter]
    search_fields = ["name"]
    list_select_related = ["tenant"]

    def get_fields(self, request, obj=None):
        return ["tenant", *BOOK_FIELDS] + (["last_run_at", "last_run_error"] if obj else [])

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "last_run_at", "last_run_error"] if obj is not None else []

    def service_create(self, request, form):
        data = {k: form.cleaned_data[k] for k in ["tenant", *BOOK_FIELDS]}
        return price_book_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changes = {k: form.cleaned_data[k] for k in BOOK_FIELDS if k in form.changed_data}
        return price_book_update(
            actor=request.user, price_book=PriceBook.objects.get(pk=obj.pk), **changes
        )

    def service_delete(self, request, obj):
        price_book_delete(actor=request.user, price_book=obj)


class _PriceBookPartAdmin(TenantScopedAdmin):
    fields_edit: list[str] = []
    list_filter = [TenantListFilter]
    list_select_related = ["tenant", "price_book"]

    def get_fields(self, request, obj=None):
        return ["price_book", *self.fields_edit]

    def get_readonly_fields(self, request, obj=None):
        return ["price_book"] if obj is not None else []


@admin.register(PriceBookRule)
class PriceBookRuleAdmin(_PriceBookPartAdmin):
    list_display = ["price_book", "provider_name", "service_name", "markup", "tenant"]
    search_fields = ["provider_name", "service_name", "price_book__name"]
    fields_edit = ["provider_name", "service_name", "markup"]

    def service_create(self, request, form):
        data = {k: form.cleaned_data[k] for k in ["price_book", *self.fields_edit]}
        return price_book_rule_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changes = {k: form.cleaned_data[k] for k in self.fields_edit if k in form.changed_data}
        return price_book_rule_update(
            actor=request.user, rule=PriceBookRule.objects.get(pk=obj.pk), **changes
        )

    def service_delete(self, request, obj):
        price_book_rule_delete(actor=request.user, rule=obj)


@admin.register(PriceBookCharge)
class PriceBookChargeAdmin(_PriceBookPartAdmin):
    list_display = ["description", "price_book", "kind", "amount", "month", "tenant"]
    list_filter = ["kind", TenantListFilter]
    search_fields = ["description", "price_book__name"]
    fields_edit = ["kind", "description", "amount", "month"]

    def service_create(self, request, form):
        data = {k: form.cleaned_data[k] for k in ["price_book", *self.fields_edit]}
        return price_book_charge_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changes = {k: form.cleaned_data[k] for k in self.fields_edit if k in form.changed_data}
        return price_book_charge_update(
            actor=request.user, charge=PriceBookCharge.objects.get(pk=obj.pk), **changes
        )

    def service_delete(self, request, obj):
        price_book_charge_delete(actor=request.user, charge=obj)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyTenantScopedAdmin):
    """Invoices, read-only (issued ones are immutable). Actions build, issue and send them;
    a correction is a re-issue (API or portal, with a reason)."""

    list_display = [
        "number",
        "tenant",
        "period_start",
        "version",
        "status",
        "provider_cost",
        "margin",
        "net_amount",
        "vat_amount",
        "total_amount",
        "currency",
        "emailed_at",
    ]
    list_filter = ["status", TenantListFilter]
    search_fields = ["number"]
    list_select_related = ["tenant"]
    ordering = ["-period_start", "-version"]
    actions = ["issue", "email"]

    @admin.action(description=_("Issue (freeze) the selected drafts"), permissions=["change"])
    def issue(self, request, queryset):
        for invoice in queryset.for_user(request.user, "change").filter(status="draft"):
            try:
                invoice_issue(actor=request.user, invoice=invoice)
            except ValidationError as exc:
                self.message_user(request, f"{invoice}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, _("%(n)s is issued.") % {"n": invoice}, messages.SUCCESS)

    @admin.action(description=_("E-mail the selected issued invoices"), permissions=["change"])
    def email(self, request, queryset):
        for invoice in queryset.for_user(request.user, "change").filter(status="issued"):
            try:
                invoice_email(actor=request.user, invoice=invoice)
            except ValidationError as exc:
                self.message_user(request, f"{invoice}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, _("%(n)s is sent.") % {"n": invoice}, messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # built from costs: the API's POST /invoices/ or the portal

    def service_delete(self, request, obj):
        invoice_delete(actor=request.user, invoice=obj)  # drafts only


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyTenantScopedAdmin):
    list_display = [
        "invoice",
        "position",
        "kind",
        "description",
        "provider_cost",
        "margin",
        "amount",
        "vat_amount",
        "total",
    ]
    list_filter = ["kind", TenantListFilter]
    search_fields = ["description", "invoice__number"]
    list_select_related = ["invoice"]
    ordering = ["invoice_id", "position"]
