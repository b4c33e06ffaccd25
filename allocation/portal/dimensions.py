"""The Allocation overview (costs by business dimension or virtual tag, for the month) and the
dimension pages (business units, projects, features, environments, cost centers).

Costs come from the cost query with the user as viewer, so a member limited to some projects
sees those projects' costs only; every list and choice comes from ``for_user``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from allocation.models import DIMENSION_MODELS, Project, VirtualTag
from allocation.portal.common import (
    can_manage,
    error_text,
    month_end,
    month_start,
    months,
    require_manage,
    selected_month,
)
from allocation.portal.forms import KIND_LABELS, DimensionForm, scoped
from allocation.services.dimensions import dimension_create, dimension_delete, dimension_update
from core.capabilities import Capability
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_can, portal_view
from providers.costs.query import CostQuery, QueryError, run_cost_query

GROUPINGS = ["business_unit", "project", "feature", "environment", "cost_center"]


@portal_view
def overview(request):
    tenant, user = request.portal_tenant, request.user
    month = selected_month(request.GET.get("month"), tenant)
    virtual_tags = list(scoped(VirtualTag, user, tenant).order_by("key"))
    choices = [(g, KIND_LABELS[g]) for g in GROUPINGS] + [
        (f"vtag:{v.key}", _("Virtual tag %(key)s") % {"key": v.key}) for v in virtual_tags
    ]
    group = request.GET.get("by") or "project"
    if group not in dict(choices):
        group = "project"
    projects = list(scoped(Project, user, tenant).order_by("name"))
    project = request.GET.get("project") or ""
    filters = {}
    if project.isdigit() and any(p.pk == int(project) for p in projects):
        filters = {"project": [project]}
    # With shared costs split over their targets (the shared-cost rules), totals unchanged.
    shared = request.GET.get("shared") == "1"
    result, error = None, None
    can_view_costs = portal_can(request, Capability.VIEW_COSTS)
    if can_view_costs:
        try:
            result = run_cost_query(
                CostQuery(
                    tenant=tenant,
                    group_by=[group],
                    start=month,
                    end=month_end(month),
                    filters=filters,
                    order="-billed_cost",
                    viewer=user,
                    allocation="include" if shared else "exclude",
                )
            )
        except QueryError as exc:
            error = str(exc)
    context = {
        "month": month,
        "months": months(max(month_start(tenant), month)),
        "group": group,
        "group_choices": choices,
        "shared": shared,
        "projects": projects,
        "project": project,
        "result": result,
        "error": error,
        "can_view_costs": can_view_costs,
        "lists": _lists(user, tenant),
        "can_manage": can_manage(request),
    }
    return render(request, "portal/allocation/overview.html", context)


def _lists(user, tenant) -> list[dict]:
    lists = []
    for kind, model in DIMENSION_MODELS.items():
        rows = scoped(model, user, tenant).select_related("owner").order_by("name")
        if kind == "project":
            rows = rows.select_related("business_unit")
        elif kind == "feature":
            rows = rows.select_related("project")
        lists.append({"kind": kind, "label": KIND_LABELS[kind], "rows": list(rows[:500])})
    return lists


@portal_view
def dimensions(request):
    return _dimensions_page(request)


def _dimensions_page(request, *, forms=None, status=200):
    tenant, user = request.portal_tenant, request.user
    manage = can_manage(request)
    add_forms = {}
    if manage:
        for kind in DIMENSION_MODELS:
            add_forms[kind] = (forms or {}).get(kind) or DimensionForm(
                kind=kind, user=user, tenant=tenant, prefix=kind
            )
    lists = _lists(user, tenant)
    for item in lists:
        item["form"] = add_forms.get(item["kind"])
    context = {"lists": lists, "can_manage": manage}
    return render(request, "portal/allocation/dimensions.html", context, status=status)


@require_POST
@portal_view
def dimensions_add(request):
    require_manage(request)
    kind = request.POST.get("kind")
    if kind not in DIMENSION_MODELS:
        raise Http404
    form = DimensionForm(
        request.POST, kind=kind, user=request.user, tenant=request.portal_tenant, prefix=kind
    )
    if form.is_valid():
        try:
            dimension = dimension_create(
                actor=request.user, kind=kind, tenant=request.portal_tenant, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("%(name)s is added.") % {"name": dimension.name})
            return redirect(f"{reverse('portal:allocation_dimensions')}#{kind}")
    return _dimensions_page(request, forms={kind: form}, status=400)


def _dimension(request, kind: str, pk: int):
    model = DIMENSION_MODELS[kind]
    return get_object_or_404(
        model.objects.for_user(request.user, "view").for_tenant(request.portal_tenant), pk=pk
    )


def dimension_edit_view(kind: str):
    @require_http_methods(["GET", "POST"])
    @portal_view
    def edit(request, pk: int):
        dimension = _dimension(request, kind, pk)
        require_manage(request)
        tenant, user = request.portal_tenant, request.user
        if request.method == "GET":
            form = DimensionForm(
                kind=kind, user=user, tenant=tenant, initial=DimensionForm.initial_for(dimension)
            )
            return _edit_page(request, kind, dimension, form, 200)
        form = DimensionForm(
            request.POST,
            kind=kind,
            user=user,
            tenant=tenant,
            initial=DimensionForm.initial_for(dimension),
        )
        if form.is_valid():
            changes = {k: form.cleaned_data[k] for k in form.changed_data}
            try:
                dimension_update(actor=user, dimension=dimension, **changes)
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(
                    request, _("%(name)s is saved.") % {"name": form.cleaned_data["name"]}
                )
                return redirect(f"{reverse('portal:allocation_dimensions')}#{kind}")
        return _edit_page(request, kind, dimension, form, 400)

    return edit


def _edit_page(request, kind, dimension, form, status):
    context = {"kind": kind, "label": KIND_LABELS[kind], "dimension": dimension, "form": form}
    return render(request, "portal/allocation/dimension_form.html", context, status=status)


def dimension_delete_view(kind: str):
    @require_POST
    @portal_view
    def delete(request, pk: int):
        dimension = _dimension(request, kind, pk)
        require_manage(request)
        try:
            dimension_delete(actor=request.user, dimension=dimension)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("%(name)s is deleted.") % {"name": dimension.name})
        return redirect(f"{reverse('portal:allocation_dimensions')}#{kind}")

    return delete
