"""Tag discovery and the tagging-policy compliance report: keys and values as aliases normalise
them, with exact counts and costs, top offenders and the month-by-month trend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from allocation.selectors import tag_compliance, tag_discovery
from allocation.services.tags import required_tag_create, tag_alias_create
from tests.allocation.conftest import JAN, focus_row, load
from tests.factories import ConnectionFactory, resource_row

DEC = dt.date(2025, 12, 10)


@pytest.fixture
def tagged(world):
    connection = ConnectionFactory(tenant=world.a)
    resource_row(connection, 1, labels={"Env": "Production", "team": "web"})
    resource_row(connection, 2, labels={"environment": "prod"})
    resource_row(connection, 3, labels={"team": ""})
    resource_row(
        connection, 4, labels={"team": "data"}, deleted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    load(
        world.a,
        [
            focus_row(
                JAN, "Compute", "10.00", tags={"Env": "Production", "team": "web"}, resource="id-1"
            ),
            focus_row(JAN, "Compute", "5.00", tags={"environment": "prod"}, resource="id-2"),
            focus_row(JAN, "Storage", "2.50", tags={"env": "dev"}, resource="id-3"),
            focus_row(JAN, "Network", "1.25", resource="id-3"),
            focus_row(DEC, "Compute", "4.00", tags={"env": "prod"}, resource="id-1"),
            focus_row(DEC, "Storage", "6.00", resource="id-3"),
        ],
    )
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="Env", canonical="env")
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="environment", canonical="env")
    tag_alias_create(
        actor=None, tenant=world.a, kind="value", key="env", alias="production", canonical="prod"
    )


def _january(**kwargs):
    return {"first": JAN.replace(day=1), "last": JAN.replace(day=31), **kwargs}


def test_discovery_counts_normalised_keys_with_their_cost(world, tagged):
    found = tag_discovery(user=world.owner_a, tenant=world.a, **_january())

    assert (found.total.line_items, found.total.cost, found.total.resources) == (
        4,
        {"RUB": Decimal("18.75")},
        3,  # live resources only
    )
    keys = {k.key: k for k in found.keys}
    assert set(keys) == {"env", "team"}
    env = keys["env"]
    assert (env.line_items, env.cost, env.resources) == (3, {"RUB": Decimal("17.50")}, 2)
    assert env.spellings == ["Env", "env", "environment"]
    assert env.values == 2  # prod (Production, prod) and dev
    team = keys["team"]
    assert (team.line_items, team.cost, team.resources) == (1, {"RUB": Decimal("10.00")}, 1)


def test_discovery_lists_a_keys_values_most_costly_first(world, tagged):
    found = tag_discovery(user=world.owner_a, tenant=world.a, **_january(key="Environment"))

    assert found.key == "env"
    assert [(v["value"], v["line_items"], v["cost"], v["resources"]) for v in found.values] == [
        ("prod", 2, {"RUB": Decimal("15.00")}, 2),
        ("dev", 1, {"RUB": Decimal("2.50")}, 0),
    ]


def test_compliance_reports_what_misses_each_required_key(world, tagged):
    required_tag_create(actor=None, tenant=world.a, key="env", description="Where it runs")
    required_tag_create(actor=None, tenant=world.a, key="team")

    report = tag_compliance(user=world.owner_a, tenant=world.a, **_january())

    assert report.total.cost == {"RUB": Decimal("18.75")}
    env, team = report.keys
    assert (env.key, env.description) == ("env", "Where it runs")
    assert (env.missing.line_items, env.missing.cost, env.missing.resources) == (
        1,
        {"RUB": Decimal("1.25")},
        1,  # vm-3 has only an empty team label
    )
    assert env.cost_share(report.total) == {"RUB": Decimal("1.25") / Decimal("18.75")}
    assert (team.missing.line_items, team.missing.cost, team.missing.resources) == (
        3,
        {"RUB": Decimal("8.75")},
        2,
    )
    assert [(o["resource_id"], o["name"], o["cost"]) for o in team.offenders] == [
        ("id-2", "vm-2", Decimal("5.00")),
        ("id-3", "vm-3", Decimal("3.75")),
    ]
    assert env.trend == [
        {"month": "2025-12", "cost": {"RUB": Decimal("6.00")}, "total": {"RUB": Decimal("10.00")}},
        {"month": "2026-01", "cost": {"RUB": Decimal("1.25")}, "total": {"RUB": Decimal("18.75")}},
    ]


def test_the_reports_api_answers_in_exact_decimal_strings(world, tagged, api_as):
    required_tag_create(actor=None, tenant=world.a, key="env")
    client = api_as(world.owner_a)
    params = {"start": "2026-01-01", "end": "2026-01-31"}

    discovery = client.get("/api/v1/tag-discovery/", {**params, "key": "env"}).json()
    compliance = client.get("/api/v1/tag-compliance/", params).json()

    assert discovery["values"][0] == {
        "value": "prod",
        "line_items": 2,
        "cost": {"RUB": "15.00"},
        "resources": 2,
    }
    [env] = compliance["keys"]
    assert env["missing"] == {"line_items": 1, "cost": {"RUB": "1.25"}, "resources": 1}
    assert env["resource_share_missing"] == "0.333333"
    assert client.get("/api/v1/tag-discovery/", {"start": "2026-01-01"}).status_code == 400
    assert client.get("/api/v1/tag-discovery/", {**params, "tenant": world.b.pk}).status_code == 400
    assert (
        api_as(world.owner_b)
        .get("/api/v1/tag-compliance/", {**params, "tenant": world.a.slug})
        .status_code
        == 400
    )


def test_alias_rules_refuse_chains_and_duplicates(world):
    tag_alias_create(actor=None, tenant=world.a, kind="key", alias="environment", canonical="env")
    for fields, field in [
        ({"kind": "key", "alias": "envs", "canonical": "environment"}, "canonical"),
        ({"kind": "key", "alias": "env", "canonical": "stage"}, "alias"),
        ({"kind": "key", "alias": "ENVIRONMENT", "canonical": "stage"}, "alias"),
        ({"kind": "value", "alias": "production", "canonical": "prod"}, "key"),
        ({"kind": "key", "alias": "env", "canonical": "env"}, "alias"),
    ]:
        with pytest.raises(ValidationError) as refused:
            tag_alias_create(actor=None, tenant=world.a, **fields)
        assert field in refused.value.message_dict, fields
