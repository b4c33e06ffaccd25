"""Two-tenant isolation matrix over every API endpoint: B's users never reach A's rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.contracts.discovery import api_endpoints
from tests.contracts.samples import CREATE_PAYLOADS, SAMPLES

ENDPOINTS = api_endpoints()


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def _a_row(world, endpoint):
    return SAMPLES[endpoint.model._meta.label_lower](world, world.a)


@pytest.fixture(params=["owner_b", "operator_b"])
def b_user(request, world):
    return getattr(world, request.param)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_list_never_shows_other_tenants_rows(world, endpoint, b_user):
    row = _a_row(world, endpoint)
    results = _results(_client(b_user).get(endpoint.list_url, {"page_size": 500}))
    assert row.pk not in {item["id"] for item in results}
    assert all(item.get("tenant", world.b.pk) != world.a.pk for item in results)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_detail_of_other_tenants_row_is_404(world, endpoint, b_user):
    row = _a_row(world, endpoint)
    client = _client(b_user)
    assert client.get(endpoint.detail_url(row.pk)).status_code == 404
    for method in {"PATCH", "PUT", "DELETE"} & endpoint.detail_actions:
        response = getattr(client, method.lower())(endpoint.detail_url(row.pk), {})
        assert response.status_code == 404, (method, response.content)
    assert type(row).objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_filtering_by_other_tenants_ids_reveals_nothing(world, endpoint, b_user):
    row = _a_row(world, endpoint)
    filterset = endpoint.viewset.filterset_class
    client = _client(b_user)
    for name, filter_ in filterset.base_filters.items():
        queryset = getattr(filter_, "queryset", None)
        if queryset is None and name not in ("tenant", "parent"):
            continue
        foreign = world.a.pk if name in ("tenant", "parent") else row.pk
        response = client.get(endpoint.list_url, {name: foreign})
        if response.status_code == 400:
            continue  # "Select a valid choice": the foreign id is not even accepted
        assert _results(response) == [], f"filter {name}={foreign} leaked rows"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_filter_choices_do_not_list_other_tenants(world, endpoint, b_user):
    filterset_class = endpoint.viewset.filterset_class
    row = _a_row(world, endpoint)

    class Request:
        user = b_user
        query_params = {}

    filterset = filterset_class(data={}, queryset=endpoint.model.objects.none(), request=Request())
    for name in filterset.filters:
        field = filterset.form.fields[name]
        queryset = getattr(field, "queryset", None)
        if queryset is None:
            continue
        pks = set(queryset.values_list("pk", flat=True))
        assert world.a.pk not in pks or queryset.model._meta.label_lower != "core.tenant", name
        if queryset.model is type(row):
            assert row.pk not in pks, name


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if "POST" in e.list_actions], ids=lambda e: e.basename
)
def test_create_pointing_at_other_tenants_rows_is_refused(world, endpoint):
    client = _client(world.operator_b)
    model = endpoint.model
    valid = CREATE_PAYLOADS[endpoint.basename](world)
    serializer = endpoint.viewset.serializer_class()
    relations = [
        name
        for name, field in serializer.fields.items()
        if not field.read_only and hasattr(field, "queryset") and name in valid
    ]
    assert relations, "a create payload with no relation cannot test cross-tenant writes"
    for name in relations:
        before = model.objects.count()
        foreign_target = world.a.pk if name in ("tenant", "parent") else None
        if foreign_target is None:
            related_model = serializer.fields[name].queryset.model
            foreign_target = SAMPLES[related_model._meta.label_lower](world, world.a).pk
        response = client.post(endpoint.list_url, {**valid, name: foreign_target}, format="json")
        assert response.status_code in (400, 403, 404), (name, response.content)
        assert model.objects.count() == before, f"{name}: a row was written"
    # The same payload with B's own ids works, so the refusals above were about the tenant.
    assert client.post(endpoint.list_url, valid, format="json").status_code == 201


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if "GET" in e.list_actions], ids=lambda e: e.basename
)
def test_list_query_count_does_not_grow_with_rows(world, endpoint):
    client = _client(world.operator_a)
    build = SAMPLES[endpoint.model._meta.label_lower]

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _results(client.get(endpoint.list_url, {"page_size": 100}))
        return len(ctx.captured_queries)

    build(world, world.a)
    few = queries_for_list()
    for _ in range(6):
        build(world, world.a)
    assert queries_for_list() == few
