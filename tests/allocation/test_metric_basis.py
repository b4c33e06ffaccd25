"""The ``business_metric`` basis: a shared pool split in proportion to a business metric's values
per project that day, exactly (shares + unallocated = pooled), and rules that name a metric
which cannot weigh their targets refused up front."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from allocation.bases import get_basis
from allocation.models import AllocatedCost, AllocationRule
from allocation.services.metrics import business_metric_create, business_metric_points_upsert
from allocation.services.shared import allocation_rule_create
from tests.allocation.conftest import cond, focus_row, load

D1, D2 = dt.date(2026, 1, 10), dt.date(2026, 1, 11)
K8S = [cond("service", "in", "Managed Kubernetes")]


@pytest.fixture
def orders(world, dims, rule):
    rule("web", [cond("tag", "in", "web", key="team")], project=dims.web)
    rule("data", [cond("tag", "in", "data", key="team")], project=dims.data)
    metric = business_metric_create(
        actor=world.owner_a, tenant=world.a, name="Orders", unit="order", dimension="project"
    )
    business_metric_points_upsert(
        actor=world.owner_a,
        metric=metric,
        points=[  # D1 only: D2 has no values
            {"date": D1.isoformat(), "value": "1", "dimension_value": dims.web.pk},
            {"date": D1.isoformat(), "value": "2", "dimension_value": dims.data.pk},
        ],
    )
    return metric


def _rule(world, dims, **fields):
    data = {
        "name": "Cluster by orders",
        "conditions": K8S,
        "dimension": "project",
        "method": "business_metric",
        "metric": "orders",  # the metric's name, any case
        "targets": [dims.web.pk, dims.data.pk],
    } | fields
    return allocation_rule_create(actor=None, tenant=world.a, **data)


def test_business_metric_basis_is_registered_from_the_app():
    basis = get_basis("business_metric")
    assert basis is not None and basis.needs_metric


def test_pool_split_in_proportion_to_the_metric_of_each_day(world, dims, orders):
    rule = _rule(world, dims)
    load(
        world.a,
        [
            focus_row(D1, "Compute", "5.00", tags={"team": "web"}),
            focus_row(D1, "Managed Kubernetes", "10.00", resource="k8s-1"),
            focus_row(D2, "Managed Kubernetes", "4.00", resource="k8s-1"),
        ],
    )

    results = AllocatedCost.objects.filter(tenant=world.a, rule=rule)
    shares = dict(results.filter(kind="share", day=D1).values_list("target_id", "billed_cost"))
    # 10.00 split 1:2 (not by direct cost: web's 5.00 does not count) -> 3.333.. / 6.666..:
    # whole kopecks, the leftover kopeck to the larger remainder, the rest unallocated.
    assert shares == {dims.web.pk: Decimal("3.33"), dims.data.pk: Decimal("6.67")}
    for day, pooled in ((D1, Decimal("10.00")), (D2, Decimal("4.00"))):
        of_day = results.filter(day=day)
        assert of_day.filter(kind="pool").aggregate(s=Sum("billed_cost"))["s"] == -pooled
        moved = of_day.exclude(kind="pool").aggregate(s=Sum("billed_cost"))["s"]
        assert moved == pooled  # conservation, exact
    # No values on D2: that day's pool stays unallocated (never guessed).
    assert not results.filter(day=D2, kind="share").exists()
    assert results.filter(day=D2, kind="unallocated").aggregate(s=Sum("billed_cost"))["s"] == (
        Decimal("4.00")
    )


def test_a_metric_that_cannot_weigh_the_targets_is_refused(world, dims, orders):
    business_metric_create(actor=world.owner_a, tenant=world.a, name="Visitors", unit="visitor")

    for fields in ({"metric": "refunds"}, {"metric": "visitors"}, {"dimension": "feature"}):
        with pytest.raises(ValidationError) as caught:
            _rule(world, dims, **fields)
        assert "metric" in caught.value.message_dict or "targets" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        _rule(world, dims, metric="visitors")  # tenant-wide: no per-project values
    assert "per" in caught.value.message_dict["metric"][0]
    assert not AllocationRule.objects.exists()
