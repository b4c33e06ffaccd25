from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from core.capabilities import Role
from core.models import Tenant
from tests.factories import TenantFactory, UserFactory, member


@dataclass
class World:
    """Two client tenants under one MSP, with people in each; the isolation fixture."""

    msp: Tenant
    a: Tenant
    b: Tenant
    owner_a: object
    owner_b: object
    viewer_a: object
    operator_a: object  # MSP staff assigned to tenant A only
    operator_b: object  # MSP staff assigned to tenant B only
    superuser: object


@pytest.fixture
def world(db) -> World:
    msp = TenantFactory(name="MSP", slug="msp", kind=Tenant.Kind.MSP)
    a = TenantFactory(name="Alpha", slug="alpha", parent=msp)
    b = TenantFactory(name="Beta", slug="beta", parent=msp)
    return World(
        msp=msp,
        a=a,
        b=b,
        owner_a=member(a, Role.OWNER, username="owner-a"),
        owner_b=member(b, Role.OWNER, username="owner-b"),
        viewer_a=member(a, Role.VIEWER, username="viewer-a"),
        operator_a=member(a, Role.OPERATOR, username="operator-a"),
        operator_b=member(b, Role.OPERATOR, username="operator-b"),
        superuser=UserFactory(username="root", is_superuser=True, is_staff=True),
    )


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as(api_client):
    def login(user) -> APIClient:
        api_client.force_authenticate(user=user)
        return api_client

    return login
