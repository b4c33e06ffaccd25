"""The allocation API end to end, and the names the cost query and the FOCUS export show for
dimension values and virtual tags."""

from __future__ import annotations

import csv
import io

import pytest

from allocation.models import MappingRun, Project, TagRule
from allocation.services.tags import virtual_tag_create
from providers.costs import export
from providers.focus import FocusReader
from providers.focus.checker import check_focus
from tests.allocation.conftest import JAN, cond, focus_row, load


@pytest.fixture
def owner(world, api_as):
    return api_as(world.owner_a)


def test_dimensions_are_managed_through_the_api(world, dims, owner):
    created = owner.post(
        "/api/v1/projects/",
        {
            "tenant": world.a.pk,
            "name": "Mobile",
            "business_unit": dims.digital.pk,
            "owner": world.viewer_a.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["owner_name"], body["business_unit"]) == (
        "Mobile",
        "viewer-a",
        dims.digital.pk,
    )
    url = f"/api/v1/projects/{body['id']}/"
    moved = owner.patch(url, {"business_unit": dims.platform.pk}, format="json")
    assert moved.json()["business_unit"] == dims.platform.pk
    listed = owner.get("/api/v1/projects/", {"business_unit": dims.platform.pk}).json()
    assert {p["name"] for p in listed["results"]} == {"Infra", "Mobile"}
    assert owner.delete(url).status_code == 204
    assert not Project.objects.filter(name="Mobile").exists()


def test_bad_dimension_input_names_the_field(world, dims, owner):
    outsider = owner.post(
        "/api/v1/environments/",
        {"tenant": world.a.pk, "name": "qa", "owner": world.owner_b.pk},
        format="json",
    )
    assert outsider.status_code == 400 and "owner" in outsider.json()
    duplicate = owner.post(
        "/api/v1/environments/", {"tenant": world.a.pk, "name": "PROD"}, format="json"
    )
    assert duplicate.status_code == 400, duplicate.content  # names are unique, any case
    referenced = owner.delete(f"/api/v1/business-units/{dims.digital.pk}/")
    assert referenced.status_code == 400
    assert "values under it exist" in str(referenced.json())


def test_values_in_use_cannot_be_deleted(world, dims, rule, owner):
    rule("web", [cond("service", "in", "Compute")], project=dims.web)
    load(world.a, [focus_row(JAN, "Compute", "1.00")])
    response = owner.delete(f"/api/v1/features/{dims.checkout.pk}/")
    assert response.status_code == 204  # nothing names the feature
    blocked = owner.delete(f"/api/v1/projects/{dims.web.pk}/")
    assert blocked.status_code == 400
    message = str(blocked.json())
    assert "1 mapping rule(s) set it" in message and "cost rows still carry it" in message


def test_rules_are_managed_and_reordered_through_the_api(world, dims, owner):
    load(world.a, [focus_row(JAN, "Compute", "1.00")])  # history the changes re-apply to

    def create(name, **fields):
        response = owner.post(
            "/api/v1/tag-rules/",
            {"tenant": world.a.pk, "name": name, "conditions": [], **fields},
            format="json",
        )
        assert response.status_code == 201, response.content
        return response.json()

    first = create("first", project=dims.web.pk)
    second = create("second", environment=dims.prod.pk)
    third = create("third", cost_center=dims.rnd.pk, position=1)
    assert [r["name"] for r in owner.get("/api/v1/tag-rules/").json()["results"]] == [
        "third",
        "first",
        "second",
    ]
    owner.patch(f"/api/v1/tag-rules/{second['id']}/", {"position": 1}, format="json")
    assert list(TagRule.objects.order_by("position").values_list("name", "position")) == [
        ("second", 1),
        ("third", 2),
        ("first", 3),
    ]
    assert owner.delete(f"/api/v1/tag-rules/{third['id']}/").status_code == 204
    assert list(TagRule.objects.order_by("position").values_list("position", flat=True)) == [1, 2]
    assert first["conditions_text"] == []
    # One pending run absorbed every change.
    assert MappingRun.objects.filter(tenant=world.a, status="pending").count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"conditions": [{"field": "service", "op": "in", "values": []}]}, "conditions"),
        ({"conditions": [{"field": "service", "op": "regex", "value": "(?<=x"}]}, "conditions"),
        ({"conditions": [{"field": "tag", "op": "in", "values": ["x"]}]}, "conditions"),
        ({"conditions": [{"field": "connection", "op": "in", "values": [999999]}]}, "conditions"),
        ({"project": None}, "non_field_errors"),
        ({"virtual_tag_value": "x"}, "virtual_tag"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(world, dims, owner, fields, field):
    payload = {"tenant": world.a.pk, "name": "r", "conditions": [], "project": dims.web.pk}
    response = owner.post("/api/v1/tag-rules/", {**payload, **fields}, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not TagRule.objects.exists()


def test_inconsistent_targets_are_refused(world, dims, owner):
    response = owner.post(
        "/api/v1/tag-rules/",
        {
            "tenant": world.a.pk,
            "name": "r",
            "conditions": [],
            "project": dims.infra.pk,
            "feature": dims.checkout.pk,
        },
        format="json",
    )
    assert response.status_code == 400 and "feature" in response.json()


@pytest.fixture
def mapped(world, dims, rule):
    team = virtual_tag_create(actor=None, tenant=world.a, key="team")
    rule("checkout", [cond("tag", "in", "checkout", key="app")], feature=dims.checkout)
    rule("prod", [cond("tag", "in", "prod", key="env")], environment=dims.prod)
    rule("team", [], virtual_tag=team, virtual_tag_from_key="team")
    rule(
        "data folder",
        [cond("sub_account", "in", "folder-data")],
        virtual_tag=team,
        virtual_tag_value="data",
    )
    load(
        world.a,
        [
            focus_row(
                JAN, "Compute", "3.00", tags={"app": "checkout", "env": "prod", "team": "web"}
            ),
            focus_row(JAN, "Storage", "1.50", sub_account="folder-data"),
            focus_row(JAN, "Network", "0.25"),
        ],
    )
    return team


def test_the_cost_query_names_dimension_values_and_groups_by_virtual_tags(
    world, dims, mapped, owner
):
    params = {"start": "2026-01-01", "end": "2026-01-31"}
    by_feature = owner.get(
        "/api/v1/cost-query/", {**params, "group_by": "business_unit,project,feature,environment"}
    ).json()
    assert sorted(
        (r["business_unit"], r["project"], r["feature"], r["environment"], r["billed_cost"])
        for r in by_feature["rows"]
        if r["project"]
    ) == [("Digital", "Web", "Checkout", "prod", "3.00")]
    row = next(r for r in by_feature["rows"] if r["project"])
    assert (row["project_id"], row["feature_id"]) == (dims.web.pk, dims.checkout.pk)
    unallocated = [r for r in by_feature["rows"] if r["project"] is None]
    assert [r["billed_cost"] for r in unallocated] == ["1.75"]

    by_team = owner.get("/api/v1/cost-query/", {**params, "group_by": "vtag:team"}).json()
    assert {r["vtag:team"]: r["billed_cost"] for r in by_team["rows"]} == {
        "web": "3.00",
        "data": "1.50",
        None: "0.25",
    }
    filtered = owner.get("/api/v1/cost-query/", {**params, "vtag": "team:data"}).json()
    assert filtered["totals"]["billed_cost"] == "1.50"
    unknown = owner.get("/api/v1/cost-query/", {**params, "group_by": "vtag:nope"})
    assert unknown.status_code == 400 and "group_by" in unknown.json()
    bad = owner.get("/api/v1/cost-query/", {**params, "vtag": "nokey"})
    assert bad.status_code == 400 and "vtag" in bad.json()


def test_the_focus_export_adds_named_columns(world, dims, mapped, tmp_path):
    path = tmp_path / "jan.csv"
    export.focus_export(actor=None, tenant=world.a, period="2026-01", fmt="csv", target=path)

    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    compute = next(r for r in rows if r["ServiceName"] == "Compute")
    assert (
        compute["x_BusinessUnit"],
        compute["x_Project"],
        compute["x_Feature"],
        compute["x_Environment"],
        compute["x_ProjectId"],
    ) == ("Digital", "Web", "Checkout", "prod", str(dims.web.pk))
    assert compute["x_VirtualTags"] == '{"team":"web"}'
    network = next(r for r in rows if r["ServiceName"] == "Network")
    assert (network["x_Project"], network["x_VirtualTags"]) == ("", "")
    assert "x_CostCenter" not in rows[0]  # no row has one


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_allocated_export_passes_our_strict_checker(world, dims, rule, tmp_path, fmt):
    from tests.factories import ImportRunFactory

    team = virtual_tag_create(actor=None, tenant=world.a, key="team")
    rule(
        "all",
        [],
        feature=dims.checkout,
        cost_center=dims.rnd,
        virtual_tag=team,
        virtual_tag_value="web",
    )
    ImportRunFactory(tenant=world.a, rows=40, seed=3)
    path = tmp_path / f"jan.{fmt}"

    export.focus_export(actor=None, tenant=world.a, period="2026-01", fmt=fmt, target=path)

    report = check_focus(path, strict=True)
    assert report.passed, report.format_text()
    with FocusReader(path) as reader:
        header = [h.output_name for h in reader.columns]
        rows = list(reader)
        assert not reader.errors
    assert {"x_BusinessUnit", "x_Project", "x_Feature", "x_CostCenter", "x_VirtualTags"} <= set(
        header
    )
    assert len(rows) == 40


def test_mapping_runs_can_be_requested(world, owner):
    response = owner.post(
        "/api/v1/mapping-runs/",
        {"tenant": world.a.pk, "first_day": "2026-01-01", "last_day": "2026-01-31"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"
    bad = owner.post(
        "/api/v1/mapping-runs/", {"tenant": world.a.pk, "first_day": "2026-01-01"}, format="json"
    )
    assert bad.status_code == 400 and "last_day" in bad.json()
