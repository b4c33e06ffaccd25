"""Shared-cost allocation: pools split over dimension values per day, exactly (shares in whole
minor units, the rest unallocated), after mapping, on import and on rule change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from allocation.models import AllocatedCost, AllocationRule, AllocationRun
from allocation.services.shared import (
    allocation_rule_create,
    allocation_rule_delete,
    allocation_rule_update,
    allocation_run_request,
)
from allocation.sharing import largest_remainder, minor_unit, ratios, split_amount
from allocation.tasks import allocation_run_execute_task
from core.models import AuditEvent
from providers.models import CostLineItem, ResourceMetricDaily
from tests.allocation.conftest import cond, focus_row, load

D1, D2 = dt.date(2026, 1, 10), dt.date(2026, 1, 11)
K8S = [cond("service", "in", "Managed Kubernetes")]


@pytest.fixture
def eager(monkeypatch):
    ran = []

    def delay(run_id):
        ran.append(run_id)
        return allocation_run_execute_task.apply(args=[run_id])

    monkeypatch.setattr(allocation_run_execute_task, "delay", delay)
    return ran


@pytest.fixture
def mapped(world, dims, rule):
    """Web and Data carry direct costs by tag; a shared cluster is nobody's."""
    rule("web", [cond("tag", "in", "web", key="team")], project=dims.web)
    rule("data", [cond("tag", "in", "data", key="team")], project=dims.data)
    return dims


def _day_rows(day, web="30.00", data="10.00", cluster="10.00", currency="RUB"):
    return [
        focus_row(day, "Compute", web, tags={"team": "web"}, currency=currency),
        focus_row(day, "Storage", data, tags={"team": "data"}, resource="res-2", currency=currency),
        focus_row(day, "Managed Kubernetes", cluster, resource="k8s-1", currency=currency),
    ]


def _shares(tenant, **filters):
    return dict(
        AllocatedCost.objects.filter(tenant=tenant, kind="share", **filters)
        .values_list("target_id")
        .annotate(s=Sum("billed_cost"))
        .values_list("target_id", "s")
    )


def _kind_total(tenant, kind, **filters):
    return AllocatedCost.objects.filter(tenant=tenant, kind=kind, **filters).aggregate(
        s=Sum("billed_cost")
    )["s"]


# --- exact splitting ------------------------------------------------------------------------------
def test_largest_remainder_gives_leftover_units_to_the_largest_fractions():
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert largest_remainder(10, [Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]) == [5, 3, 2]
    assert largest_remainder(7, [Decimal(2), Decimal(2), Decimal(3)]) == [2, 2, 3]
    assert sum(largest_remainder(1, [1, 1, 1])) == 1


@pytest.mark.parametrize(
    ("currency", "unit"),
    [("RUB", "0.01"), ("USD", "0.01"), ("JPY", "1"), ("KWD", "0.001"), ("BHD", "0.001")],
)
def test_minor_units_come_from_cldr(currency, unit):
    assert minor_unit(currency) == Decimal(unit)


def test_split_amount_in_whole_minor_units_and_the_rest_apart():
    shares, rest = split_amount(Decimal("100.005"), [Decimal(1)] * 3, "RUB")
    assert shares == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert rest == Decimal("0.005")
    shares, rest = split_amount(Decimal("1000"), [Decimal(1)] * 3, "JPY")
    assert shares == [334, 333, 333] and rest == 0
    shares, rest = split_amount(Decimal("-10.0001"), [Decimal(1), Decimal(2)], "KWD")
    assert shares == [Decimal("-3.333"), Decimal("-6.667")]
    assert sum(shares) + rest == Decimal("-10.0001")


def test_ratios_sum_to_exactly_one():
    found = ratios([Decimal(1)] * 3)
    assert sum(found) == 1
    assert found[0] == Decimal("0.333333333334")


