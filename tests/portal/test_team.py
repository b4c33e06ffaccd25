import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from core.capabilities import Role
from core.models import AuditEvent, Invitation, Membership, Tenant
from tests.factories import TenantFactory, UserFactory, member
from tests.portal.conftest import link_path

User = get_user_model()


def _usernames(response) -> set[str]:
    return {row["membership"].user.username for row in response.context["rows"]}


def test_team_lists_only_the_current_tenants_members(login, world):
    response = login(world.owner_a).get(reverse("portal:team"))
    assert response.status_code == 200
    expected = set(
        Membership.objects.filter(tenant=world.a).values_list("user__username", flat=True)
    )
    assert _usernames(response) == expected
    assert {"owner-a", "viewer-a", "operator-a"} <= expected
    assert "owner-b" not in response.content.decode()


def test_team_follows_the_switched_tenant(login, two_tenant_user, world):
    client = login(two_tenant_user)
    client.post(reverse("portal:tenant_switch"), {"tenant": world.b.pk})
    response = client.get(reverse("portal:team"))
    expected = set(
        Membership.objects.filter(tenant=world.b).values_list("user__username", flat=True)
    )
    assert _usernames(response) == expected
    assert {"owner-b", "both"} <= expected
    assert "owner-a" not in expected


def test_viewer_sees_the_list_without_forms(login, world):
    response = login(world.viewer_a).get(reverse("portal:team"))
    assert response.status_code == 200
    assert response.context["can_manage"] is False
    assert response.context["invite_form"] is None
    html = response.content.decode()
    assert reverse("portal:team_invite") not in html
    assert "/remove/" not in html


def test_owner_gets_role_choices_up_to_their_rank_without_operator_roles(login, world):
    response = login(world.owner_a).get(reverse("portal:team"))
    choices = {value for value, _label in response.context["invite_form"].fields["role"].choices}
    assert choices == {"owner", "admin", "finance", "engineer", "viewer"}


def test_admin_cannot_offer_owner(login, world):
    admin = member(world.a, Role.ADMIN, username="admin-a")
    response = login(admin).get(reverse("portal:team"))
    choices = {value for value, _label in response.context["invite_form"].fields["role"].choices}
    assert choices == {"admin", "finance", "engineer", "viewer"}
    rows = {row["membership"].user.username: row for row in response.context["rows"]}
    assert rows["owner-a"]["editable"] is False  # ranked above the admin
    assert rows["viewer-a"]["editable"] is True
    assert rows["operator-a"]["editable"] is False


