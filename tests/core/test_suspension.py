"""A suspended tenant suspends its whole subtree for customers; MSP staff keep access."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.capabilities import Role
from core.models import Tenant
from core.services.tokens import api_token_create
from tests.factories import TenantFactory, member


@pytest.fixture
def suspended(world):
    """B suspended, with a sub-tenant (itself active) and a customer token issued before."""
    sub = TenantFactory(parent=world.b, name="Beta Sub")
    sub_viewer = member(sub, Role.VIEWER, username="sub-viewer")
    token = api_token_create(actor=world.owner_b, tenant=world.b, name="integration").raw
    Tenant.objects.filter(pk=world.b.pk).update(status=Tenant.Status.SUSPENDED)
    return {"sub": sub, "sub_viewer": sub_viewer, "token": token}


def _token_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_customers_lose_the_sub_tenants_of_a_suspended_tenant(world, suspended):
    sub = suspended["sub"]
    assert not Tenant.objects.for_user(world.owner_b, "view").exists()
    # A member of the sub-tenant only: the parent's suspension reaches them too.
    assert not Tenant.objects.for_user(suspended["sub_viewer"], "view").exists()
    # MSP staff keep access to fix what caused the suspension.
    assert set(Tenant.objects.for_user(world.operator_b, "view")) == {world.b, sub}


def test_api_token_cannot_read_the_subtree(world, suspended):
    client = _token_client(suspended["token"])
    listed = client.get("/api/v1/tenants/").json()["results"]
    assert listed == []
    assert client.get(f"/api/v1/tenants/{suspended['sub'].pk}/").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/cost-query/", "/api/v1/cost-export/"])
def test_cost_query_and_export_refuse_the_subtree(world, suspended, path):
    client = _token_client(suspended["token"])
    response = client.get(path, {"tenant": suspended["sub"].pk, "period": "2026-01"})
    assert response.status_code == 400, response.content
    assert "tenant" in response.json()
    # The operator still gets the data.
    operator = APIClient()
    operator.force_authenticate(world.operator_b)
    response = operator.get(path, {"tenant": suspended["sub"].pk, "period": "2026-01"})
    assert response.status_code == 200


def test_portal_shows_no_access_for_the_subtree(client, world, suspended):
    for user in (world.owner_b, suspended["sub_viewer"]):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        response = client.get("/portal/")
        assert response.status_code == 403
        assert suspended["sub"].name not in response.content.decode()
    client.force_login(world.operator_b, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/portal/").status_code == 200
