"""Admin for cost data: FOCUS uploads and their import runs, line items and daily rollups."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin.base import ReadOnlyTenantScopedAdmin, TenantListFilter, TenantScopedAdmin
from providers.admin.display import ago
from providers.admin.filters import (
    ChargeMonthListFilter,
    CostProviderListFilter,
    CostServiceListFilter,
    RollupMonthListFilter,
)
from providers.models import (
    CostDaily,
    CostDailySummary,
    CostLineItem,
    ImportRun,
)
from providers.services.costs import cost_file_import
from providers.services.uploads import MAX_WAIT_BYTES, cost_upload_check, cost_upload_enqueue


class BoundedCountPaginator(Paginator):
    """Counts at most ``cap`` rows (COUNT over a LIMITed subquery), never a whole partitioned
    table: exact for small results, "cap + 1" (pages to browse, not a total) for large ones."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap + 1].count()


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
                "ago": ago(obj.started_at or obj.created_at),
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
        "x_estimated",
        "tenant",
    ]
    list_filter = [
        ChargeMonthListFilter,
        CostProviderListFilter,
        CostServiceListFilter,
        "x_estimated",
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
        "x_estimated",
        "tenant",
    ]
    list_filter = [
        RollupMonthListFilter,
        CostProviderListFilter,
        CostServiceListFilter,
        "x_estimated",
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