def test_invite_creates_membership_and_emails_a_working_link(
    login, world, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://portal.example.org"
    client = login(world.owner_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:team_invite"), {"email": "New.Person@Example.com", "role": "finance"}
        )
    assert response.status_code == 302
    assert response.url == reverse("portal:team")
    invited = User.objects.get(email__iexact="new.person@example.com")
    assert not invited.has_usable_password()
    membership = Membership.objects.get(user=invited)
    assert (membership.tenant, membership.role) == (world.a, "finance")
    event = AuditEvent.objects.get(event_type="membership.created", target_id=str(membership.pk))
    assert (event.actor_id, event.tenant_id, event.source) == (
        world.owner_a.pk,
        world.a.pk,
        "portal",
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New.Person@example.com"]
    assert "Alpha" in message.subject
    assert "https://portal.example.org/portal/password/reset/" in message.body

    # The invited person follows the link, chooses a password and is signed in.
    client.post(reverse("portal:logout"))
    form_url = client.get(link_path(message.body)).url
    page = client.get(form_url)
    assert page.context["validlink"] is True
    assert page.context["first_password"] is True
    response = client.post(
        form_url, {"new_password1": "Fresh-Secret-77", "new_password2": "Fresh-Secret-77"}
    )
    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")
    dashboard = client.get(reverse("portal:dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.context["user"] == invited
    assert dashboard.context["current_tenant"] == world.a

    # ... and can log in again later with that password (by email).
    client.post(reverse("portal:logout"))
    response = client.post(
        reverse("portal:login"),
        {"username": "new.person@example.com", "password": "Fresh-Secret-77"},
    )
    assert response.status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 200


def test_inviting_an_existing_account_needs_its_consent(
    login, world, django_capture_on_commit_callbacks
):
    # An account whose username says more than the email the inviter typed.
    handle = "b-secret-handle"
    User.objects.filter(pk=world.owner_b.pk).update(username=handle)
    client = login(world.owner_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:team_invite"), {"email": "owner-b@example.com", "role": "viewer"}
        )
    assert response.status_code == 302
    # Nothing is granted yet, and the inviter does not learn the account's username.
    assert not Membership.objects.filter(user=world.owner_b, tenant=world.a).exists()
    assert not Tenant.objects.for_user(world.owner_b, "view").filter(pk=world.a.pk).exists()
    team = client.get(reverse("portal:team")).content.decode()
    assert "owner-b@example.com" in team
    assert handle not in team
    assert "/password/reset/" not in mail.outbox[0].body
    assert reverse("portal:invitations") in mail.outbox[0].body

    # The invitee accepts, logged in as themselves; then the access starts.
    invitee = login(world.owner_b)
    page = invitee.get(reverse("portal:invitations"))
    assert page.status_code == 200 and world.a.name in page.content.decode()
    invitation = Invitation.objects.get(user=world.owner_b, tenant=world.a)
    accepted = invitee.post(reverse("portal:invitations_accept", args=[invitation.pk]))
    assert accepted.status_code == 302
    assert Membership.objects.filter(user=world.owner_b, tenant=world.a, role="viewer").exists()
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    event = AuditEvent.objects.filter(tenant=world.a, event_type="membership.created").first()
    assert event.actor_id == world.owner_b.pk
    assert event.extra["invitation"] == invitation.pk


def test_declined_invitation_grants_nothing(login, world):
    login(world.owner_a).post(
        reverse("portal:team_invite"), {"email": "owner-b@example.com", "role": "viewer"}
    )
    invitation = Invitation.objects.get(user=world.owner_b, tenant=world.a)
    client = login(world.owner_b)
    response = client.post(reverse("portal:invitations_decline", args=[invitation.pk]))
    assert response.status_code == 302
    assert not Invitation.objects.exists()
    assert not Membership.objects.filter(user=world.owner_b, tenant=world.a).exists()


def test_only_the_invitee_can_accept(login, world):
    login(world.owner_a).post(
        reverse("portal:team_invite"), {"email": "owner-b@example.com", "role": "viewer"}
    )
    invitation = Invitation.objects.get(user=world.owner_b, tenant=world.a)
    for someone_else in (world.owner_a, world.viewer_a, world.operator_b):
        client = login(someone_else)
        response = client.post(reverse("portal:invitations_accept", args=[invitation.pk]))
        assert response.status_code == 404
    assert not Membership.objects.filter(user=world.owner_b, tenant=world.a).exists()


def test_pending_invitation_does_not_open_the_user_admin_to_the_inviter(client, world):
    from core.services.memberships import member_invite, membership_create

    outsider = UserFactory(username="far-away", email="far@example.com")
    elsewhere = TenantFactory(name="Elsewhere")
    membership_create(actor=None, tenant=elsewhere, user=outsider, role=Role.VIEWER)
    member_invite(actor=world.operator_a, tenant=world.a, email="far@example.com", role="viewer")
    client.force_login(world.operator_a)
    users = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "far-away" not in users
    assert client.get(reverse("admin:auth_user_change", args=[outsider.pk])).status_code in (
        302,
        403,
        404,
    )


def test_invitation_email_is_in_the_tenants_language(
    login, world, django_capture_on_commit_callbacks
):
    world.a.locale = "ru"
    world.a.save()
    with django_capture_on_commit_callbacks(execute=True):
        login(world.owner_a).post(
            reverse("portal:team_invite"), {"email": "ivan@example.com", "role": "viewer"}
        )
    assert "Вас пригласили" in mail.outbox[0].subject  # noqa: RUF001 (Russian text)


def test_viewer_cannot_invite_and_nothing_is_written(login, world):
    client = login(world.viewer_a)
    users, events = User.objects.count(), AuditEvent.objects.count()
    response = client.post(
        reverse("portal:team_invite"), {"email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 403
    assert User.objects.count() == users
    assert AuditEvent.objects.count() == events
    assert mail.outbox == []


def test_bad_email_is_a_form_error_and_nothing_is_written(login, world):
    users, memberships = User.objects.count(), Membership.objects.count()
    response = login(world.owner_a).post(
        reverse("portal:team_invite"), {"email": "not-an-email", "role": "viewer"}
    )
    assert response.status_code == 400
    assert "email" in response.context["invite_form"].errors
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert mail.outbox == []


def test_role_above_own_rank_is_a_form_error(login, world):
    admin = member(world.a, Role.ADMIN, username="admin-a")
    response = login(admin).post(
        reverse("portal:team_invite"), {"email": "boss@example.com", "role": "owner"}
    )
    assert response.status_code == 400
    assert "role" in response.context["invite_form"].errors
    assert not User.objects.filter(email="boss@example.com").exists()


def test_operator_role_is_refused_for_customers(login, world):
    response = login(world.owner_a).post(
        reverse("portal:team_invite"), {"email": "op@example.com", "role": "operator"}
    )
    assert response.status_code == 400
    assert not User.objects.filter(email="op@example.com").exists()


def test_inviting_an_existing_member_shows_the_service_error(login, world):
    memberships = Membership.objects.count()
    response = login(world.owner_a).post(
        reverse("portal:team_invite"), {"email": "viewer-a@example.com", "role": "viewer"}
    )
    assert response.status_code == 400
    errors = response.context["invite_form"].errors["email"]
    assert "already a member" in " ".join(errors)
    assert Membership.objects.count() == memberships


def test_owner_changes_a_role(login, world):
    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    client = login(world.owner_a)
    response = client.post(
        reverse("portal:team_member_update", args=[membership.pk]), {"role": "engineer"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "engineer"
    assert AuditEvent.objects.filter(event_type="membership.updated").count() == 1


def test_last_owner_cannot_demote_themselves(login, world):
    membership = Membership.objects.get(user=world.owner_a, tenant=world.a)
    client = login(world.owner_a)
    response = client.post(
        reverse("portal:team_member_update", args=[membership.pk]), {"role": "viewer"}, follow=True
    )
    assert response.status_code == 200
    assert "at least one owner" in " ".join(str(m) for m in response.context["messages"])
    membership.refresh_from_db()
    assert membership.role == "owner"


def test_owner_cannot_touch_the_operator_row(login, world):
    membership = Membership.objects.get(user=world.operator_a, tenant=world.a)
    client = login(world.owner_a)
    response = client.post(reverse("portal:team_member_remove", args=[membership.pk]), follow=True)
    assert response.status_code == 200
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_owner_removes_a_member(login, world):
    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    response = login(world.owner_a).post(reverse("portal:team_member_remove", args=[membership.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(event_type="membership.deleted").count() == 1


@pytest.mark.parametrize("url_name", ["team_member_update", "team_member_remove"])
def test_other_tenants_membership_is_404(login, world, url_name):
    foreign = Membership.objects.get(user=world.owner_b, tenant=world.b)
    response = login(world.owner_a).post(
        reverse(f"portal:{url_name}", args=[foreign.pk]), {"role": "viewer"}
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == "owner"


@pytest.mark.parametrize("url_name", ["team_member_update", "team_member_remove"])
def test_viewer_gets_403_on_member_changes(login, world, url_name):
    membership = Membership.objects.get(user=world.owner_a, tenant=world.a)
    client = login(world.viewer_a)
    events = AuditEvent.objects.count()
    response = client.post(reverse(f"portal:{url_name}", args=[membership.pk]), {"role": "viewer"})
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == "owner"
    assert AuditEvent.objects.count() == events


def test_invalid_role_value_changes_nothing(login, world):
    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    response = login(world.owner_a).post(
        reverse("portal:team_member_update", args=[membership.pk]), {"role": "emperor"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_team_page_queries_do_not_grow_with_members(login, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(world.owner_a)
    client.get(reverse("portal:team"))  # warm the session

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("portal:team")).status_code == 200
        return len(queries)

    before = count()
    for _ in range(5):
        member(world.a, Role.ENGINEER)
    assert count() == before


@pytest.mark.parametrize("email", ["operator-b@example.com", "owner-b@example.com", "nobody@x.io"])
def test_operator_invite_by_email_answers_alike_for_any_address(world, email):
    """Before: a staff address got an invitation and any other an error, so an operator could
    learn which addresses belong to MSP staff. Now the answer does not depend on the address."""
    from django.core.exceptions import ValidationError

    from core.services.memberships import member_invite

    User.objects.filter(pk=world.operator_b.pk).update(email="operator-b@example.com")
    users, invitations = User.objects.count(), Invitation.objects.count()
    with pytest.raises(ValidationError) as raised:
        member_invite(actor=world.operator_a, tenant=world.a, email=email, role=Role.OPERATOR)
    assert raised.value.message_dict == {
        "role": ["Operator roles are given to MSP staff accounts by a superuser."]
    }
    assert (User.objects.count(), Invitation.objects.count()) == (users, invitations)


def test_a_superuser_still_invites_staff_to_an_operator_role(world):
    from core.services.memberships import member_invite

    User.objects.filter(pk=world.operator_b.pk).update(email="operator-b@example.com")
    invitation = member_invite(
        actor=world.superuser, tenant=world.a, email="operator-b@example.com", role=Role.OPERATOR
    )
    assert isinstance(invitation, Invitation) and invitation.user_id == world.operator_b.pk
