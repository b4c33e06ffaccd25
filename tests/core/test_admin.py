from django.contrib.messages import get_messages
from django.urls import reverse

from core.models import ApiToken, AuditEvent, Membership, Tenant


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_operator_creates_a_sub_tenant_through_the_service(world, client):
    client.force_login(world.operator_a)
    response = client.post(
        reverse("admin:core_tenant_add"),
        {
            "name": "Alpha Lab",
            "slug": "alpha-lab",
            "parent": world.a.pk,
            "status": "active",
            "default_currency": "RUB",
            "locale": "ru",
            "time_zone": "Europe/Moscow",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Tenant.objects.get(slug="alpha-lab")
    event = AuditEvent.objects.get(event_type="tenant.created", tenant=created)
    assert event.source == "admin"
    assert event.actor == world.operator_a


def test_operator_cannot_hang_a_tenant_under_another_msp_client(world, client):
    client.force_login(world.operator_a)
    response = client.post(
        reverse("admin:core_tenant_add"),
        {
            "name": "Sneaky",
            "slug": "sneaky",
            "parent": world.b.pk,
            "status": "active",
            "default_currency": "RUB",
            "locale": "ru",
            "time_zone": "Europe/Moscow",
        },
    )
    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not Tenant.objects.filter(slug="sneaky").exists()


def test_admin_invite_adds_a_member(world, client):
    client.force_login(world.operator_a)
    response = client.post(
        reverse("admin:core_membership_add"),
        {"tenant": world.a.pk, "email": "olga@example.com", "role": "finance"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(user__email="olga@example.com").role == "finance"


def test_admin_invite_of_an_existing_account_only_invites_it(world, client):
    from core.models import Invitation

    client.force_login(world.operator_a)
    response = client.post(
        reverse("admin:core_membership_add"),
        {"tenant": world.a.pk, "email": world.owner_b.email, "role": "viewer"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("admin:core_membership_changelist")
    assert any("gets access once its owner accepts" in m for m in _messages(response))
    assert not Membership.objects.filter(user=world.owner_b, tenant=world.a).exists()
    assert Invitation.objects.filter(user=world.owner_b, tenant=world.a).exists()


def test_service_refusal_is_an_admin_message_not_a_500(world, client):
    client.force_login(world.operator_a)
    owner = Membership.objects.get(user=world.owner_a)
    response = client.post(
        reverse("admin:core_membership_delete", args=[owner.pk]), {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert any("at least one owner" in m for m in _messages(response))
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_token_secret_is_shown_once_in_a_message(world, client):
    client.force_login(world.operator_a)
    response = client.post(
        reverse("admin:core_apitoken_add"),
        {
            "tenant": world.a.pk,
            "name": "billing-export",
            "scope": "read",
            "expires_at_0": "",
            "expires_at_1": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="billing-export")
    shown = [m for m in _messages(response) if f"izt_{token.key_id}_" in m]  # the full secret
    assert len(shown) == 1
    detail = client.get(reverse("admin:core_apitoken_change", args=[token.pk]))
    assert "izt_" + token.key_id + "_" not in detail.content.decode()


def test_audit_log_is_read_only_in_the_admin(world, client):
    client.force_login(world.operator_a)
    event = AuditEvent.objects.filter(tenant=world.a).first()
    page = client.get(reverse("admin:core_auditevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    deleted = client.post(reverse("admin:core_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert deleted.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_revoke_action_revokes_only_tokens_in_scope(world, client):
    from core.services.tokens import api_token_create

    mine = api_token_create(actor=world.owner_a, tenant=world.a, name="a").token
    theirs = api_token_create(actor=world.owner_b, tenant=world.b, name="b").token
    client.force_login(world.operator_a)
    client.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [mine.pk, theirs.pk]},
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None
