"""Sign-in lockout (admin and portal) per account and per client IP, password-reset throttling,
failed-login audit redaction and the Content-Security-Policy of the admin and the portal."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.test import Client

from core.models import AuditEvent

GOOD = "pass-1234-word"  # tests.factories.UserFactory's password
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and lockout-event markers live in the (per-process) cache.
    from django.core.cache import cache

    cache.clear()


def _client(ip="10.0.0.1") -> Client:
    return Client(REMOTE_ADDR=ip)


def _portal_login(client, username, password):
    return client.post("/portal/login/", {"username": username, "password": password})


def _admin_login(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


@pytest.mark.parametrize("login", [_portal_login, _admin_login], ids=["portal", "admin"])
def test_an_account_is_locked_after_repeated_failures(world, login):
    client = _client()
    for _ in range(LIMIT - 1):
        assert login(client, "operator-a", "wrong").status_code == 200
    assert login(client, "operator-a", "wrong").status_code == 429  # the failure that locks
    # Even the right password is refused now, with a clear answer.
    locked = login(client, "operator-a", GOOD)
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    # From another network too: the lock is on the account.
    assert login(_client("10.0.0.2"), "operator-a", GOOD).status_code == 429
    events = AuditEvent.objects.filter(event_type="auth.locked_out").order_by("id")
    assert events[0].extra == {"username": "operator-a", "ip_address": "10.0.0.1"}
    # One event per lockout (account, network), not one per refused attempt.
    assert events.count() == 2
    # Other accounts from another network are not affected.
    assert login(_client("10.0.0.3"), "operator-b", GOOD).status_code == 302


def test_a_client_ip_is_locked_after_failures_across_accounts(world):
    client = _client("10.9.9.9")
    for n in range(LIMIT):
        _portal_login(client, f"guess-{n}", "wrong")
    assert _portal_login(client, "owner-a", GOOD).status_code == 429
    assert _portal_login(_client("10.9.9.10"), "owner-a", GOOD).status_code == 302


def test_success_before_the_limit_resets_the_count(world):
    client = _client()
    for _ in range(LIMIT - 1):
        _portal_login(client, "owner-a", "wrong")
    assert _portal_login(client, "owner-a", GOOD).status_code == 302
    client.post("/portal/logout/")
    for _ in range(LIMIT - 1):
        _portal_login(client, "owner-a", "wrong")
    assert _portal_login(client, "owner-a", GOOD).status_code == 302


def test_password_reset_requests_are_throttled_per_address(world):
    client = _client("10.1.1.1")
    for _ in range(settings.PASSWORD_RESET_LIMIT_PER_ADDRESS):
        response = client.post("/portal/password/reset/", {"email": "owner-a@example.com"})
        assert response.status_code == 302
    sent = len(mail.outbox)
    refused = client.post("/portal/password/reset/", {"email": "owner-a@example.com"})
    assert refused.status_code == 429
    assert "Too many password-reset requests" in refused.content.decode()
    assert len(mail.outbox) == sent
    client.post("/portal/password/reset/", {"email": "owner-a@example.com"})
    events = AuditEvent.objects.filter(event_type="auth.password_reset_throttled")
    assert events.count() == 1  # audited once, not on every refused request
    assert events.get().extra["address"] == "owner-a"
    # Another address from another network is served.
    other = _client("10.1.1.2").post("/portal/password/reset/", {"email": "owner-b@example.com"})
    assert other.status_code == 302


def test_failed_login_with_a_password_typed_as_username_stores_no_trace_of_it(world):
    typed = "Tr0ub4dor&3-horse"
    _portal_login(_client(), typed, "whatever")
    event = AuditEvent.objects.get(event_type="auth.login_failed")
    assert typed not in str(event.extra) and typed not in event.actor_repr
    assert event.extra["username"] is None
    assert re.fullmatch(r"unknown:[0-9a-f]{16}", event.extra["unknown_username"])
    assert not AccessAttempt.objects.filter(username__contains="Tr0ub").exists()
    # The same unknown name maps to the same marker, so repeated guesses stay visible.
    _portal_login(_client(), typed, "again")
    markers = {
        e.extra["unknown_username"]
        for e in AuditEvent.objects.filter(event_type="auth.login_failed")
    }
    assert len(markers) == 1


def test_failed_login_of_an_existing_account_by_email_names_the_account(world):
    _portal_login(_client(), "Owner-A@example.com", "wrong")
    event = AuditEvent.objects.get(event_type="auth.login_failed")
    assert event.extra == {"username": "owner-a"}


@pytest.mark.parametrize("path", ["/portal/login/", "/admin/login/"])
def test_admin_and_portal_send_a_content_security_policy(world, path):
    response = _client().get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy


def test_portal_pages_have_no_inline_scripts_or_styles(world, client):
    client.force_login(world.owner_a)
    for path in ("/portal/", "/portal/costs/", "/portal/team/", "/portal/resources/"):
        body = client.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), path
        assert " style=" not in body and "<style" not in body, path
        assert not re.search(r"\son[a-z]+=", body), path


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_send_a_policy_without_inline_scripts(world, client, path):
    """Before: the docs had no policy at all, and Swagger's page carried an inline init script."""
    client.force_login(world.operator_a)
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    script_src = next(p for p in policy.split("; ") if p.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)


def test_swagger_init_script_is_served_as_a_file(world, client):
    client.force_login(world.operator_a)
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content
