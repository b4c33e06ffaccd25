from __future__ import annotations

import re

import pytest

from tests.factories import UserFactory

PASSWORD = "pass-1234-word"  # tests.factories.UserFactory's password


@pytest.fixture
def login(client):
    """Log the client in as ``user`` (a real login through the session)."""

    def _login(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


@pytest.fixture
def two_tenant_user(world):
    from core.capabilities import Role
    from core.services.memberships import membership_create

    user = UserFactory(username="both")
    membership_create(actor=None, tenant=world.a, user=user, role=Role.VIEWER)
    membership_create(actor=None, tenant=world.b, user=user, role=Role.ADMIN)
    return user


def link_path(body: str) -> str:
    """The path of the first portal link in an email body."""
    match = re.search(r"https?://[^/\s]+(/portal/\S+)", body)
    assert match, body
    return match.group(1)
