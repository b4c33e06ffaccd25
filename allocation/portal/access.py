"""The Access page: which members are limited to some dimension values (a project lead sees only
their projects' costs, resources and reports) and, for people who manage members, the form
that sets or lifts a limit (``core.services.memberships.membership_scope_set``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocation.models import DIMENSION_MODELS
from allocation.portal.common import error_text
from allocation.portal.forms import KIND_LABELS, ScopeForm, scoped
from core.access import dimension_scope_for
from core.capabilities import Capability
from core.dimensions import LIMITABLE_ROLES
from core.models import Membership
from core.portal.tenancy import portal_can, portal_view
from core.services.memberships import membership_scope_set


def _can_limit(request) -> bool:
    return portal_can(request, Capability.MANAGE_MEMBERS) and (
        dimension_scope_for(request.user, request.portal_tenant, Capability.MANAGE_MEMBERS) is None
    )


@portal_view
def access(request):
    tenant, user = request.portal_tenant, request.user
    names = {
        key: dict(scoped(model, user, tenant).values_list("pk", "name"))
        for key, model in DIMENSION_MODELS.items()
    }
    manage = _can_limit(request)
    rows = []
    members = (
        Membership.objects.for_user(user, "view")
        .for_tenant(tenant)
        .select_related("user")
        .order_by("user__username")
    )
    for membership in members:
        limits = [
            {
                "label": KIND_LABELS[key],
                "values": [names[key].get(i, f"#{i}") for i in ids],
            }
            for key, ids in (membership.dimension_scope or {}).items()
            if key in names
        ]
        form = None
        if manage and membership.role in LIMITABLE_ROLES:
            form = ScopeForm(
                user=user,
                tenant=tenant,
                prefix=f"m{membership.pk}",
                initial=dict(membership.dimension_scope or {}),
            )
        rows.append({"membership": membership, "limits": limits, "form": form})
    my_limit = dimension_scope_for(user, tenant, Capability.VIEW_TENANT)
    context = {"rows": rows, "can_manage": manage, "my_limit": my_limit}
    return render(request, "portal/allocation/access.html", context)


@require_POST
@portal_view
def access_set(request, pk: int):
    membership = get_object_or_404(
        Membership.objects.for_user(request.user, "view").for_tenant(request.portal_tenant),
        pk=pk,
    )
    if not _can_limit(request):
        raise PermissionDenied(_("You cannot manage the members of this tenant."))
    form = ScopeForm(request.POST, user=request.user, tenant=request.portal_tenant, prefix=f"m{pk}")
    if not form.is_valid():
        messages.error(request, _("Choose values of this tenant."))
        return redirect(reverse("portal:allocation_access"))
    try:
        membership_scope_set(
            actor=request.user, membership=membership, dimension_scope=form.scope()
        )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(
            request,
            _("Access of %(user)s is saved.") % {"user": membership.user.get_username()},
        )
    return redirect(reverse("portal:allocation_access"))
