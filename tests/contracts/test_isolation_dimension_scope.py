"""Dimension-scoped access over every model, endpoint and filter: a member of tenant A limited to
one project ("the lead") never sees rows of other projects, nor totals or filter choices built
from them. Models are found from the registry: every scoped model whose rows a project limit
narrows (``dimension_filter``) gets a sample row of tenant A outside the lead's project."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.db.models import Q, Sum
from rest_framework.test import APIClient

from core.capabilities import Role
from core.models import Membership
from core.services.memberships import membership_scope_set
from tests.contracts.discovery import api_endpoints, scoped_models
from tests.contracts.samples import SAMPLES
from tests.factories import member

ENDPOINTS = api_endpoints()
NARROWED = [
    m
    for m in scoped_models()
    if getattr(m, "dimension_scoped", lambda: False)()
    and m.dimension_filter(1, {"project": [1]}) != Q()
]


def test_the_registry_finds_the_narrowed_models():
    # Guards the guard: the models a project lead must not see beyond their project.
    labels = {m._meta.label_lower for m in NARROWED}
    assert {
        "providers.costlineitem",
        "providers.costdaily",
        "providers.costdailysummary",
        "providers.resource",
        "providers.importrun",
        "allocation.project",
        "allocation.businessunit",
        "allocation.feature",
        "allocation.tagrule",
    } <= labels


@pytest.fixture
def lead(world):
    """A viewer of tenant A limited to a project of their own (with one cost row in it)."""
    from allocation.services.dimensions import dimension_create
    from allocation.services.rules import tag_rule_create
    from tests.providers.costs.test_query import JAN, focus_row, load

    bu = dimension_create(actor=None, kind="business_unit", tenant=world.a, name="Lead BU")
    project = dimension_create(
        actor=None, kind="project", tenant=world.a, name="Lead project", business_unit=bu
    )
    tag_rule_create(
        actor=None,
        tenant=world.a,
        name="lead's",
        conditions=[{"field": "tag", "key": "team", "op": "in", "values": ["lead"]}],
        project=project,
    )
    load(world.a, [focus_row(JAN, "Lead service", "7.77", tags={"team": "lead"})])
    user = member(world.a, Role.VIEWER, username="project-lead")
    membership = Membership.objects.get(user=user, tenant=world.a)
    membership_scope_set(
        actor=None, membership=membership, dimension_scope={"project": [project.pk]}
    )
    user.project = project
    return user


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _outside(world, lead, model):
    """A row of tenant A outside the lead's project: the model's sample (some samples, such as
    rollups, pick an existing row of A: then another of A's rows outside the project)."""
    row = SAMPLES[model._meta.label_lower](world, world.a)
    inside = model.dimension_filter(world.a.pk, {"project": [lead.project.pk]})
    if model.objects.filter(pk=row.pk).filter(inside).exists():
        row = model.objects.filter(tenant=world.a).exclude(inside).first()
    assert row is not None and row.tenant_id == world.a.pk
    assert not model.objects.filter(pk=row.pk).filter(inside).exists()
    return row


@pytest.mark.parametrize("model", NARROWED, ids=lambda m: m._meta.label_lower)
def test_for_user_hides_other_projects_rows(world, lead, model):
    row = _outside(world, lead, model)
    assert not model.objects.for_user(lead, "view").filter(pk=row.pk).exists()
    # The same row is there for an unlimited member of the tenant.
    assert model.objects.for_user(world.owner_a, "view").filter(pk=row.pk).exists()


NARROWED_ENDPOINTS = [e for e in ENDPOINTS if e.model in NARROWED]


def test_narrowed_endpoints_are_found():
    assert {"costlineitem", "resource", "project", "importrun", "tagrule"} <= {
        e.basename for e in NARROWED_ENDPOINTS
    }


@pytest.mark.parametrize("endpoint", NARROWED_ENDPOINTS, ids=lambda e: e.basename)
def test_lists_and_details_hide_other_projects_rows(world, lead, endpoint):
    row = _outside(world, lead, endpoint.model)
    client = _client(lead)
    response = client.get(endpoint.list_url, {"page_size": 500})
    assert response.status_code == 200, response.content
    body = response.json()
    results = body["results"] if isinstance(body, dict) else body
    assert row.pk not in {item["id"] for item in results}
    assert client.get(endpoint.detail_url(row.pk)).status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_filter_choices_hide_other_projects_values(world, lead, endpoint):
    class Request:
        user = lead
        query_params = {}

    filterset = endpoint.viewset.filterset_class(
        data={}, queryset=endpoint.model.objects.none(), request=Request()
    )
    outside: dict = {}
    for name in filterset.filters:
        queryset = getattr(filterset.form.fields[name], "queryset", None)
        if queryset is None or queryset.model not in NARROWED:
            continue
        if queryset.model not in outside:
            outside[queryset.model] = _outside(world, lead, queryset.model).pk
        assert not queryset.filter(pk=outside[queryset.model]).exists(), name


def test_the_lead_still_sees_their_own_project(world, lead):
    client = _client(lead)
    projects = client.get("/api/v1/projects/").json()["results"]
    assert [p["name"] for p in projects] == ["Lead project"]
    items = client.get(
        "/api/v1/cost-line-items/",
        {
            "charge_period_after": "2026-01-01T00:00:00Z",
            "charge_period_before": "2026-02-01T00:00:00Z",
        },
    ).json()["results"]
    assert [i["service_name"] for i in items] == ["Lead service"]
    assert [i["x_project_id"] for i in items] == [lead.project.pk]


def test_cost_query_totals_and_choices_cover_only_the_leads_project(world, lead):
    from providers.models import CostLineItem

    for label in ("providers.costlineitem", "providers.costdailysummary"):
        _outside(world, lead, apps.get_model(label))
    client = _client(lead)
    params = {"tenant": world.a.pk, "start": "2026-01-01", "end": "2026-01-31"}

    total = client.get("/api/v1/cost-query/", params).json()
    by_service = client.get("/api/v1/cost-query/", {**params, "group_by": "service"}).json()
    by_project = client.get("/api/v1/cost-query/", {**params, "group_by": "project"}).json()
    other_filter = client.get(
        "/api/v1/cost-query/", {**params, "service": ["Lead service", "Compute Cloud"]}
    ).json()

    assert total["totals"]["billed_cost"] == "7.77"
    assert [r["service"] for r in by_service["rows"]] == ["Lead service"]
    assert [(r["project"], r["project_id"]) for r in by_project["rows"]] == [
        ("Lead project", lead.project.pk)
    ]
    assert other_filter["totals"]["billed_cost"] == "7.77"
    everything = CostLineItem.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))["s"]
    assert everything > Decimal("7.77")
    unlimited = _client(world.owner_a).get("/api/v1/cost-query/", params).json()
    assert Decimal(unlimited["totals"]["billed_cost"]) > Decimal("7.77")


def test_the_focus_export_holds_only_the_leads_rows(world, lead):
    _outside(world, lead, apps.get_model("providers.costlineitem"))
    response = _client(lead).get(
        "/api/v1/cost-export/", {"tenant": world.a.pk, "period": "2026-01"}
    )
    assert response.status_code == 200
    assert response["X-Focus-Rows"] == "1"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["ServiceName"], r["x_Project"], r["x_BusinessUnit"]) for r in rows] == [
        ("Lead service", "Lead project", "Lead BU")
    ]
    unlimited = _client(world.owner_a).get(
        "/api/v1/cost-export/", {"tenant": world.a.pk, "period": "2026-01"}
    )
    assert int(unlimited["X-Focus-Rows"]) > 1
