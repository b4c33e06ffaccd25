"""The Mapping rules page: the rules in order, a form to add or change one with a preview of
what it would do before it is saved, reordering, and the runs that re-apply the rules to the
cost history (with progress)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from allocation.conditions import describe
from allocation.models import MappingRun, TagRule
from allocation.portal.common import can_manage, error_text, require_manage
from allocation.portal.forms import RuleForm, scoped
from allocation.preview import last_month, month_range
from allocation.selectors import tag_rule_preview
from allocation.services.rules import tag_rule_create, tag_rule_delete, tag_rule_update
from allocation.services.runs import mapping_run_request
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_view

RECENT_RUNS = 10
REFRESH_SECONDS = 5


def _rules(request):
    rules = (
        scoped(TagRule, request.user, request.portal_tenant)
        .select_related(
            "business_unit", "project", "feature", "environment", "cost_center", "virtual_tag"
        )
        .order_by("position", "id")
    )
    rows = []
    for rule in rules:
        rule.conditions_text = [describe(c) for c in rule.conditions] or [_("every row")]
        rows.append(rule)
    return rows


def _runs(request):
    return list(
        scoped(MappingRun, request.user, request.portal_tenant).order_by("-created_at", "-id")[
            :RECENT_RUNS
        ]
    )


@portal_view
def rules(request):
    return _rules_page(request)


def _rules_page(request, *, form=None, preview=None, editing=None, status=200):
    manage = can_manage(request)
    if manage and form is None and editing is None:
        form = RuleForm(user=request.user, tenant=request.portal_tenant)
    runs = _runs(request)
    context = {
        "rules": _rules(request),
        "runs": runs,
        "running": any(
            r.status in (MappingRun.Status.PENDING, MappingRun.Status.RUNNING) for r in runs
        ),
        "refresh_seconds": REFRESH_SECONDS,
        "can_manage": manage,
        "form": form,
        "preview": preview,
        "editing": editing,
    }
    template = "portal/allocation/rule_form.html" if editing else "portal/allocation/rules.html"
    return render(request, template, context, status=status)


def _preview(request, form: RuleForm, existing: TagRule | None):
    data = form.rule_fields()
    rule = TagRule(tenant=request.portal_tenant, position=form.cleaned_data.get("position"), **data)
    if existing is not None:
        rule.pk = existing.pk
        rule.position = rule.position or existing.position
    period = form.cleaned_data.get("period")
    if period:
        start, end = month_range(request.portal_tenant, dt.date.fromisoformat(f"{period}-01"))
    else:
        start, end = last_month(request.portal_tenant)
    return tag_rule_preview(user=request.user, rule=rule, start=start, end=end)


def _save_or_preview(request, form: RuleForm, existing: TagRule | None):
    """(response or None, preview): a redirect once saved; the preview when asked for."""
    if not form.is_valid():
        return None, None
    try:
        if request.POST.get("action") == "preview":
            return None, _preview(request, form, existing)
        fields = form.rule_fields()
        position = form.cleaned_data.get("position")
        if existing is None:
            rule = tag_rule_create(
                actor=request.user, tenant=request.portal_tenant, position=position, **fields
            )
            messages.success(
                request,
                _("Rule %(name)s is added; the rules are being re-applied to your cost history.")
                % {"name": rule.name},
            )
        else:
            if position is not None:
                fields["position"] = position
            rule = tag_rule_update(actor=request.user, rule=existing, **fields)
            messages.success(
                request,
                _("Rule %(name)s is saved; the rules are being re-applied to your cost history.")
                % {"name": rule.name},
            )
    except ValidationError as error:
        apply_service_error(form, error)
        return None, None
    return redirect(reverse("portal:allocation_rules")), None


@require_POST
@portal_view
def rules_add(request):
    require_manage(request)
    form = RuleForm(request.POST, user=request.user, tenant=request.portal_tenant)
    response, preview = _save_or_preview(request, form, None)
    if response is not None:
        return response
    return _rules_page(request, form=form, preview=preview, status=200 if preview else 400)


def _rule(request, pk: int) -> TagRule:
    return get_object_or_404(
        TagRule.objects.for_user(request.user, "view").for_tenant(request.portal_tenant), pk=pk
    )


@require_http_methods(["GET", "POST"])
@portal_view
def rules_edit(request, pk: int):
    rule = _rule(request, pk)
    require_manage(request)
    tenant = request.portal_tenant
    if request.method == "GET":
        form = RuleForm(user=request.user, tenant=tenant, initial=RuleForm.initial_for(rule))
        return _rules_page(request, form=form, editing=rule)
    form = RuleForm(request.POST, user=request.user, tenant=tenant)
    response, preview = _save_or_preview(request, form, rule)
    if response is not None:
        return response
    return _rules_page(
        request, form=form, preview=preview, editing=rule, status=200 if preview else 400
    )


@require_POST
@portal_view
def rules_delete(request, pk: int):
    rule = _rule(request, pk)
    require_manage(request)
    tag_rule_delete(actor=request.user, rule=rule)
    messages.success(
        request,
        _("Rule %(name)s is deleted; the rules are being re-applied.") % {"name": rule.name},
    )
    return redirect(reverse("portal:allocation_rules"))


@require_POST
@portal_view
def rules_move(request, pk: int):
    rule = _rule(request, pk)
    require_manage(request)
    step = -1 if request.POST.get("direction") == "up" else 1
    try:
        tag_rule_update(actor=request.user, rule=rule, position=max(1, rule.position + step))
    except ValidationError as error:
        messages.error(request, error_text(error))
    return redirect(reverse("portal:allocation_rules"))


@require_POST
@portal_view
def rules_reapply(request):
    if not can_manage(request):
        raise PermissionDenied(_("You cannot change the allocation settings of this tenant."))
    mapping_run_request(actor=request.user, tenant=request.portal_tenant)
    messages.success(request, _("The rules are being re-applied to your cost history."))
    return redirect(f"{reverse('portal:allocation_rules')}#runs")