# --- allocation on import ---------------------------------------------------------------
def test_cluster_split_by_direct_cost_after_import(world, mapped):
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Cluster",
        conditions=K8S,
        dimension="project",
        method="direct_cost",
        targets=[{"id": mapped.web.pk}, {"id": mapped.data.pk}],
    )
    load(world.a, _day_rows(D1) + _day_rows(D2, web="1.00", data="2.00", cluster="1.00"))

    assert _shares(world.a, day=D1) == {
        mapped.web.pk: Decimal("7.50"),
        mapped.data.pk: Decimal("2.5"),
    }
    # 1.00 by 1:2 is 0.333…: 0.33 + 0.67 (the larger remainder takes the cent).
    assert _shares(world.a, day=D2) == {
        mapped.web.pk: Decimal("0.33"),
        mapped.data.pk: Decimal("0.67"),
    }
    assert _kind_total(world.a, "unallocated", day=D2) == 0
    pool = AllocatedCost.objects.get(tenant=world.a, kind="pool", day=D1)
    assert pool.billed_cost == Decimal("-10") and pool.service_name == "Managed Kubernetes"
    share = AllocatedCost.objects.get(tenant=world.a, kind="share", day=D1, target_id=mapped.web.pk)
    # A project share carries its business unit, and the pool's identity.
    assert share.x_business_unit_id == mapped.digital.pk
    assert (share.service_name, share.billing_currency) == ("Managed Kubernetes", "RUB")
    assert share.ratio == Decimal("0.75")
    for day in (D1, D2):
        assert AllocatedCost.objects.filter(tenant=world.a, day=day).aggregate(
            s=Sum("billed_cost"), e=Sum("effective_cost"), v=Sum("vat_amount")
        ) == {"s": 0, "e": 0, "v": 0}
    # The line items themselves are never changed by allocation.
    assert CostLineItem.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))[
        "s"
    ] == Decimal("54")


def test_sub_unit_rest_and_days_without_basis_stay_unallocated(world, mapped):
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Cluster",
        conditions=K8S,
        dimension="project",
        method="direct_cost",
        targets=[{"id": mapped.web.pk}, {"id": mapped.infra.pk}],
    )
    load(
        world.a,
        [*_day_rows(D1, cluster="10.005"), focus_row(D2, "Managed Kubernetes", "4.20")],
    )
    # Infra has no direct cost: Web takes all it can in kopecks; half a kopeck is left.
    assert _shares(world.a, day=D1) == {mapped.web.pk: Decimal("10.00")}
    assert _kind_total(world.a, "unallocated", day=D1) == Decimal("0.005")
    # D2: no target has any direct cost, so the pool stays unallocated (never guessed).
    assert _shares(world.a, day=D2) == {}
    assert _kind_total(world.a, "unallocated", day=D2) == Decimal("4.20")


def test_even_and_fixed_splits_and_first_matching_rule_wins(world, mapped):
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Support",
        conditions=[cond("service", "in", "Support")],
        dimension="project",
        method="fixed",
        targets=[
            {"id": mapped.web.pk, "percent": "50"},
            {"id": mapped.data.pk, "percent": "30"},
            {"id": mapped.infra.pk, "percent": 20},
        ],
    )
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Anything else untagged",
        conditions=[cond("tag", "missing", key="team")],
        dimension="cost_center",
        method="even",
        targets=[mapped.rnd.pk],
    )
    load(world.a, [*_day_rows(D1), focus_row(D1, "Support", "100.01", resource=None)])
    # Support matched the first rule only (it has no team tag either).
    assert _shares(world.a, rule__name="Support") == {
        mapped.web.pk: Decimal("50.01"),
        mapped.data.pk: Decimal("30.00"),
        mapped.infra.pk: Decimal("20.00"),
    }
    assert _shares(world.a, rule__name="Anything else untagged") == {mapped.rnd.pk: Decimal(10)}
    share = AllocatedCost.objects.get(tenant=world.a, kind="share", target_id=mapped.rnd.pk)
    assert share.x_cost_center_id == mapped.rnd.pk and share.x_project_id is None


