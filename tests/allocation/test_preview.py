"""Rule previews: exact figures for a rule before it is saved (rows and cost matched, won, taken
from each other rule, left to earlier ones), new or changed, through the API too."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from allocation.models import MappingRun, TagRule
from allocation.preview import NEW
from allocation.selectors import tag_rule_preview
from tests.allocation.conftest import JAN, cond, focus_row, load

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


@pytest.fixture
def month(world):
    """Compute: 3 rows (1.10 + 2.20 + 3.30), two tagged team=web; Storage: 2 rows; one February
    row outside the period."""
    load(
        world.a,
        [
            focus_row(JAN, "Compute", "1.10", tags={"team": "web"}),
            focus_row(JAN, "Compute", "2.20", tags={"team": "web"}),
            focus_row(JAN, "Compute", "3.30"),
            focus_row(JAN, "Storage", "0.40", tags={"team": "web"}),
            focus_row(JAN, "Storage", "0.05"),
            focus_row(dt.date(2026, 2, 2), "Compute", "100.00", tags={"team": "web"}),
        ],
    )


def _preview(world, **fields):
    rule = TagRule(tenant=world.a, **fields)
    return tag_rule_preview(user=world.owner_a, rule=rule, start=START, end=END)


def test_a_new_rule_takes_rows_from_later_rules_and_leaves_earlier_ones(world, dims, rule, month):
    first = rule("storage first", [cond("service", "in", "Storage")], project=dims.infra)
    compute = rule("compute", [cond("service", "in", "Compute")], project=dims.data)

    # Inserted at position 2: after "storage first", before "compute".
    preview = _preview(
        world,
        name="web team",
        position=2,
        conditions=[cond("tag", "in", "web", key="team")],
        project=dims.web,
    )

    assert preview.matches.rows == 3
    assert preview.matches.cost == {"RUB": Decimal("3.70")}
    [output] = preview.outputs
    assert output.output == "hierarchy"
    assert (output.wins.rows, output.wins.cost) == (2, {"RUB": Decimal("3.30")})
    assert output.newly_assigned.rows == 0
    assert {k: (v.rows, v.cost) for k, v in output.taken_from.items()} == {
        compute.pk: (2, {"RUB": Decimal("3.30")})
    }
    assert {k: (v.rows, v.cost) for k, v in output.shadowed_by.items()} == {
        first.pk: (1, {"RUB": Decimal("0.40")})
    }
    with translation.override("en"):
        assert preview.summary() == "matches 3 rows, 3.70 RUB; takes 2 rows from rule 2 (compute)"
    with translation.override("ru"):
        assert preview.summary().startswith("подходит 3 строк, 3.70 RUB; забирает 2 строк")
    assert not TagRule.objects.filter(name="web team").exists()  # nothing saved
    assert MappingRun.objects.filter(tenant=world.a).count() == 1  # only the two saved rules'


def test_rows_no_rule_had_are_newly_assigned(world, dims, month):
    preview = _preview(world, name="all", position=1, conditions=[], environment=dims.prod)

    [output] = preview.outputs
    assert output.output == "environment"
    assert (output.wins.rows, output.newly_assigned.rows) == (5, 5)
    assert output.newly_assigned.cost == {"RUB": Decimal("7.05")}
    assert output.taken_from == {} and output.shadowed_by == {}


def test_a_changed_rule_shows_what_it_keeps_gains_and_gives_up(world, dims, rule, month):
    compute = rule("compute", [cond("service", "in", "Compute")], project=dims.data)
    rule("fallback", [], project=dims.infra)
    changed = TagRule.objects.get(pk=compute.pk)
    changed.conditions = [cond("tag", "in", "web", key="team")]

    preview = tag_rule_preview(user=world.owner_a, rule=changed, start=START, end=END)

    [output] = preview.outputs
    # Compute+web (2 rows) kept; Storage+web (1 row, 0.40) taken from the fallback; the
    # untagged Compute row (3.30) given up to the fallback.
    assert (output.kept.rows, output.kept.cost) == (2, {"RUB": Decimal("3.30")})
    fallback = TagRule.objects.get(name="fallback")
    assert {k: v.rows for k, v in output.taken_from.items()} == {fallback.pk: 1}
    assert {k: (v.rows, v.cost) for k, v in output.released_to.items()} == {
        fallback.pk: (1, {"RUB": Decimal("3.30")})
    }
    assert preview.rules[compute.pk]["name"] == "compute"


def test_each_output_of_a_rule_is_previewed(world, dims, rule, month):
    from allocation.services.tags import virtual_tag_create

    team = virtual_tag_create(actor=None, tenant=world.a, key="team")
    preview = _preview(
        world,
        name="web",
        position=1,
        conditions=[cond("tag", "exists", key="team")],
        project=dims.web,
        cost_center=dims.rnd,
        virtual_tag=team,
        virtual_tag_from_key="team",
    )
    assert [o.output for o in preview.outputs] == ["hierarchy", "cost_center", f"vtag:{team.pk}"]
    assert all(o.wins.rows == 3 for o in preview.outputs)


def test_preview_refuses_bad_rules_and_people_who_cannot_change_rules(world, dims, month):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(ValidationError) as bad:
        _preview(world, name="x", position=1, conditions=[{"field": "nope"}], project=dims.web)
    assert "conditions" in bad.value.message_dict
    rule = TagRule(tenant=world.a, name="x", position=1, conditions=[], project=dims.web)
    with pytest.raises(PermissionDenied):
        tag_rule_preview(user=world.viewer_a, rule=rule, start=START, end=END)
    assert NEW == -1


def test_the_api_previews_with_the_create_payload(world, dims, rule, month, api_as):
    compute = rule("compute", [cond("service", "in", "Compute")], project=dims.data)
    client = api_as(world.owner_a)
    payload = {
        "tenant": world.a.pk,
        "name": "web team",
        "position": 1,
        "conditions": [cond("tag", "in", "web", key="team")],
        "project": dims.web.pk,
        "period": "2026-01",
    }

    response = client.post("/api/v1/tag-rules/preview/", payload, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["matches"] == {"rows": 3, "cost": {"RUB": "3.70"}}
    [output] = body["outputs"]
    assert output["taken_from"] == [
        {
            "rule": compute.pk,
            "name": "compute",
            "position": 1,
            "rows": 2,
            "cost": {"RUB": "3.30"},
        }
    ]
    assert body["summary"].startswith("matches 3 rows, 3.70 RUB; takes 2 rows from rule 1")
    assert TagRule.objects.filter(tenant=world.a).count() == 1

    changed = client.post(
        f"/api/v1/tag-rules/preview/?rule={compute.pk}",
        {**payload, "name": "compute", "conditions": []},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["outputs"][0]["kept"]["rows"] == 3

    bad = client.post("/api/v1/tag-rules/preview/", {**payload, "conditions": "x"}, format="json")
    assert bad.status_code == 400 and "conditions" in bad.json()
    other = api_as(world.owner_b).post("/api/v1/tag-rules/preview/", payload, format="json")
    assert other.status_code == 400 and "tenant" in other.json()
