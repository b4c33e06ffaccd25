"""The Tags page: tag keys and values found on resources and costs (normalised), the tagging
policy's compliance report, and the settings behind both (aliases, required keys, virtual
tags)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocation.models import RequiredTag, TagAlias, VirtualTag
from allocation.portal.common import (
    can_manage,
    error_text,
    month_end,
    month_start,
    months,
    require_manage,
    selected_month,
)
from allocation.portal.forms import RequiredTagForm, TagAliasForm, VirtualTagForm, scoped
from allocation.selectors import tag_compliance, tag_discovery
from allocation.services.tags import (
    required_tag_create,
    required_tag_delete,
    tag_alias_create,
    tag_alias_delete,
    virtual_tag_create,
    virtual_tag_delete,
)
from core.capabilities import Capability
from core.portal.forms import apply_service_error
from core.portal.tenancy import portal_can, portal_view

FORMS = {"alias": TagAliasForm, "required": RequiredTagForm, "virtual": VirtualTagForm}


@portal_view
def tags(request):
    return _tags_page(request)


def _tags_page(request, *, forms=None, status=200):
    tenant, user = request.portal_tenant, request.user
    month = selected_month(request.GET.get("month"), tenant)
    key = request.GET.get("key") or None
    discovery = compliance = None
    can_view_costs = portal_can(request, Capability.VIEW_COSTS)
    if can_view_costs:
        discovery = tag_discovery(
            user=user, tenant=tenant, first=month, last=month_end(month), key=key
        )
        compliance = tag_compliance(user=user, tenant=tenant, first=month, last=month_end(month))
        for item in compliance.keys:
            item.share = item.cost_share(compliance.total)
            item.resource_share = (
                item.missing.resources / compliance.total.resources
                if compliance.total.resources
                else 0
            )
    manage = can_manage(request)
    forms = forms or {}
    context = {
        "month": month,
        "months": months(max(month_start(tenant), month)),
        "discovery": discovery,
        "compliance": compliance,
        "can_view_costs": can_view_costs,
        "aliases": scoped(TagAlias, user, tenant).order_by("kind", "key", "canonical", "alias"),
        "required": scoped(RequiredTag, user, tenant).order_by("key"),
        "virtual_tags": scoped(VirtualTag, user, tenant).order_by("key"),
        "can_manage": manage,
        "alias_form": forms.get("alias") or (TagAliasForm(prefix="alias") if manage else None),
        "required_form": forms.get("required")
        or (RequiredTagForm(prefix="required") if manage else None),
        "virtual_form": forms.get("virtual")
        or (VirtualTagForm(prefix="virtual") if manage else None),
    }
    return render(request, "portal/allocation/tags.html", context, status=status)


def _back(anchor: str):
    return redirect(f"{reverse('portal:allocation_tags')}#{anchor}")


def _add(request, kind: str, service, anchor: str):
    require_manage(request)
    form = FORMS[kind](request.POST, prefix=kind)
    if form.is_valid():
        try:
            row = service(actor=request.user, tenant=request.portal_tenant, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("%(row)s is added.") % {"row": row})
            return _back(anchor)
    return _tags_page(request, forms={kind: form}, status=400)


@require_POST
@portal_view
def alias_add(request):
    return _add(request, "alias", tag_alias_create, "aliases")


@require_POST
@portal_view
def required_add(request):
    return _add(request, "required", required_tag_create, "policy")


@require_POST
@portal_view
def virtual_add(request):
    return _add(request, "virtual", virtual_tag_create, "virtual-tags")


def _row(request, model, pk):
    return get_object_or_404(
        model.objects.for_user(request.user, "view").for_tenant(request.portal_tenant), pk=pk
    )


def _delete(request, row, delete, anchor: str):
    require_manage(request)
    try:
        delete()
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("%(row)s is removed.") % {"row": row})
    return _back(anchor)


@require_POST
@portal_view
def alias_delete(request, pk: int):
    row = _row(request, TagAlias, pk)
    return _delete(request, row, lambda: tag_alias_delete(actor=request.user, alias=row), "aliases")


@require_POST
@portal_view
def required_delete(request, pk: int):
    row = _row(request, RequiredTag, pk)
    return _delete(
        request, row, lambda: required_tag_delete(actor=request.user, required_tag=row), "policy"
    )


@require_POST
@portal_view
def virtual_delete(request, pk: int):
    row = _row(request, VirtualTag, pk)
    return _delete(
        request,
        row,
        lambda: virtual_tag_delete(actor=request.user, virtual_tag=row),
        "virtual-tags",
    )
