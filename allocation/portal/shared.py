"""The Shared costs page: the shared-cost rules in order, what each split in a month (pooled,
each target's share, unallocated — always shown), a form to add a rule, and the runs that
recompute the history (with progress)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from allocation.bases import bases
from allocation.conditions import describe
from allocation.models import DIMENSION_MODELS, AllocationRule, AllocationRun
from allocation.portal.common import (
    can_manage,
    month_end,
    month_start,
    months,
    require_manage,
    selected_month,
)
from allocation.portal.forms import scoped
from allocation.selectors import allocation_results
from allocation.services.shared import (
    allocation_rule_create,
    allocation_rule_delete,
    allocation_run_request,
)
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_view

RECENT_RUNS = 10
REFRESH_SECONDS = 5


class AllocationRuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    conditions = forms.JSONField(
        label=gettext_lazy("Pool"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            'Which costs are shared, as for mapping rules, e.g. [{"field": "service", "op": '
            '"in", "values": ["Managed Kubernetes"]}].'
        ),
    )
    dimension = forms.ChoiceField(
        label=gettext_lazy("Split over"), choices=AllocationRule.Dimension.choices
    )
    method = forms.ChoiceField(label=gettext_lazy("Method"), choices=())
    targets = forms.JSONField(
        label=gettext_lazy("Targets"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            'Ids of the values sharing it: [{"id": 12}, {"id": 13}]; fixed: add "percent".'
        ),
    )
    metric = forms.CharField(label=gettext_lazy("Metric"), max_length=100, required=False)
    position = forms.IntegerField(label=gettext_lazy("Position"), required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [(k, b.label) for k, b in sorted(bases().items())]


def _page(request, *, form=None, status=200):
    tenant = request.portal_tenant
    month = selected_month(request.GET.get("month"), tenant)
    rules = list(scoped(AllocationRule, request.user, tenant).order_by("position", "id"))
    for rule in rules:
        rule.conditions_text = [describe(c) for c in rule.conditions or []] or [_("every row")]
        model = DIMENSION_MODELS[rule.dimension]
        names = dict(
            model.objects.filter(tenant=tenant, pk__in=rule.target_ids()).values_list("pk", "name")
        )
        rule.target_names = [
            names.get(t["id"], f"#{t['id']}") + (f" {t['percent']}%" if "percent" in t else "")
            for t in rule.targets or []
        ]
    runs = list(scoped(AllocationRun, request.user, tenant).order_by("-created_at", "-id")[:10])
    manage = can_manage(request)
    if manage and form is None:
        form = AllocationRuleForm()
    context = {
        "rules": rules,
        "results": _results(request, month),
        "month": month,
        "months": months(month_start(tenant)),
        "runs": runs,
        "running": any(
            r.status in (AllocationRun.Status.PENDING, AllocationRun.Status.RUNNING) for r in runs
        ),
        "refresh_seconds": REFRESH_SECONDS,
        "can_manage": manage,
        "form": form,
    }
    return render(request, "portal/allocation/shared.html", context, status=status)


def _results(request, month):
    try:
        return allocation_results(
            user=request.user, tenant=request.portal_tenant, first=month, last=month_end(month)
        )
    except PermissionDenied:  # limited to some projects: the split spans all of them
        return None


@portal_view
def shared(request):
    return _page(request)


@require_POST
@portal_view
def shared_add(request):
    require_manage(request)
    form = AllocationRuleForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data["conditions"] = data.get("conditions") or []
        try:
            rule = allocation_rule_create(actor=request.user, tenant=request.portal_tenant, **data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(
                request,
                _("Rule %(name)s is added; your shared costs are being recomputed.")
                % {"name": rule.name},
            )
            return redirect(reverse("portal:allocation_shared"))
    return _page(request, form=form, status=400)


@require_POST
@portal_view
def shared_delete(request, pk: int):
    rule = get_object_or_404(
        AllocationRule.objects.for_user(request.user, "view").for_tenant(request.portal_tenant),
        pk=pk,
    )
    require_manage(request)
    allocation_rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule %(name)s is deleted.") % {"name": rule.name})
    return redirect(reverse("portal:allocation_shared"))


@require_POST
@portal_view
def shared_recompute(request):
    if not can_manage(request):
        raise PermissionDenied(_("You cannot change the allocation settings of this tenant."))
    allocation_run_request(actor=request.user, tenant=request.portal_tenant)
    messages.success(request, _("Your shared costs are being recomputed."))
    return redirect(f"{reverse('portal:allocation_shared')}#runs")
