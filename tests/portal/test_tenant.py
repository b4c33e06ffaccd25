from django.urls import reverse

from core.models import Tenant
from core.portal.tenancy import SESSION_KEY


def test_default_tenant_is_the_first_visible_one(login, two_tenant_user, world):
    client = login(two_tenant_user)
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert response.wsgi_request.portal_tenant == world.a  # "Alpha" sorts before "Beta"
    assert response.context["current_tenant"] == world.a
    assert list(response.context["switchable_tenants"]) == [world.a, world.b]
    assert b'name="tenant"' in response.content  # the switcher is shown


def test_user_with_one_tenant_sees_no_switcher(login, world):
    response = login(world.owner_a).get(reverse("portal:dashboard"))
    assert response.context["current_tenant"] == world.a
    assert b'name="tenant"' not in response.content


def test_user_with_two_tenants_can_switch(login, two_tenant_user, world):
    client = login(two_tenant_user)
    response = client.post(
        reverse("portal:tenant_switch"), {"tenant": world.b.pk, "next": reverse("portal:team")}
    )
    assert response.status_code == 302
    assert response.url == reverse("portal:team")
    assert client.session[SESSION_KEY] == world.b.pk
    response = client.get(reverse("portal:team"))
    assert response.context["current_tenant"] == world.b


def test_switch_refuses_another_tenants_id(login, world):
    client = login(world.owner_a)
    client.get(reverse("portal:dashboard"))
    response = client.post(reverse("portal:tenant_switch"), {"tenant": world.b.pk})
    assert response.status_code == 404
    assert client.session[SESSION_KEY] == world.a.pk
    response = client.post(reverse("portal:tenant_switch"), {"tenant": world.msp.pk})
    assert response.status_code == 404
    response = client.post(reverse("portal:tenant_switch"), {"tenant": "nonsense"})
    assert response.status_code == 404
    assert client.get(reverse("portal:dashboard")).context["current_tenant"] == world.a


def test_switch_ignores_offsite_next(login, two_tenant_user, world):
    client = login(two_tenant_user)
    response = client.post(
        reverse("portal:tenant_switch"), {"tenant": world.b.pk, "next": "https://evil.example/"}
    )
    assert response.url == reverse("portal:dashboard")


def test_switch_is_post_only(login, two_tenant_user, world):
    client = login(two_tenant_user)
    assert client.get(reverse("portal:tenant_switch"), {"tenant": world.b.pk}).status_code == 405


def test_lost_access_falls_back_to_a_visible_tenant(login, two_tenant_user, world):
    client = login(two_tenant_user)
    client.post(reverse("portal:tenant_switch"), {"tenant": world.b.pk})
    Tenant.objects.filter(pk=world.b.pk).update(status=Tenant.Status.SUSPENDED)
    response = client.get(reverse("portal:dashboard"))
    assert response.context["current_tenant"] == world.a
    assert client.session[SESSION_KEY] == world.a.pk


def test_customer_of_a_suspended_tenant_sees_no_access_page(login, world):
    Tenant.objects.filter(pk=world.a.pk).update(status=Tenant.Status.SUSPENDED)
    client = login(world.owner_a)
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 403
    assert b"No access" in response.content
    assert client.get(reverse("portal:team")).status_code == 403
    # An operator still reaches the suspended tenant.
    response = login(world.operator_a).get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert response.context["current_tenant"] == world.a


def test_dashboard_shows_tenant_name_currency_and_navigation(login, world):
    response = login(world.owner_a).get(reverse("portal:dashboard"))
    html = response.content.decode()
    assert "Alpha" in html
    assert world.a.default_currency in html
    for section in ("Costs", "Resources", "Budgets", "Savings", "Team"):
        assert section in html
    assert reverse("portal:logout") in html
    assert reverse("set_language") in html
    assert "Beta" not in html