def test_usage_metric_basis_weights_by_daily_metric(world, mapped):
    from tests.factories import ResourceFactory

    web_vm = ResourceFactory(connection__tenant=world.a, provider_id="vm-web")
    data_vm = ResourceFactory(connection__tenant=world.a, provider_id="vm-data")
    for resource, cpu in ((web_vm, 1.0), (data_vm, 3.0)):
        ResourceMetricDaily.objects.create(
            tenant=world.a,
            resource=resource,
            metric="cpu",
            day=D1,
            avg=cpu,
            min=0,
            max=4,
            samples=24,
        )
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Cluster by CPU",
        conditions=K8S,
        dimension="project",
        method="usage_metric",
        metric="cpu",
        targets=[mapped.web.pk, mapped.data.pk],
    )
    load(
        world.a,
        [
            focus_row(D1, "Compute", "1", tags={"team": "web"}, resource="vm-web"),
            focus_row(D1, "Compute", "1", tags={"team": "data"}, resource="vm-data"),
            focus_row(D1, "Managed Kubernetes", "8.00", resource="k8s-1"),
        ],
    )
    assert _shares(world.a) == {mapped.web.pk: Decimal("2.00"), mapped.data.pk: Decimal("6.00")}


# --- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"method": "astrology"}, "method"),
        ({"targets": []}, "targets"),
        ({"targets": [{"id": "x"}]}, "targets"),
        ({"method": "fixed", "targets": [{"id": 0, "percent": "100"}]}, "targets"),
        ({"method": "usage_metric"}, "metric"),
        ({"metric": "cpu"}, "metric"),
        ({"conditions": [{"field": "colour", "op": "in", "values": ["x"]}]}, "conditions"),
        ({"dimension": "galaxy"}, "dimension"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_names_the_field(world, mapped, fields, bad):
    data = {
        "name": "Pool",
        "conditions": K8S,
        "dimension": "project",
        "method": "even",
        "targets": [mapped.web.pk],
    } | fields
    with pytest.raises(ValidationError) as caught:
        allocation_rule_create(actor=None, tenant=world.a, **data)
    assert bad in caught.value.message_dict
    assert not AllocationRule.objects.exists()


def test_fixed_percentages_must_add_up_and_targets_belong_to_the_tenant(world, mapped):
    from allocation.services.dimensions import dimension_create

    with pytest.raises(ValidationError, match="add up to 90"):
        allocation_rule_create(
            actor=None,
            tenant=world.a,
            name="Support",
            method="fixed",
            targets=[
                {"id": mapped.web.pk, "percent": "60"},
                {"id": mapped.data.pk, "percent": "30"},
            ],
        )
    bu_b = dimension_create(actor=None, kind="business_unit", tenant=world.b, name="B")
    other = dimension_create(
        actor=None, kind="project", tenant=world.b, name="B", business_unit=bu_b
    )
    with pytest.raises(ValidationError) as caught:
        allocation_rule_create(
            actor=None, tenant=world.a, name="X", method="even", targets=[other.pk]
        )
    assert "targets" in caught.value.message_dict


# --- rule changes re-allocate the history as a run --------------------------------------------
def test_rule_change_recomputes_history_as_an_audited_run(
    world, mapped, eager, django_capture_on_commit_callbacks
):
    load(world.a, _day_rows(D1) + _day_rows(D2))
    assert not AllocatedCost.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        with_capture = allocation_rule_create(
            actor=world.owner_a,
            tenant=world.a,
            name="Cluster",
            conditions=K8S,
            dimension="project",
            method="even",
            targets=[mapped.web.pk, mapped.data.pk],
        )
    assert len(eager) == 1
    run = AllocationRun.objects.get(pk=eager[0])
    assert run.status == "succeeded" and run.progress["batches_done"] == 1
    assert _shares(world.a) == {mapped.web.pk: Decimal("10.00"), mapped.data.pk: Decimal("10.00")}
    assert AuditEvent.objects.filter(
        event_type="allocation.allocation_rule_created", target_id=str(with_capture.pk)
    ).exists()

    with django_capture_on_commit_callbacks(execute=True):
        allocation_rule_update(
            actor=world.owner_a,
            rule=with_capture,
            method="fixed",
            targets=[{"id": mapped.web.pk, "percent": "100"}],
        )
    assert _shares(world.a) == {mapped.web.pk: Decimal("20.00")}
    with django_capture_on_commit_callbacks(execute=True):
        allocation_rule_delete(actor=world.owner_a, rule=with_capture)
    assert not AllocatedCost.objects.filter(tenant=world.a).exists()
    assert AuditEvent.objects.filter(event_type="allocation.allocation_run_succeeded").count() == 3


def test_mapping_change_moves_the_direct_cost_basis(
    world, mapped, rule, eager, monkeypatch, django_capture_on_commit_callbacks
):
    from allocation.services.rules import tag_rule_update
    from allocation.tasks import mapping_run_execute_task

    monkeypatch.setattr(
        mapping_run_execute_task, "delay", lambda pk: mapping_run_execute_task.apply(args=[pk])
    )
    allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Cluster",
        conditions=K8S,
        dimension="project",
        method="direct_cost",
        targets=[mapped.web.pk, mapped.data.pk],
    )
    load(world.a, _day_rows(D1))
    assert _shares(world.a) == {mapped.web.pk: Decimal("7.50"), mapped.data.pk: Decimal("2.50")}
    data_rule = mapped.data.pk
    from allocation.models import TagRule

    with django_capture_on_commit_callbacks(execute=True):
        tag_rule_update(
            actor=None,
            rule=TagRule.objects.get(tenant=world.a, project_id=data_rule),
            project=mapped.web,
        )
    # All direct cost is Web's now: the mapping run re-allocated the day.
    assert _shares(world.a) == {mapped.web.pk: Decimal("10.00")}


