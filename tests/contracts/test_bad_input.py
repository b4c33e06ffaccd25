"""Bad input on every write endpoint: a 400 that names the fields, and nothing written."""

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from tests.contracts.discovery import api_endpoints
from tests.contracts.samples import CREATE_PAYLOADS, SAMPLES

ENDPOINTS = api_endpoints()
CREATE = [e for e in ENDPOINTS if "POST" in e.list_actions]
UPDATE = [e for e in ENDPOINTS if "PATCH" in e.detail_actions]
# Values no field of ours accepts ("huge" may fit a TextField: then it must simply be stored).
GARBAGE = [{"nested": ["object"]}, ["a", "list"], "x" * 5000]


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _writable(endpoint, payload) -> list[str]:
    serializer = endpoint.viewset.serializer_class()
    return [n for n, f in serializer.fields.items() if not f.read_only and n in payload]


@pytest.mark.parametrize("endpoint", CREATE, ids=lambda e: e.basename)
def test_empty_create_names_the_required_fields(world, endpoint):
    before = endpoint.model.objects.count()
    response = _client(world.operator_b).post(endpoint.list_url, {}, format="json")
    assert response.status_code == 400
    required = {
        name
        for name, field in endpoint.viewset.serializer_class().fields.items()
        if field.required and not field.read_only
    }
    assert required <= set(response.json()), response.json()
    assert endpoint.model.objects.count() == before


@pytest.mark.parametrize("endpoint", CREATE, ids=lambda e: e.basename)
def test_malformed_json_is_a_400(world, endpoint):
    before = endpoint.model.objects.count()
    response = _client(world.operator_b).post(
        endpoint.list_url, data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert endpoint.model.objects.count() == before


@pytest.mark.parametrize("garbage", GARBAGE, ids=["object", "list", "huge"])
@pytest.mark.parametrize("endpoint", CREATE, ids=lambda e: e.basename)
def test_garbage_in_any_field_is_refused_by_field(world, endpoint, garbage):
    valid = CREATE_PAYLOADS[endpoint.basename](world)
    client = _client(world.operator_b)
    for name in _writable(endpoint, valid):
        before = endpoint.model.objects.count()
        with transaction.atomic():
            response = client.post(endpoint.list_url, {**valid, name: garbage}, format="json")
            transaction.set_rollback(True)  # keep attempts independent of each other
        if response.status_code == 201:
            assert isinstance(garbage, str), (name, response.json())
            continue
        assert response.status_code == 400, (name, garbage, response.content)
        assert name in response.json(), (name, response.json())
        assert endpoint.model.objects.count() == before


@pytest.mark.parametrize("endpoint", UPDATE, ids=lambda e: e.basename)
def test_bad_update_leaves_the_row_unchanged(world, endpoint):
    row = SAMPLES[endpoint.model._meta.label_lower](world, world.b)
    client = _client(world.operator_b)
    serializer = endpoint.viewset.serializer_class(instance=row)
    snapshot = model_to_dict(type(row).objects.get(pk=row.pk))
    tried = 0
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        response = client.patch(
            endpoint.detail_url(row.pk), {name: {"nested": ["object"]}}, format="json"
        )
        assert response.status_code == 400, (name, response.content)
        assert name in response.json()
        tried += 1
    assert tried, "an update endpoint with no writable field"
    assert model_to_dict(type(row).objects.get(pk=row.pk)) == snapshot
