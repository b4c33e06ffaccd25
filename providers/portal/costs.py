"""The portal's Costs page: the month's costs by provider and service in the tenant's currency,
FOCUS downloads, and (for people who manage connections) FOCUS uploads with their status.

Reads go through the cost query (rollups, scoped to the current tenant) and ``for_user``
querysets; the upload goes through the upload service.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.capabilities import Capability
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_can, portal_view
from providers.costs.query import EXCLUDE, INCLUDE, CostQuery, QueryError, run_cost_query
from providers.models import ImportRun
from providers.services.uploads import cost_upload_check, cost_upload_enqueue

MONTHS_LISTED = 13
RECENT_IMPORTS = 10
# The portal's own words for import states and policies (customers, not operators, read them).
STATUS_LABELS = {
    ImportRun.Status.PENDING: gettext_lazy("Queued"),
    ImportRun.Status.RUNNING: gettext_lazy("Importing"),
    ImportRun.Status.SUCCEEDED: gettext_lazy("Imported"),
    ImportRun.Status.FAILED: gettext_lazy("Failed"),
    ImportRun.Status.SKIPPED: gettext_lazy("Skipped: the same file was imported before"),
}
POLICY_CHOICES = [
    (ImportRun.BadRowPolicy.REJECT_FILE, gettext_lazy("Reject the file if any row is bad")),
    (ImportRun.BadRowPolicy.SKIP_ROWS, gettext_lazy("Skip bad rows, load the rest")),
]


class CostUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("FOCUS file"),
        help_text=gettext_lazy("FOCUS 1.0-1.2 as CSV, CSV.gz or Parquet."),
    )
    source_key = forms.CharField(
        label=gettext_lazy("Source"),
        max_length=200,
        initial="focus-upload",
        help_text=gettext_lazy(
            "A later file of the same source replaces its costs for the months it covers."
        ),
    )
    policy = forms.ChoiceField(
        label=gettext_lazy("Bad rows"),
        choices=POLICY_CHOICES,
        initial=ImportRun.BadRowPolicy.REJECT_FILE,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        cost_upload_check(upload)  # a ValidationError here is the field's error
        return upload


def _month_start(tenant) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date().replace(day=1)


def _months(latest: dt.date) -> list[dt.date]:
    months = [latest]
    for _n in range(MONTHS_LISTED - 1):
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months


def _selected_month(value: str | None, tenant) -> dt.date:
    try:
        return dt.datetime.strptime(value or "", "%Y-%m").date()
    except ValueError:
        return _month_start(tenant)


def _costs_page(request, *, upload_form=None, status=200):
    tenant = request.portal_tenant
    if not portal_can(request, Capability.VIEW_COSTS):
        return render(request, "portal/costs.html", {"forbidden": True}, status=403)
    month = _selected_month(request.GET.get("month"), tenant)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    # Billed costs only, unless asked; estimates are then rows of their own, labelled.
    with_estimates = request.GET.get("estimates") == INCLUDE
    result, error = None, None
    try:
        result = run_cost_query(
            CostQuery(
                tenant=tenant,
                group_by=["provider", "service", *(["estimated"] if with_estimates else [])],
                start=month,
                end=following - dt.timedelta(days=1),
                order="-billed_cost",
                estimates=INCLUDE if with_estimates else EXCLUDE,
                viewer=request.user,
            )
        )
    except QueryError as exc:
        error = str(exc)
    can_upload = portal_can(request, Capability.MANAGE_CONNECTIONS)
    imports = []
    if can_upload:
        imports = list(
            ImportRun.objects.for_user(request.user, "view")
            .for_tenant(tenant)
            .order_by("-created_at", "-id")[:RECENT_IMPORTS]
        )
        for run in imports:
            run.status_label = STATUS_LABELS.get(run.status, run.status)
        if upload_form is None:
            upload_form = CostUploadForm()
    period = f"{month:%Y-%m}"
    export_url = reverse("api:cost-export")
    context = {
        "month": month,
        "period": period,
        "months": _months(max(_month_start(tenant), month)),
        "previous_month": (month - dt.timedelta(days=1)).replace(day=1),
        "next_month": following,
        "result": result,
        "error": error,
        "with_estimates": with_estimates,
        "estimated_total": result.estimated_totals["billed_cost"] if result else None,
        "currency": result.currency if result else tenant.default_currency,
        "amounts": result.amounts if result else tenant.cost_amounts,
        "can_upload": can_upload,
        "upload_form": upload_form,
        "imports": imports,
        "imports_running": any(
            run.status in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING) for run in imports
        ),
        "export_csv": f"{export_url}?tenant={tenant.pk}&period={period}&format=csv"
        "&escape_formulas=true",  # people open it in a spreadsheet
        "export_parquet": f"{export_url}?tenant={tenant.pk}&period={period}&format=parquet",
    }
    return render(request, "portal/costs.html", context, status=status)


@portal_view
def costs(request):
    return _costs_page(request)


@require_POST
@portal_view
def costs_upload(request):
    if not portal_can(request, Capability.MANAGE_CONNECTIONS):
        raise PermissionDenied(_("You cannot import cost files for this tenant."))
    form = CostUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _costs_page(request, upload_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        cost_upload_enqueue(
            actor=request.user,
            tenant=request.portal_tenant,
            file=upload,
            file_name=upload.name,
            source_key=form.cleaned_data["source_key"],
            policy=form.cleaned_data["policy"],
        )
    except ValidationError as error:
        apply_service_error(form, error)
        return _costs_page(request, upload_form=form, status=400)
    messages.success(
        request,
        _("%(file)s is queued for import; its status is shown under Recent imports.")
        % {"file": upload.name},
    )
    return redirect(f"{reverse('portal:costs')}#imports")
