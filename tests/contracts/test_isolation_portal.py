"""Two-tenant isolation over every registered portal view (``PORTAL_VIEWS``)."""

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from core.portal.registry import portal_views
from core.portal.tenancy import SESSION_KEY
from tests.contracts.samples import SAMPLES

PORTAL_VIEWS = portal_views()
PRIVATE_GET = [v for v in PORTAL_VIEWS if not v.public and "GET" in v.methods]
WITH_IDS = [v for v in PORTAL_VIEWS if v.takes_object_id]


def test_registry_is_not_empty():
    assert {"dashboard", "team", "tenant_switch"} <= {v.name for v in PORTAL_VIEWS}


@pytest.fixture
def owner_b_client(client, world):
    client.force_login(world.owner_b)
    return client


def _a_secrets(world) -> list[str]:
    return [world.a.name, world.owner_a.username, world.viewer_a.username]


@pytest.mark.parametrize(
    "view", [v for v in PRIVATE_GET if not v.takes_object_id], ids=lambda v: v.name
)
def test_pages_never_show_other_tenants_data(world, owner_b_client, view):
    response = owner_b_client.get(reverse(f"portal:{view.name}"))
    assert response.status_code == 200
    body = response.content.decode()
    for secret in _a_secrets(world):
        assert secret not in body, f"{view.name} shows {secret!r}"


@pytest.mark.parametrize("view", [v for v in PRIVATE_GET if v.tenant_scoped], ids=lambda v: v.name)
def test_a_forged_session_tenant_falls_back_to_an_allowed_one(world, owner_b_client, view):
    session = owner_b_client.session
    session[SESSION_KEY] = world.a.pk
    session.save()
    kwargs = {}
    if view.takes_object_id and view.object_in == "url":  # a page of one of B's own objects
        kwargs[view.object_param] = SAMPLES[view.object_model.lower()](world, world.b).pk
    response = owner_b_client.get(reverse(f"portal:{view.name}", kwargs=kwargs))
    assert response.status_code == 200
    if response.context is None:  # a download (an invoice file): no page, no tenant switcher
        assert response["Content-Disposition"].startswith("attachment")
        assert owner_b_client.session.get(SESSION_KEY) != world.a.pk
    else:
        assert response.context["current_tenant"] == world.b
    body = response.content.decode(errors="replace")
    for secret in _a_secrets(world):
        assert secret not in body


@pytest.mark.parametrize("view", WITH_IDS, ids=lambda v: v.name)
def test_other_tenants_ids_are_404_and_change_nothing(world, owner_b_client, view):
    label = view.object_model.lower()
    target = world.a if label == "core.tenant" else SAMPLES[label](world, world.a)
    before = model_to_dict(type(target).objects.get(pk=target.pk))
    data = dict(view.post_data)
    kwargs = {}
    if view.object_in == "url":
        kwargs[view.object_param] = target.pk
    else:
        data[view.object_param] = target.pk
    url = reverse(f"portal:{view.name}", kwargs=kwargs)
    for method in view.methods:
        response = getattr(owner_b_client, method.lower())(url, data)
        assert response.status_code == 404, (view.name, method, response.status_code)
    assert type(target).objects.filter(pk=target.pk).exists()
    assert model_to_dict(type(target).objects.get(pk=target.pk)) == before
    assert owner_b_client.session.get(SESSION_KEY) != world.a.pk


@pytest.mark.parametrize("view", [v for v in PORTAL_VIEWS if not v.public], ids=lambda v: v.name)
def test_every_private_view_requires_login(world, client, view):
    kwargs = {view.object_param: 1} if view.takes_object_id and view.object_in == "url" else {}
    url = reverse(f"portal:{view.name}", kwargs=kwargs)
    response = getattr(client, view.methods[0].lower())(url)
    assert response.status_code == 302
    assert reverse("portal:login") in response.url