def test_manual_run_request_checks_days(world, mapped):
    with pytest.raises(ValidationError) as caught:
        allocation_run_request(actor=world.owner_a, tenant=world.a, first_day=D2, last_day=D1)
    assert "last_day" in caught.value.message_dict


def test_a_target_of_a_shared_cost_rule_cannot_be_deleted(world, mapped):
    from allocation.services.dimensions import dimension_delete

    allocation_rule_create(
        actor=None, tenant=world.a, name="Pool", method="even", targets=[mapped.infra.pk]
    )
    with pytest.raises(ValidationError, match="shared-cost rule"):
        dimension_delete(actor=None, dimension=mapped.infra)


# --- the cost query ----------------------------------------------------------------------
def _cluster_rule(world, mapped):
    return allocation_rule_create(
        actor=None,
        tenant=world.a,
        name="Cluster",
        conditions=K8S,
        dimension="project",
        method="direct_cost",
        targets=[mapped.web.pk, mapped.data.pk],
    )


def test_cost_query_shows_allocated_beside_direct_with_totals_unchanged(world, mapped):
    from providers.costs.query import CostQuery, run_cost_query

    _cluster_rule(world, mapped)
    load(world.a, _day_rows(D1, cluster="10.01"))

    def ask(**options):
        return run_cost_query(
            CostQuery(tenant=world.a, start=D1, end=D2, amounts="gross", **options)
        )

    direct = ask(group_by=["project"])
    shared = ask(group_by=["project"], allocation="include")
    assert shared.totals["billed_cost"] == direct.totals["billed_cost"] == Decimal("50.01")
    rows = {row["project"]: row for row in shared.rows}
    assert rows["Web"]["billed_cost"] == Decimal("37.51")  # 30 direct + 7.51 (7.5075 rounded)
    assert rows["Web"]["allocated_cost"] == Decimal("7.51")
    assert rows["Data"]["billed_cost"] == Decimal("12.50")
    # The cluster left "no project"; nothing stays unallocated, and the row is still shown.
    assert rows[None]["billed_cost"] == 0 and rows[None]["allocated_cost"] == Decimal("-10.01")
    assert shared.allocation_totals == {
        "pooled": Decimal("10.01"),
        "allocated": Decimal("10.01"),
        "unallocated": Decimal("0"),
    }
    # By service: the cluster's cost is still the cluster's (shares keep the pool's service).
    by_service = {r["service"]: r for r in ask(group_by=["service"], allocation="include").rows}
    assert by_service["Managed Kubernetes"]["billed_cost"] == Decimal("10.01")
    assert "allocated_cost" not in direct.rows[0]


