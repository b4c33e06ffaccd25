"""Every model, admin, viewset, filterset and service uses the scoped bases and is registered."""

import pytest
from rest_framework.test import APIClient

from core.admin.base import TenantScopedAdmin
from core.api.base import TenantScopedFilterSet, TenantScopedSerializer, TenantScopedViewSet
from core.models import tenant_scoped_models
from core.querysets import TenantScopedQuerySet
from tests.contracts.discovery import (
    api_endpoints,
    registered_admins,
    scoped_models,
    service_functions,
)
from tests.contracts.samples import CREATE_PAYLOADS, SAMPLES, SERVICE_CASES

ENDPOINTS = api_endpoints()


def test_discovery_finds_the_core_surfaces():
    # Guards the guards: if discovery broke, every parametrised contract would pass vacuously.
    assert {"tenant", "membership", "auditevent", "apitoken"} <= {e.basename for e in ENDPOINTS}
    assert len(scoped_models()) >= 4
    assert len(service_functions()) >= 8


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label_lower)
def test_every_scoped_model_has_a_sample_builder(model):
    assert model._meta.label_lower in SAMPLES, (
        f"Register a sample builder for {model._meta.label_lower} in tests/contracts/samples.py"
    )


def _models_with_a_tenant_fk() -> list[type]:
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in ("core", "providers", "allocation", "optimization")
        and "tenant" in {f.name for f in model._meta.get_fields()}
    ]


def test_models_with_a_tenant_fk_are_found():
    # Guards the guard below: an empty list would pass it vacuously.
    labels = {m._meta.label_lower for m in _models_with_a_tenant_fk()}
    assert {"core.membership", "providers.connection", "providers.costlineitem"} <= labels


@pytest.mark.parametrize("model", _models_with_a_tenant_fk(), ids=lambda m: m._meta.label_lower)
def test_every_model_with_a_tenant_fk_is_scoped(model):
    assert model in tenant_scoped_models(), (
        f"{model._meta.label} has a tenant FK but no scoped manager"
    )
    assert isinstance(model._default_manager.all(), TenantScopedQuerySet)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_every_viewset_uses_the_scoped_bases(endpoint):
    assert issubclass(endpoint.viewset, TenantScopedViewSet)
    assert endpoint.viewset.filterset_class is not None, "every list needs a filterset"
    assert issubclass(endpoint.viewset.filterset_class, TenantScopedFilterSet)
    serializer = endpoint.viewset.serializer_class
    writes = (endpoint.list_actions | endpoint.detail_actions) & {"POST", "PUT", "PATCH"}
    if writes:
        assert issubclass(serializer, TenantScopedSerializer)
    assert endpoint.viewset.pagination_class is not None


CREATE_ENDPOINTS = [e for e in ENDPOINTS if "POST" in e.list_actions]


def test_create_payloads_match_the_create_endpoints():
    # Both directions, so neither list can drift: no create endpoint without a payload, and no
    # payload left behind for an endpoint that no longer creates (the matrices would skip it).
    assert CREATE_ENDPOINTS, "discovery found no create endpoint"
    assert {e.basename for e in CREATE_ENDPOINTS} == set(CREATE_PAYLOADS)


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS, ids=lambda e: e.basename)
def test_every_create_endpoint_has_a_payload(world, endpoint):
    # The matrices post variations of this payload as B's operator and expect refusals for the
    # variation only: the payload itself must create, or their refusals would prove nothing.
    client = APIClient()
    client.force_authenticate(world.operator_b)
    before = endpoint.model.objects.count()

    response = client.post(
        endpoint.list_url, CREATE_PAYLOADS[endpoint.basename](world), format="json"
    )

    assert response.status_code in (201, 202), response.content
    assert endpoint.model.objects.count() == before + 1


@pytest.mark.parametrize(
    ("model", "model_admin"), registered_admins(), ids=lambda x: getattr(x, "__name__", "")
)
def test_every_admin_is_scoped_and_has_no_raw_id_fields(model, model_admin):
    if model in tenant_scoped_models():
        assert isinstance(model_admin, TenantScopedAdmin)
    assert not model_admin.raw_id_fields


@pytest.mark.parametrize(("name", "func"), service_functions(), ids=lambda x: str(x))
def test_every_service_has_an_audit_case(name, func):
    assert name in SERVICE_CASES, f"Register an audit case for {name} in tests/contracts/samples.py"


@pytest.mark.parametrize(("name", "func"), service_functions(), ids=lambda x: str(x))
def test_services_live_in_services_packages(name, func):
    # One room for every write: a function taking ``actor`` elsewhere (an upload helper, an
    # admin, a command) is a write path the audit contract would otherwise not look for.
    app, package, *_ = name.split(".")
    assert package == "services", f"{name} writes on behalf of an actor: move it to {app}.services"
