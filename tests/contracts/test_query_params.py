"""Query strings from anywhere: the 500s found by hand and by schemathesis stay fixed, and every
typed query parameter of every GET operation in the schema refuses what its type forbids with a
JSON 400 (never a 500, never silently ignored)."""

from __future__ import annotations

import datetime as dt

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.contracts.samples import SAMPLES

OFFSET = "2026-01-01T00:00:00%2B17:00"  # a valid ISO 8601 offset PostgreSQL cannot store


@pytest.fixture
def owner(world, api_as):
    return api_as(world.owner_a)


def _json_error(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/cost-query/?tenant=%C2%B2",
        "/api/v1/cost-export/?tenant=%C2%B2",
        "/api/v1/cost-export/?period=9999-12",
        "/api/v1/cost-export/?format=",
        "/api/v1/cost-query/?start=",
        "/api/v1/cost-query/?amounts=",
        "/api/v1/cost-query/?limit=1.5",
        "/api/v1/resources/?label=%25s",
        "/api/v1/resources/?label=%25d%25",
        "/api/v1/cost-line-items/?tag=%25s",
        "/api/v1/resources/?page_size=null",
        "/api/v1/resources/?page_size=0",
        "/api/v1/sync-runs/?page_size=0.5",
        "/api/v1/import-runs/?created_after=",
        "/api/v1/resources/?status=",
        "/api/v1/cost-line-items/?x_project_id=0.5",
        "/api/v1/audit-events/?actor=0.5",
        "/api/v1/audit-events/?created_after=9999-12-31T23:00:00-05:00",
    ],
)
def test_malformed_parameters_are_a_json_400(owner, url):
    body = _json_error(owner.get(url), 400)
    assert body, url


def test_the_message_keeps_a_percent_sign_as_typed(owner):
    body = _json_error(owner.get("/api/v1/resources/?label=%25s"), 400)
    assert body["label"] == ["Use key:value, e.g. label=env:prod (got '%s')."]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/resources/AAA/metrics/?after=2026-01-01T00:00:00Z&before=2026-01-02T00:00:00Z",
        "/api/v1/cost-sources/AAA/objects/",
        "/api/v1/connections/1.5/verify/",
        "/api/v1/tokens/%C2%B2/revoke/",
        "/api/v1/resources/99999999999999999999999/metrics/?after=2026-01-01T00:00:00Z",
    ],
)
def test_a_non_integer_or_huge_id_on_an_extra_action_is_a_json_404(owner, url):
    response = owner.post(url) if url.endswith(("verify/", "revoke/")) else owner.get(url)
    _json_error(response, 404)


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/import-runs/?created_before={OFFSET}",
        f"/api/v1/audit-events/?created_before={OFFSET}",
        f"/api/v1/sync-runs/?started_before={OFFSET}",
        f"/api/v1/resources/?seen_before={OFFSET}",
        f"/api/v1/resource-events/?at_before={OFFSET}",
        f"/api/v1/cost-line-items/?charge_period_after={OFFSET}"
        "&charge_period_before=2026-01-20T00:00:00Z",
    ],
)
def test_utc_offsets_beyond_postgresqls_range_are_converted(owner, url):
    assert owner.get(url).status_code == 200


def test_an_offset_filter_selects_the_same_instant(world, owner):
    event = SAMPLES["core.auditevent"](world, world.a)
    # The event's own instant, written 17 hours ahead of UTC.
    ahead = event.created_at.astimezone(dt.timezone(dt.timedelta(hours=17)))
    value = ahead.isoformat().replace("+", "%2B")

    since = owner.get(f"/api/v1/audit-events/?created_after={value}").json()["results"]
    until = owner.get(f"/api/v1/audit-events/?created_before={value}").json()["results"]

    assert event.pk in {e["id"] for e in since}
    assert event.pk not in {e["id"] for e in until}


# --- every typed parameter of every GET operation ----------------------------------------------
def _typed_query_parameters():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get or "{" in path:
            continue
        for parameter in get.get("parameters", []):
            declared = parameter.get("schema", {})
            kind = declared.get("format") or declared.get("type")
            if parameter["in"] == "query" and kind in ("date-time", "date", "integer"):
                found.append((path, parameter["name"], kind))
    return found


TYPED = _typed_query_parameters()
BAD = {
    "date-time": ["", "yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00%2B01:00"],
    "date": ["", "2026-13-01", "20260101x"],
    "integer": ["", "0.5", "null", "%C2%B2"],
}


def test_the_schema_has_typed_query_parameters_to_check():
    kinds = {kind for _path, _name, kind in TYPED}
    assert kinds == {"date-time", "date", "integer"} and len(TYPED) > 30


@pytest.mark.parametrize(("path", "name", "kind"), TYPED, ids=lambda v: str(v))
def test_every_typed_query_parameter_refuses_what_its_type_forbids(owner, path, name, kind):
    for value in BAD[kind]:
        _json_error(owner.get(f"{path}?{name}={value}"), 400)


def test_a_page_past_the_end_is_still_not_found(owner):
    _json_error(owner.get("/api/v1/tenants/?page=99"), 404)