def test_cost_query_api_allocation_and_bad_value(world, mapped, api_as):
    _cluster_rule(world, mapped)
    load(world.a, _day_rows(D1))
    client = api_as(world.owner_a)
    url = "/api/v1/cost-query/"
    base = {"tenant": world.a.pk, "start": D1.isoformat(), "end": D1.isoformat()}
    answer = client.get(url, base | {"group_by": "project", "allocation": "include"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["allocation_totals"]["unallocated"] == "0.00"
    assert {r["project"]: r["allocated_cost"] for r in body["rows"]}["Web"] == "7.50"
    bad = client.get(url, base | {"allocation": "sometimes"})
    assert bad.status_code == 400 and "allocation" in bad.json()


# --- portal ----------------------------------------------------------------------------------
def test_portal_page_shows_pooled_shares_and_unallocated(world, mapped, client):
    from django.urls import reverse

    _cluster_rule(world, mapped)
    load(world.a, _day_rows(D1, cluster="10.005"))
    client.force_login(world.owner_a)
    page = client.get(reverse("portal:allocation_shared"), {"month": "2026-01"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cluster" in text and "Unallocated" in text and 'title="0.005' in text
    bad = client.post(
        reverse("portal:allocation_shared_add"),
        {"name": "X", "dimension": "project", "method": "even", "targets": "[]"},
    )
    assert bad.status_code == 400
    assert AllocationRule.objects.filter(tenant=world.a).count() == 1
    added = client.post(
        reverse("portal:allocation_shared_add"),
        {
            "name": "Support",
            "conditions": '[{"field": "service", "op": "in", "values": ["Support"]}]',
            "dimension": "project",
            "method": "fixed",
            "targets": f'[{{"id": {mapped.web.pk}, "percent": "100"}}]',
        },
    )
    assert added.status_code == 302
    assert AllocationRule.objects.filter(tenant=world.a, name="Support").exists()


# --- FOCUS 1.3 export ------------------------------------------------------------------------
def test_focus_13_export_splits_pooled_charges_into_their_shares(world, mapped, tmp_path):
    import io

    from django.core.management import call_command

    from providers.focus import FocusReader, check_focus

    _cluster_rule(world, mapped)
    rows = _day_rows(D1, cluster="10.01") + _day_rows(D2, web="0", data="0")
    for row in rows:  # priced usage, as FOCUS wants it: cost = unit price x quantity
        row |= {
            "pricing_quantity": Decimal(2),
            "pricing_unit": "Hours",
            "pricing_category": "Standard",
            "list_unit_price": row["list_cost"] / 2,
            "contracted_unit_price": row["contracted_cost"] / 2,
        }
    load(world.a, rows)
    target = tmp_path / "focus13.csv"
    call_command(
        "export_focus", "--tenant", "alpha", "--period", "2026-01", "--version", "1.3",
        "-o", str(target), stdout=io.StringIO(),
    )  # fmt: skip
    report = check_focus(target, strict=True)
    assert report.passed, report.format_text()
    with FocusReader(target) as reader:
        rows = list(reader)
    split = [r for r in rows if r["allocated_method_id"]]
    # D1's cluster charge became two rows (Web 3/4, Data 1/4); D2 had no basis: kept whole.
    assert len(rows) == 7 and len(split) == 2
    assert {r["allocated_resource_name"] for r in split} == {"Web", "Data"}
    ratios = [r["allocated_method_details"]["Elements"][0]["AllocatedRatio"] for r in split]
    assert sum(ratios) == 1 and sorted(ratios) == [Decimal("0.25"), Decimal("0.75")]
    assert sum(r["billed_cost"] for r in split) == Decimal("10.01")
    assert split[0]["allocated_method_id"].startswith("infrazen:direct_cost:rule-")
    assert {r["allocated_tags"]["project"] for r in split} == {"Web", "Data"}
    assert sum(r["billed_cost"] for r in rows) == Decimal("60.01")
    # The default export (1.2) has no split.
    plain = tmp_path / "focus12.csv"
    call_command(
        "export_focus", "--tenant", "alpha", "--period", "2026-01", "-o", str(plain),
        stdout=io.StringIO(),
    )  # fmt: skip
    with FocusReader(plain) as reader:
        assert sum(1 for _ in reader) == 6


def test_costs_by_dimension_page_can_split_shared_costs(world, mapped, client):
    from django.urls import reverse

    _cluster_rule(world, mapped)
    load(world.a, _day_rows(D1))
    client.force_login(world.owner_a)
    url = reverse("portal:allocation")
    billed = client.get(url, {"month": "2026-01", "by": "project"}).content.decode()
    split = client.get(url, {"month": "2026-01", "by": "project", "shared": "1"}).content.decode()
    assert "Of which shared" in split and "Of which shared" not in billed
    assert "37.50" in split and "37.50" not in billed  # Web: 30 direct + 7.50 of the cluster
