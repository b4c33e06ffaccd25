"""The Unit economics page: business metrics (add, upload a CSV of points, pull, delete) and
cost per unit of a metric by month or day, per dimension value, with its trend."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from allocation.models import BusinessMetric
from allocation.models.metrics import DIMENSION_CHOICES
from allocation.portal.common import can_manage, error_text, month_start, require_manage
from allocation.portal.forms import KIND_LABELS, scoped
from allocation.selectors import UnitCostError, unit_costs
from allocation.services.metrics import (
    MAX_CSV_BYTES,
    business_metric_create,
    business_metric_csv_import,
    business_metric_delete,
    business_metric_pull,
)
from core.capabilities import Capability
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_can, portal_view

MONTHS_SHOWN = 12


class MetricForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=100)
    unit = forms.CharField(label=_lazy("Unit"), max_length=40)
    dimension = forms.ChoiceField(
        label=_lazy("Kept per"),
        choices=[("", _lazy("the whole tenant")), *DIMENSION_CHOICES],
        required=False,
    )
    pull_url = forms.URLField(
        label=_lazy("Pull URL (optional)"), required=False, assume_scheme="https"
    )
    pull_path = forms.CharField(label=_lazy("Points path"), max_length=200, required=False)


class UploadForm(forms.Form):
    file = forms.FileField(label=_lazy("CSV file (date,value[,dimension_value])"))
    policy = forms.ChoiceField(
        label=_lazy("Bad lines"),
        choices=[
            ("reject_file", _lazy("store nothing")),
            ("skip_rows", _lazy("skip them, store the rest")),
        ],
    )


def _back():
    return redirect(reverse("portal:allocation_units"))


@portal_view
def units(request):
    return _page(request)


def _page(request, *, form=None, status=200):
    tenant, user = request.portal_tenant, request.user
    metrics = list(scoped(BusinessMetric, user, tenant).order_by("name"))
    selected = request.GET.get("metric") or ""
    metric = next((m for m in metrics if str(m.pk) == selected), metrics[0] if metrics else None)
    granularity = "day" if request.GET.get("granularity") == "day" else "month"
    group_by = request.GET.get("by") or ""
    report, error = None, None
    can_view_costs = portal_can(request, Capability.VIEW_COSTS)
    end = month_start(tenant)
    end = (end + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    if granularity == "month":
        for _n in range(MONTHS_SHOWN - 1):
            start = (start - dt.timedelta(days=1)).replace(day=1)
    if metric is not None and can_view_costs:
        if metric.dimension and group_by not in ("", metric.dimension):
            group_by = metric.dimension
        try:
            report = unit_costs(
                user=user,
                tenant=tenant,
                metric=metric,
                start=start,
                end=end,
                granularity=granularity,
                group_by=group_by or None,
            )
        except UnitCostError as exc:
            error = str(exc)
    manage = can_manage(request)
    context = {
        "metrics": metrics,
        "metric": metric,
        "granularity": granularity,
        "group_by": group_by,
        "groupings": list(KIND_LABELS.items()),
        "report": report,
        "error": error,
        "can_view_costs": can_view_costs,
        "can_manage": manage,
        "form": form or (MetricForm() if manage else None),
        "upload_form": UploadForm() if manage else None,
    }
    return render(request, "portal/allocation/units.html", context, status=status)


@require_POST
@portal_view
def units_add(request):
    require_manage(request)
    form = MetricForm(request.POST)
    if form.is_valid():
        try:
            metric = business_metric_create(
                actor=request.user, tenant=request.portal_tenant, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("%(row)s is added.") % {"row": metric})
            return _back()
    return _page(request, form=form, status=400)


def _metric(request, pk):
    return get_object_or_404(
        BusinessMetric.objects.for_user(request.user, "view").for_tenant(request.portal_tenant),
        pk=pk,
    )


@require_POST
@portal_view
def units_upload(request, pk: int):
    metric = _metric(request, pk)
    require_manage(request)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return _back()
    upload = form.cleaned_data["file"]
    if upload.size > MAX_CSV_BYTES:
        messages.error(request, _("The file is larger than 5 MB."))
        return _back()
    try:
        result = business_metric_csv_import(
            actor=request.user,
            metric=metric,
            content=upload.read(),
            policy=form.cleaned_data["policy"],
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(
            request,
            _("%(metric)s: %(n)d points stored, %(bad)d lines skipped.")
            % {"metric": metric, "n": result.stored, "bad": len(result.rejected)},
        )
        for rejected in result.rejected[:20]:
            messages.warning(request, _("Line %(line)d: %(reason)s") % rejected)
    return _back()


@require_POST
@portal_view
def units_pull(request, pk: int):
    metric = _metric(request, pk)
    require_manage(request)
    try:
        result = business_metric_pull(actor=request.user, metric=metric)
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(
            request, _("%(metric)s: %(n)d points stored.") % {"metric": metric, "n": result.stored}
        )
    return _back()


@require_POST
@portal_view
def units_delete(request, pk: int):
    metric = _metric(request, pk)
    require_manage(request)
    business_metric_delete(actor=request.user, metric=metric)
    messages.success(request, _("%(row)s is removed.") % {"row": metric})
    return _back()
