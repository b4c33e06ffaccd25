"""The portal view registry is complete and its declarations hold."""

import pytest
from django.urls import get_resolver, reverse

from core.models import Membership, Tenant
from core.portal.registry import navigation, portal_views
from tests.contracts.samples import SAMPLES

PORTAL_VIEWS = portal_views()
ALL = {view.name: view for view in PORTAL_VIEWS}


def _portal_url_names() -> set[str]:
    resolver = get_resolver()
    portal = next(p for p in resolver.url_patterns if getattr(p, "namespace", None) == "portal")
    return {p.name for p in portal.url_patterns if p.name}


def test_every_portal_url_is_registered():
    assert _portal_url_names() == set(ALL)


def _sample_kwargs(view) -> dict:
    if view.name == "password_reset_confirm":
        return {"uidb64": "MQ", "token": "x-y"}
    if view.object_in == "url" and view.object_param:
        return {view.object_param: 1}
    return {}


@pytest.mark.parametrize("view", [v for v in PORTAL_VIEWS if not v.public], ids=lambda v: v.name)
def test_private_views_require_login(client, db, view):
    method = "get" if "GET" in view.methods else "post"
    response = getattr(client, method)(reverse(f"portal:{view.name}", kwargs=_sample_kwargs(view)))
    if method == "post" and "GET" not in view.methods and response.status_code == 405:
        pytest.fail("POST-only view refused POST")
    assert response.status_code == 302
    assert response.url.startswith(reverse("portal:login"))


MODELS = {"core.Membership": Membership, "core.Tenant": Tenant}


@pytest.mark.parametrize(
    "view", [v for v in PORTAL_VIEWS if v.takes_object_id], ids=lambda v: v.name
)
def test_other_tenants_object_ids_are_404(login, world, view):
    """A small version of the contracts matrix: owner of B uses ids of A's objects."""
    model = MODELS.get(view.object_model)
    if model is not None:
        obj = model.objects.for_tenant(world.a).first()
    else:  # models the world fixture does not create (connections, resources)
        obj = SAMPLES[view.object_model.lower()](world, world.a)
    assert obj is not None
    kwargs, data = {}, dict(view.post_data)
    if view.object_in == "url":
        kwargs[view.object_param] = obj.pk
    else:
        data[view.object_param] = obj.pk
    response = login(world.owner_b).post(reverse(f"portal:{view.name}", kwargs=kwargs), data)
    assert response.status_code == 404


def test_navigation_collects_every_apps_entries_in_order(login, world):
    # core (dashboard, team), providers (costs, balances, resources, connections), allocation
    # and the sections optimization announces before serving them (budgets, savings: "coming
    # soon").
    assert [entry.key for entry in navigation()] == [
        "dashboard",
        "costs",
        "balances",
        "allocation",
        "resources",
        "budgets",
        "savings",
        "connections",
        "team",
    ]
    html = login(world.owner_a).get(reverse("portal:dashboard")).content.decode()
    assert html.index(reverse("portal:costs")) < html.index(reverse("portal:connections"))
    assert html.index(reverse("portal:connections")) < html.index(reverse("portal:team"))
