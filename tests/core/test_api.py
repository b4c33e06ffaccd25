import pytest

from core.models import AuditEvent, Membership, Tenant


def test_operator_creates_a_sub_tenant_under_an_assigned_tenant(world, api_as):
    response = api_as(world.operator_a).post(
        "/api/v1/tenants/",
        {"name": "Alpha Retail", "slug": "alpha-retail", "parent": world.a.pk},
    )
    assert response.status_code == 201, response.content
    created = Tenant.objects.get(slug="alpha-retail")
    assert created.lineage == [world.msp.pk, world.a.pk, created.pk]
    assert AuditEvent.objects.filter(event_type="tenant.created", tenant=created).count() == 1


def test_customer_owner_cannot_create_tenants(world, api_as):
    response = api_as(world.owner_a).post(
        "/api/v1/tenants/", {"name": "Mine", "slug": "mine", "parent": world.a.pk}
    )
    assert response.status_code == 400
    assert "parent" in response.json()
    assert not Tenant.objects.filter(slug="mine").exists()


def test_owner_edits_settings_but_cannot_unsuspend_or_suspend(world, api_as):
    client = api_as(world.owner_a)
    ok = client.patch(f"/api/v1/tenants/{world.a.pk}/", {"default_currency": "USD"})
    assert ok.status_code == 200, ok.content
    refused = client.patch(f"/api/v1/tenants/{world.a.pk}/", {"status": "suspended"})
    assert refused.status_code == 403
    world.a.refresh_from_db()
    assert world.a.status == Tenant.Status.ACTIVE
    assert world.a.default_currency == "USD"


def test_operator_suspends_a_client(world, api_as):
    response = api_as(world.operator_a).patch(
        f"/api/v1/tenants/{world.a.pk}/", {"status": "suspended"}
    )
    assert response.status_code == 200
    event = AuditEvent.objects.filter(event_type="tenant.updated", tenant=world.a).latest("seq")
    assert event.changed_fields == ["status"]
    assert event.before["status"] == "active"
    assert event.after["status"] == "suspended"


@pytest.mark.parametrize(
    ("field", "value"),
    [("default_currency", "rubles"), ("time_zone", "Mars/Olympus"), ("slug", "has spaces")],
)
def test_invalid_tenant_settings_are_refused_with_the_field(world, api_as, field, value):
    response = api_as(world.operator_a).patch(f"/api/v1/tenants/{world.a.pk}/", {field: value})
    assert response.status_code == 400
    assert field in response.json()
    world.a.refresh_from_db()
    assert getattr(world.a, field) != value


def test_viewer_sees_members_but_cannot_change_roles(world, api_as):
    client = api_as(world.viewer_a)
    listed = client.get("/api/v1/memberships/").json()["results"]
    assert {m["user"]["username"] for m in listed} == {"owner-a", "viewer-a", "operator-a"}
    membership = Membership.objects.get(user=world.owner_a)
    response = client.patch(f"/api/v1/memberships/{membership.pk}/", {"role": "viewer"})
    assert response.status_code == 404  # not in the viewer's "change" scope
    membership.refresh_from_db()
    assert membership.role == "owner"


def test_admin_cannot_promote_to_owner(world, api_as):
    from core.services.memberships import membership_create
    from tests.factories import UserFactory

    admin_user = UserFactory()
    membership_create(actor=None, tenant=world.a, user=admin_user, role="admin")
    viewer = Membership.objects.get(user=world.viewer_a)
    response = api_as(admin_user).patch(f"/api/v1/memberships/{viewer.pk}/", {"role": "owner"})
    assert response.status_code == 403
    assert "above your own" in response.json()["detail"]


def test_last_owner_cannot_be_removed(world, api_as):
    owner = Membership.objects.get(user=world.owner_a)
    response = api_as(world.operator_a).delete(f"/api/v1/memberships/{owner.pk}/")
    assert response.status_code == 400
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_customer_cannot_grant_operator_roles(world, api_as):
    response = api_as(world.owner_a).post(
        "/api/v1/memberships/",
        {"tenant": world.a.pk, "email": "sneaky@example.com", "role": "operator"},
    )
    assert response.status_code == 400
    assert not Membership.objects.filter(user__email="sneaky@example.com").exists()


def test_invite_sends_an_email_with_a_password_link(
    world, api_as, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(world.owner_a).post(
            "/api/v1/memberships/",
            {"tenant": world.a.pk, "email": "Ivan@Example.com", "role": "engineer"},
        )
    assert response.status_code == 201, response.content
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["Ivan@example.com"]
    assert "/portal/" in mailoutbox[0].body


def test_audit_events_filter_and_paginate_by_cursor(world, api_as):
    client = api_as(world.operator_a)
    page = client.get("/api/v1/audit-events/", {"event_type": "membership.created"}).json()
    assert "next" in page
    assert "count" not in page  # no COUNT(*) over the whole log
    assert {e["event_type"] for e in page["results"]} == {"membership.created"}
    assert {e["tenant"] for e in page["results"]} == {world.a.pk}


def test_viewer_cannot_read_the_audit_log(world, api_as):
    assert api_as(world.viewer_a).get("/api/v1/audit-events/").json()["results"] == []


def test_me_lists_roles_and_capabilities(world, api_as):
    me = api_as(world.owner_a).get("/api/v1/me/").json()
    assert me["username"] == "owner-a"
    assert me["is_operator"] is False
    [membership] = me["memberships"]
    assert membership["tenant_slug"] == "alpha"
    assert "manage_members" in membership["capabilities"]


def test_anonymous_requests_are_refused(world, api_client):
    response = api_client.get("/api/v1/tenants/")
    assert response.status_code == 401


def test_schema_and_self_hosted_docs(world, client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in ("/api/v1/tenants/", "/api/v1/audit-events/", "/api/v1/tokens/", "/api/v1/me/"):
        assert path in body
    assert "ApiToken" in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert "cdn" not in docs.content.decode().lower()


def test_throttling_answers_429_with_retry_after(world, api_as, settings):
    from rest_framework.throttling import UserRateThrottle

    client = api_as(world.viewer_a)
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**original, "user": "3/minute"}
    try:
        from django.core.cache import cache

        cache.clear()
        codes = [client.get("/api/v1/me/").status_code for _ in range(4)]
    finally:
        UserRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 200, 429]


def test_openapi_schema_is_valid_and_warning_free(db, tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/connections/" in target.read_text()


def test_adding_an_existing_account_by_email_only_invites_it(world, api_as):
    from django.contrib.auth import get_user_model

    from core.models import Invitation, Membership

    get_user_model().objects.filter(pk=world.owner_b.pk).update(username="b-secret-handle")
    response = api_as(world.owner_a).post(
        "/api/v1/memberships/",
        {"tenant": world.a.pk, "email": world.owner_b.email, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["email"] == world.owner_b.email
    assert "b-secret-handle" not in response.content.decode()
    assert not Membership.objects.filter(user=world.owner_b, tenant=world.a).exists()
    assert Invitation.objects.filter(user=world.owner_b, tenant=world.a).exists()
