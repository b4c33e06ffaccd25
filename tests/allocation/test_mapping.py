"""The mapping engine: each condition, first-match order per output, the hierarchy, tag
normalisation, virtual tags — applied by the import hook to exactly the rows just loaded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from allocation.services.tags import tag_alias_create, virtual_tag_create
from providers.models import CostDaily, CostDailySummary, CostLineItem
from tests.allocation.conftest import JAN, cond, focus_row, load
from tests.factories import ConnectionFactory, resource_row


def _rows(tenant) -> dict[str, CostLineItem]:
    return {r.charge_description: r for r in CostLineItem.objects.filter(tenant=tenant)}


def _row(service, billed="1.00", **fields):
    row = focus_row(JAN, service, billed, **fields)
    return row


def _load(world, *rows):
    return load(world.a, list(rows))


@pytest.mark.parametrize(
    ("condition", "matching"),
    [
        (cond("provider", "in", "Yandex Cloud"), {"A", "B", "C"}),
        (cond("provider", "not_in", "Yandex Cloud"), {"D"}),
        (cond("service", "in", "Compute", "Storage"), {"A", "B"}),
        (cond("service", "not_in", "Compute"), {"B", "C", "D"}),
        (cond("sub_account", "in", "folder-web"), {"C"}),  # matches the id or the name
        (cond("region", "in", "ru-central1"), {"A", "B", "D"}),
        (cond("resource_name", "regex", "^web-"), {"A"}),
        (cond("resource_name", "regex", "^WEB-", ignore_case=True), {"A"}),
        (cond("resource_name", "not_regex", "^web-"), {"B", "C", "D"}),  # no name: no match
        (cond("resource_id", "in", "res-db"), {"B"}),
        (cond("charge_category", "in", "Tax"), {"D"}),
        (cond("tag", "exists", key="team"), {"A", "C"}),
        (cond("tag", "missing", key="team"), {"B", "D"}),  # absent, or present but empty
        (cond("tag", "in", "web", key="team"), {"A"}),
        (cond("tag", "not_in", "web", key="team"), {"B", "C", "D"}),
        (cond("tag", "regex", "^da", key="team"), {"C"}),
    ],
    ids=lambda v: str(v) if not isinstance(v, set) else "",
)
def test_each_condition_matches_exactly_its_rows(world, dims, rule, condition, matching):
    rule("r", [condition], project=dims.web)
    _load(
        world,
        _row("Compute", resource="res-web", tags={"team": "web"})
        | {"charge_description": "A", "resource_name": "web-1"},
        _row("Storage", resource="res-db", tags={"team": ""})
        | {"charge_description": "B", "resource_name": "db-1"},
        _row("Network", region="ru-central2", sub_account="folder-web", tags={"team": "data"})
        | {"charge_description": "C"},
        _row("VAT", provider="Other", category="Tax") | {"charge_description": "D"},
    )
    mapped = {name for name, r in _rows(world.a).items() if r.x_project_id == dims.web.pk}
    assert mapped == matching


def test_conditions_of_one_rule_must_all_hold(world, dims, rule):
    rule(
        "both",
        [cond("service", "in", "Compute"), cond("tag", "in", "web", key="team")],
        project=dims.web,
    )
    _load(
        world,
        _row("Compute", tags={"team": "web"}) | {"charge_description": "yes"},
        _row("Compute", tags={"team": "data"}) | {"charge_description": "no tag"},
        _row("Storage", tags={"team": "web"}) | {"charge_description": "no service"},
    )
    rows = _rows(world.a)
    assert rows["yes"].x_project_id == dims.web.pk
    assert rows["no tag"].x_project_id is None and rows["no service"].x_project_id is None


def test_the_first_matching_rule_wins_and_order_is_position(world, dims, rule):
    rule("all compute to infra", [cond("service", "in", "Compute")], project=dims.infra)
    rule("web team to web", [cond("tag", "in", "web", key="team")], project=dims.web, position=1)
    _load(
        world,
        _row("Compute", tags={"team": "web"}) | {"charge_description": "both"},
        _row("Compute") | {"charge_description": "compute"},
    )
    rows = _rows(world.a)
    assert rows["both"].x_project_id == dims.web.pk  # moved to position 1: tried first
    assert rows["compute"].x_project_id == dims.infra.pk


def test_outputs_are_decided_separately(world, dims, rule):
    # An environment rule before a project rule does not stop the project rule.
    rule("prod env", [cond("tag", "in", "prod", key="env")], environment=dims.prod)
    rule("cost center", [], cost_center=dims.rnd)
    rule("web", [cond("service", "in", "Compute")], project=dims.web)
    rule("data, later", [cond("service", "in", "Compute")], project=dims.data, environment=dims.dev)
    _load(world, _row("Compute", tags={"env": "prod"}) | {"charge_description": "x"})
    row = _rows(world.a)["x"]
    assert (row.x_environment_id, row.x_project_id, row.x_cost_center_id) == (
        dims.prod.pk,
        dims.web.pk,
        dims.rnd.pk,
    )


def test_the_hierarchy_is_completed_and_stays_consistent(world, dims, rule):
    rule("checkout", [cond("tag", "in", "checkout", key="app")], feature=dims.checkout)
    rule("platform bu only", [], business_unit=dims.platform)
    _load(
        world,
        _row("Compute", tags={"app": "checkout"}) | {"charge_description": "feature"},
        _row("Storage") | {"charge_description": "bu"},
    )
    rows = _rows(world.a)
    feature = rows["feature"]
    assert (feature.x_business_unit_id, feature.x_project_id, feature.x_feature_id) == (
        dims.digital.pk,
        dims.web.pk,
        dims.checkout.pk,
    )
    bu = rows["bu"]
    assert (bu.x_business_unit_id, bu.x_project_id, bu.x_feature_id) == (
        dims.platform.pk,
        None,
        None,
    )


def test_tag_conditions_see_keys_and_values_as_aliases_normalise_them(world, dims, rule):
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="environment", canonical="env")
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="Env", canonical="env")
    tag_alias_create(
        actor=None, tenant=world.a, kind="value", key="env", alias="production", canonical="prod"
    )
    rule("prod", [cond("tag", "in", "prod", key="env")], environment=dims.prod)
    _load(
        world,
        _row("A", tags={"Env": "production"}) | {"charge_description": "Env=production"},
        _row("B", tags={"ENVIRONMENT": "PROD"}) | {"charge_description": "ENVIRONMENT=PROD"},
        _row("C", tags={"env": "prod"}) | {"charge_description": "env=prod"},
        _row("D", tags={"env": "production-like"}) | {"charge_description": "other value"},
        _row("E", tags={"envy": "prod"}) | {"charge_description": "other key"},
    )
    prod = {name for name, r in _rows(world.a).items() if r.x_environment_id == dims.prod.pk}
    assert prod == {"Env=production", "ENVIRONMENT=PROD", "env=prod"}


def test_a_condition_written_with_an_alias_means_its_canonical_key(world, dims, rule):
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="environment", canonical="env")
    rule("prod", [cond("tag", "in", "prod", key="environment")], environment=dims.prod)
    _load(world, _row("A", tags={"env": "prod"}) | {"charge_description": "x"})
    assert _rows(world.a)["x"].x_environment_id == dims.prod.pk


def test_virtual_tags_take_values_or_copy_a_tag_and_fall_through(world, dims, rule):
    team = virtual_tag_create(actor=None, tenant=world.a, key="team")
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="Team", canonical="team")
    rule("from tag", [], virtual_tag=team, virtual_tag_from_key="team")
    rule(
        "untagged data folder",
        [cond("sub_account", "in", "folder-data")],
        virtual_tag=team,
        virtual_tag_value="data",
    )
    _load(
        world,
        _row("A", tags={"Team": "web"}) | {"charge_description": "tagged"},
        _row("B", sub_account="folder-data") | {"charge_description": "untagged"},
        _row("C") | {"charge_description": "nothing"},
    )
    rows = _rows(world.a)
    key = str(team.pk)
    assert rows["tagged"].x_virtual_tags == {key: "web"}
    assert rows["untagged"].x_virtual_tags == {key: "data"}  # the copying rule fell through
    assert rows["nothing"].x_virtual_tags is None


def test_creator_reads_the_linked_resources_properties(world, dims, rule):
    connection = ConnectionFactory(tenant=world.a)
    resource_row(connection, 1, properties={"created_by": "alice@corp"})
    resource_row(connection, 2, properties={})
    rule("alice's", [cond("creator", "in", "alice@corp")], project=dims.data)
    _load(
        world,
        _row("A", resource="id-1") | {"charge_description": "alice"},
        _row("B", resource="id-2") | {"charge_description": "nobody"},
    )
    rows = _rows(world.a)
    assert rows["alice"].x_project_id == dims.data.pk
    assert rows["nobody"].x_project_id is None


def test_disabled_rules_do_nothing(world, dims, rule):
    from allocation.services.rules import tag_rule_update

    r = rule("web", [], project=dims.web)
    tag_rule_update(actor=None, rule=r, enabled=False)
    _load(world, _row("A") | {"charge_description": "x"})
    assert _rows(world.a)["x"].x_project_id is None


def test_the_hook_maps_only_the_rows_of_its_import_and_never_amounts(world, dims, rule):
    before = _load(world, _row("Compute", "10.00") | {"charge_description": "earlier"})
    rule("compute", [cond("service", "in", "Compute")], project=dims.web)
    _load(world, _row("Compute", "2.50") | {"charge_description": "later"})
    rows = _rows(world.a)
    assert rows["earlier"].x_project_id is None  # a later import does not touch older rows
    assert rows["later"].x_project_id == dims.web.pk
    assert before.pk != rows["later"].x_import_run_id
    total = Decimal("12.50")
    assert CostLineItem.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))["s"] == total
    assert (
        CostDailySummary.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))["s"]
        == total
    )
    # The rollups were built after the hook: they carry the mapping.
    assert CostDaily.objects.get(tenant=world.a, x_project_id=dims.web.pk).billed_cost == Decimal(
        "2.50"
    )


def test_other_tenants_rules_never_apply(world, dims, rule):
    from allocation.services.dimensions import dimension_create

    bu = dimension_create(actor=None, kind="business_unit", tenant=world.b, name="B unit")
    rule("b's", [], tenant=world.b, business_unit=bu)
    _load(world, _row("A") | {"charge_description": "x"})
    assert _rows(world.a)["x"].x_business_unit_id is None
