"""A project lead: a member limited to one project sees only that project's costs, resources and
reports — in the API, the portal and exports — while grants still add up (an unrestricted grant
on an ancestor wins) and a limited grant never reaches sub-tenants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from allocation.selectors import tag_compliance, tag_discovery
from allocation.services.tags import required_tag_create
from core.access import dimension_scope_for
from core.capabilities import Capability, Role
from core.models import Membership
from core.services.memberships import membership_scope_set, membership_update
from providers.models import CostLineItem, Resource
from tests.allocation.conftest import JAN, cond, focus_row, load
from tests.factories import ConnectionFactory, TenantFactory, member, resource_row


@pytest.fixture
def costs(world, dims, rule):
    """Compute on vm-1 → Web (10.00), Storage on vm-2 → Data (2.50), Network untagged (1.00)."""
    connection = ConnectionFactory(tenant=world.a)
    resource_row(connection, 1, labels={"team": "web"})
    resource_row(connection, 2, labels={"team": "data"})
    resource_row(connection, 3, labels={})
    rule("web", [cond("tag", "in", "web", key="team")], project=dims.web)
    rule("data", [cond("tag", "in", "data", key="team")], project=dims.data)
    load(
        world.a,
        [
            focus_row(JAN, "Compute", "10.00", tags={"team": "web"}, resource="id-1"),
            focus_row(JAN, "Storage", "2.50", tags={"team": "data"}, resource="id-2"),
            focus_row(JAN, "Network", "1.00", resource="id-3"),
        ],
    )


def _limit(user, tenant, scope):
    membership = Membership.objects.get(user=user, tenant=tenant)
    return membership_scope_set(actor=None, membership=membership, dimension_scope=scope)


@pytest.fixture
def lead(world, dims, costs):
    user = member(world.a, Role.VIEWER, username="web-lead")
    _limit(user, world.a, {"project": [dims.web.pk]})
    return user


def test_the_lead_sees_only_their_projects_rows_and_resources(world, dims, lead):
    assert list(
        CostLineItem.objects.for_user(lead, "view").values_list("service_name", flat=True)
    ) == ["Compute"]
    assert list(Resource.objects.for_user(lead, "view").values_list("name", flat=True)) == ["vm-1"]
    assert Resource.objects.for_user(world.owner_a, "view").count() == 3
    assert dimension_scope_for(lead, world.a, Capability.VIEW_COSTS) == {"project": [dims.web.pk]}
    assert dimension_scope_for(world.owner_a, world.a, Capability.VIEW_COSTS) is None


def test_a_limit_on_several_dimensions_narrows_by_each(world, dims, costs, rule):
    user = member(world.a, Role.VIEWER)
    _limit(user, world.a, {"project": [dims.web.pk, dims.data.pk], "environment": [dims.prod.pk]})
    assert not CostLineItem.objects.for_user(user, "view").exists()  # no row has an environment
    _limit(user, world.a, {"project": [dims.web.pk, dims.data.pk]})
    assert CostLineItem.objects.for_user(user, "view").count() == 2


def test_an_unrestricted_grant_on_an_ancestor_wins(world, dims, costs):
    operator = member(world.msp, Role.OPERATOR)
    Membership.objects.create(tenant=world.a, user=operator, role=Role.VIEWER)
    _limit(operator, world.a, {"project": [dims.web.pk]})
    assert CostLineItem.objects.for_user(operator, "view").count() == 3
    assert dimension_scope_for(operator, world.a, Capability.VIEW_COSTS) is None


def test_a_limited_grant_does_not_reach_sub_tenants(world, dims, lead):
    child = TenantFactory(parent=world.a, name="Alpha child")
    load(child, [focus_row(JAN, "Compute", "99.00")])
    owner = member(world.a, Role.VIEWER)  # unlimited: the grant is inherited by the child
    assert CostLineItem.objects.for_user(owner, "view").filter(tenant=child).count() == 1
    assert not CostLineItem.objects.for_user(lead, "view").filter(tenant=child).exists()
    from core.models import Tenant

    assert list(Tenant.objects.for_user(lead, "view")) == [world.a]


def test_the_api_shows_the_lead_their_project_only(world, dims, lead, api_as):
    client = api_as(lead)
    query = client.get(
        "/api/v1/cost-query/",
        {"start": "2026-01-01", "end": "2026-01-31", "group_by": "business_unit,project"},
    ).json()
    assert [(r["business_unit"], r["project"]) for r in query["rows"]] == [("Digital", "Web")]
    assert query["totals"]["billed_cost"] == "10.00"
    assert [p["name"] for p in client.get("/api/v1/projects/").json()["results"]] == ["Web"]
    assert [b["name"] for b in client.get("/api/v1/business-units/").json()["results"]] == [
        "Digital"
    ]
    assert [f["name"] for f in client.get("/api/v1/features/").json()["results"]] == ["Checkout"]
    assert len(client.get("/api/v1/environments/").json()["results"]) == 2  # not narrowed
    assert [r["name"] for r in client.get("/api/v1/resources/").json()["results"]] == ["vm-1"]
    assert client.get("/api/v1/tag-rules/").json()["results"] == []
    assert client.get("/api/v1/import-runs/").json()["results"] == []
    discovery = client.get(
        "/api/v1/tag-discovery/", {"start": "2026-01-01", "end": "2026-01-31", "key": "team"}
    ).json()
    assert [v["value"] for v in discovery["values"]] == ["web"]
    assert discovery["total"] == {"line_items": 1, "cost": {"RUB": "10.00"}, "resources": 1}


def test_the_portal_shows_the_lead_their_project_only(world, dims, lead, client):
    client.force_login(lead)
    costs = client.get(reverse("portal:costs"), {"month": "2026-01"})
    assert [r["service"] for r in costs.context["result"].rows] == ["Compute"]
    assert costs.context["result"].totals["billed_cost"] == Decimal("10.00")
    overview = client.get(reverse("portal:allocation"), {"month": "2026-01", "by": "project"})
    html = overview.content.decode()
    assert [r["project"] for r in overview.context["result"].rows] == ["Web"]
    import re

    names = set(re.findall(r"<li>([^<]+?)(?: <span|</li>)", html))
    assert {"Web", "Digital", "Checkout"} <= names
    assert not names & {"Data", "Infra", "Platform"}
    assert [p.name for p in overview.context["projects"]] == ["Web"]
    resources = client.get(reverse("portal:resources")).content.decode()
    assert "vm-1" in resources and "vm-2" not in resources
    tags = client.get(reverse("portal:allocation_tags"), {"month": "2026-01", "key": "team"})
    assert [v["value"] for v in tags.context["discovery"].values] == ["web"]
    access = client.get(reverse("portal:allocation_access")).content.decode()
    assert "Your own access is limited" in access


def test_reports_cover_the_leads_rows(world, dims, lead):
    required_tag_create(actor=None, tenant=world.a, key="owner")
    first, last = JAN.replace(day=1), JAN.replace(day=31)
    report = tag_compliance(user=lead, tenant=world.a, first=first, last=last)
    assert report.total.cost == {"RUB": Decimal("10.00")}
    assert report.total.resources == 1
    found = tag_discovery(user=lead, tenant=world.a, first=first, last=last)
    assert [k.key for k in found.keys] == ["team"]


def test_limits_are_checked(world, dims, lead):
    viewer = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    owner = Membership.objects.get(user=world.owner_a, tenant=world.a)
    cases = [
        ({"project": [dims.web.pk + 10_000]}, "no such value"),
        ({"planet": [1]}, "Unknown dimension"),
        ({"project": []}, "non-empty list"),
        ({"project": ["1"]}, "whole numbers"),
        (["project"], "Give an object"),
    ]
    for scope, message in cases:
        with pytest.raises(ValidationError) as refused:
            membership_scope_set(actor=world.owner_a, membership=viewer, dimension_scope=scope)
        assert message in str(refused.value.message_dict["dimension_scope"])
    from allocation.services.dimensions import dimension_create

    other = dimension_create(actor=None, kind="business_unit", tenant=world.b, name="B's")
    with pytest.raises(ValidationError):
        membership_scope_set(
            actor=world.owner_a, membership=viewer, dimension_scope={"business_unit": [other.pk]}
        )
    with pytest.raises(ValidationError):  # owners see the whole tenant
        membership_scope_set(
            actor=world.owner_a, membership=owner, dimension_scope={"project": [dims.web.pk]}
        )
    with pytest.raises(PermissionDenied):  # viewers manage no members
        membership_scope_set(actor=world.viewer_a, membership=viewer, dimension_scope={})
    with pytest.raises(ValidationError):  # a limited member must lose the limit to be promoted
        membership_update(
            actor=world.owner_a,
            membership=Membership.objects.get(user=lead, tenant=world.a),
            role=Role.OWNER,
        )
    viewer.refresh_from_db()
    assert viewer.dimension_scope == {}


def test_a_limited_manager_cannot_limit_others_nor_change_settings(world, dims, costs):
    from allocation.services.dimensions import dimension_create

    finance = member(world.a, Role.FINANCE)
    _limit(finance, world.a, {"project": [dims.web.pk]})
    with pytest.raises(PermissionDenied):
        dimension_create(actor=finance, kind="environment", tenant=world.a, name="qa")
    admin = member(world.a, Role.ADMIN)
    Membership.objects.filter(user=admin, tenant=world.a).update(
        dimension_scope={"project": [dims.web.pk]}
    )
    viewer = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    with pytest.raises(PermissionDenied):
        membership_scope_set(actor=admin, membership=viewer, dimension_scope={})


def test_the_membership_api_sets_and_lifts_limits(world, dims, api_as):
    viewer = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    client = api_as(world.owner_a)
    url = f"/api/v1/memberships/{viewer.pk}/"

    limited = client.patch(url, {"dimension_scope": {"project": [dims.web.pk]}}, format="json")
    assert limited.status_code == 200, limited.content
    assert limited.json()["dimension_scope"] == {"project": [dims.web.pk]}
    bad = client.patch(url, {"dimension_scope": {"project": [0]}}, format="json")
    assert bad.status_code == 400 and "dimension_scope" in bad.json()
    lifted = client.patch(url, {"dimension_scope": {}}, format="json")
    assert lifted.json()["dimension_scope"] == {}
    from core.models import AuditEvent

    events = AuditEvent.objects.filter(event_type="membership.scope_changed", tenant=world.a)
    assert [e.after["dimension_scope"] for e in events.order_by("seq")] == [
        {"project": [dims.web.pk]},
        {},
    ]


def test_the_portal_access_page_sets_a_limit(world, dims, client):
    client.force_login(world.owner_a)
    viewer = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    page = client.get(reverse("portal:allocation_access"))
    assert page.status_code == 200
    response = client.post(
        reverse("portal:allocation_access_set", kwargs={"pk": viewer.pk}),
        {f"m{viewer.pk}-project": [dims.web.pk]},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.dimension_scope == {"project": [dims.web.pk]}
    html = client.get(reverse("portal:allocation_access")).content.decode()
    assert "Project: Web" in html
