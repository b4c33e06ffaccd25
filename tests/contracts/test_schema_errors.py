"""The OpenAPI schema documents what the API really answers: the error responses of every
operation (JSON bodies), both file types of the FOCUS export, and nulls where they occur."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_operation_documents_its_errors_as_json(schema):
    checked = 0
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        expected = {"404", "429"}
        if operation.get("security") != [{}] and path.startswith("/api/"):
            expected |= {"401", "403"}
        takes_input = method in ("post", "put", "patch") or any(
            p["in"] != "path" for p in operation.get("parameters", [])
        )
        if takes_input:
            expected.add("400")
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            content = responses[code].get("content", {})
            if path.startswith("/api/"):
                assert list(content) == ["application/json"], (method, path, code)
        checked += 1
    assert checked > 50


def test_errors_name_their_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["detail"]["type"] == "string"
    assert error["required"] == ["detail"]
    bad_input = schema["paths"]["/api/v1/tenants/"]["post"]["responses"]["400"]
    assert bad_input["content"]["application/json"]["schema"]["type"] == "object"


def test_the_export_documents_csv_and_parquet(schema):
    ok = schema["paths"]["/api/v1/cost-export/"]["get"]["responses"]["200"]["content"]
    assert set(ok) == {"text/csv", "application/vnd.apache.parquet"}
    assert all(body["schema"]["format"] == "binary" for body in ok.values())


def test_a_tenants_parent_is_required_on_create_and_may_be_null_in_answers(schema):
    # The MSP's own tenant is the root: an operator listing tenants receives "parent": null.
    components = schema["components"]["schemas"]
    assert components["Tenant"]["properties"]["parent"].get("nullable") is True
    assert not components["TenantRequest"]["properties"]["parent"].get("nullable")
    assert "parent" in components["TenantRequest"]["required"]


def test_the_root_tenant_is_answered_with_a_null_parent(world, api_as):
    root = api_as(world.superuser).get(f"/api/v1/tenants/{world.msp.pk}/")
    assert root.status_code == 200
    assert root.json()["parent"] is None


def test_integer_filters_are_integers_in_the_schema(schema):
    # Found by schemathesis: "number" let it send 4.3e+48 for an id the API rightly refuses.
    def parameter(path, name):
        params = schema["paths"][path]["get"]["parameters"]
        return next(p for p in params if p["name"] == name)["schema"]

    assert parameter("/api/v1/audit-events/", "actor") == {"type": "integer"}
    assert parameter("/api/v1/memberships/", "user") == {"type": "integer"}
    assert parameter("/api/v1/cost-line-items/", "x_project_id") == {"type": "integer"}
    assert parameter("/api/v1/tenants/", "page")["minimum"] == 1
    assert parameter("/api/v1/tenants/", "page_size")["minimum"] == 1
