"""The ``business_metric`` basis: split a shared-cost pool in proportion to a business metric's
per-dimension-value values of each day (orders per project), registered from
``AllocationConfig.ready`` (see ``allocation.bases``).

The rule's ``metric`` names a BusinessMetric of the tenant (its name, any case) kept per the
rule's dimension; each target weighs its value of the day (``selectors.business_metric_values``).
A day without values for any target leaves that day's pool unallocated (never guessed), like
every basis.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocation.bases import Basis, BasisRequest, Weights, register_basis


def _find_metric(tenant_id: int, name: str):
    from allocation.models import BusinessMetric

    return BusinessMetric.objects.filter(tenant_id=tenant_id, name__iexact=name.strip()).first()


def check_metric(rule):
    """Why the rule's metric cannot weigh its targets, or None."""
    metric = _find_metric(rule.tenant_id, rule.metric or "")
    if metric is None:
        return _("No business metric of this tenant is called “%(name)s”.") % {"name": rule.metric}
    if metric.dimension != rule.dimension:
        return _(
            "“%(name)s” is kept per %(kept)s, not per %(dimension)s: it cannot weigh these targets."
        ) % {
            "name": metric.name,
            "kept": metric.dimension or _("tenant (no dimension)"),
            "dimension": rule.dimension,
        }
    return None


def business_metric_weights(request: BasisRequest) -> Weights:
    from allocation.selectors import business_metric_values
    from core.models import Tenant

    metric = _find_metric(request.tenant_id, request.metric)
    if metric is None or metric.dimension != request.dimension:
        return {}  # (refused when the rule was saved; the metric was renamed or changed since)
    tenant = Tenant.objects.get(pk=request.tenant_id)
    targets = set(request.target_ids)
    found: Weights = {}
    day = request.first_day
    while day <= request.last_day:
        values = business_metric_values(tenant, metric, day)
        weights = {target: value for target, value in values.items() if target in targets}
        if weights:
            found[(day, None)] = weights
        day += dt.timedelta(days=1)
    return found


def register() -> None:
    register_basis(
        Basis(
            "business_metric",
            gettext_lazy("In proportion to a business metric"),
            business_metric_weights,
            needs_metric=True,
            help=gettext_lazy("Each target's value of the day of a business metric (orders…)."),
            check_metric=check_metric,
        )
    )
