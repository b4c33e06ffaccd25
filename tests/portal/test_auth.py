from django.conf import settings
from django.core import mail
from django.urls import reverse

from core.models import AuditEvent
from tests.factories import UserFactory
from tests.portal.conftest import PASSWORD, link_path


def test_login_page_renders(client):
    response = client.get(reverse("portal:login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_login_success_redirects_to_dashboard(client, world):
    response = client.post(reverse("portal:login"), {"username": "owner-a", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")
    assert client.get(reverse("portal:dashboard")).status_code == 200
    assert AuditEvent.objects.filter(event_type="auth.login", actor=world.owner_a).exists()


def test_login_with_email_address(client, world):
    response = client.post(
        reverse("portal:login"), {"username": "OWNER-A@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == world.owner_a.pk


def test_failed_login_is_audited_and_shows_an_error(client, world):
    response = client.post(reverse("portal:login"), {"username": "owner-a", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(event_type="auth.login_failed")
    assert event.extra == {"username": "owner-a"}
    assert "wrong" not in str(event.extra)


def test_pages_require_login(client, world):
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("portal:login"))


def test_logout_is_post_only(login, world):
    client = login(world.owner_a)
    assert client.get(reverse("portal:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert response.url == reverse("portal:login")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("portal:dashboard")).status_code == 302


def test_password_change_is_audited(login, world):
    client = login(world.owner_a)
    response = client.post(
        reverse("portal:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-Secret-42",
            "new_password2": "another-Secret-42",
        },
    )
    assert response.status_code == 302
    world.owner_a.refresh_from_db()
    assert world.owner_a.check_password("another-Secret-42")
    event = AuditEvent.objects.get(event_type="auth.password_changed")
    assert event.actor_id == world.owner_a.pk
    assert "another-Secret-42" not in str(event.extra)
    # The session survives the change.
    assert client.get(reverse("portal:dashboard")).status_code == 200


def test_password_change_with_wrong_old_password_changes_nothing(login, world):
    client = login(world.owner_a)
    response = client.post(
        reverse("portal:password_change"),
        {"old_password": "nope", "new_password1": "x-Secret-42", "new_password2": "x-Secret-42"},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    world.owner_a.refresh_from_db()
    assert world.owner_a.check_password(PASSWORD)


def test_password_reset_sends_a_site_url_link_that_works(client, world, settings):
    settings.SITE_URL = "https://finops.example.net"
    response = client.post(reverse("portal:password_reset"), {"email": "owner-a@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "https://finops.example.net/portal/password/reset/" in body
    form_url = client.get(link_path(body)).url  # token moved into the session
    response = client.post(
        form_url, {"new_password1": "reset-Secret-42", "new_password2": "reset-Secret-42"}
    )
    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")
    world.owner_a.refresh_from_db()
    assert world.owner_a.check_password("reset-Secret-42")
    assert AuditEvent.objects.filter(event_type="auth.password_reset").count() == 1
    # The link is single-use.
    assert client.get(link_path(body)).context["validlink"] is False


def test_password_reset_for_unknown_email_sends_nothing_but_looks_the_same(client, world):
    response = client.post(reverse("portal:password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response.url == reverse("portal:password_reset_done")
    assert mail.outbox == []


def test_password_reset_reaches_invited_people_without_a_password(client, db):
    invited = UserFactory(username="invited@example.com", email="invited@example.com")
    invited.set_unusable_password()
    invited.save()
    client.post(reverse("portal:password_reset"), {"email": "invited@example.com"})
    assert [m.to for m in mail.outbox] == [["invited@example.com"]]
    assert settings.SITE_URL in mail.outbox[0].body


def test_bad_reset_link_shows_an_invalid_link_page(client, db):
    response = client.get(
        reverse("portal:password_reset_confirm", kwargs={"uidb64": "MTIz", "token": "abc-def"})
    )
    assert response.status_code == 200
    assert response.context["validlink"] is False
