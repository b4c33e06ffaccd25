"""The signed webhook that asks for an immediate sync of one connection."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from core.models import AuditEvent
from providers.services.connections import connection_set_enabled, webhook_secret
from providers.webhooks import sign

pytestmark = pytest.mark.django_db

BODY = b'{"event": "deploy finished"}'


@pytest.fixture
def csrf_client():
    # CSRF checks on, as in production: the webhook must not depend on a session or a token.
    return Client(enforce_csrf_checks=True)


def _post(client, connection_id, *, body=BODY, secret=None, timestamp=None, signature=None):
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    headers = {"X-InfraZen-Timestamp": timestamp}
    if signature is None and secret is not None:
        signature = sign(secret, timestamp, body)
    if signature is not None:
        headers["X-InfraZen-Signature"] = signature
    return client.post(
        f"/webhooks/connections/{connection_id}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def _sync_requests():
    return AuditEvent.objects.filter(event_type="connection.sync_requested")


def test_signed_call_requests_a_sync(
    csrf_client, yc_connection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(csrf_client, yc_connection.pk, secret=webhook_secret(yc_connection))

    assert response.status_code == 202, response.content
    assert response.json() == {"detail": "Sync requested."}
    assert len(callbacks) == 1  # the sync task is queued on commit
    event = _sync_requests().get()
    assert event.extra == {"trigger": "webhook"}
    assert event.actor is None
    assert event.source == "api"
    assert event.tenant_id == yc_connection.tenant_id
    assert event.ip_address == "127.0.0.1"


def test_empty_body_is_fine(csrf_client, yc_connection):
    response = _post(csrf_client, yc_connection.pk, body=b"", secret=webhook_secret(yc_connection))
    assert response.status_code == 202


@pytest.mark.parametrize(
    "signature",
    [None, "", "md5=abc", "sha256=" + "0" * 64, "sha256=not-hex"],
    ids=["missing", "empty", "other-scheme", "wrong", "garbage"],
)
def test_missing_or_wrong_signature_is_401(csrf_client, yc_connection, signature):
    response = _post(csrf_client, yc_connection.pk, signature=signature)

    assert response.status_code == 401
    assert response.json()["detail"]
    assert not _sync_requests().exists()


def test_signature_with_another_connections_secret_is_401(csrf_client, world, yc_connection):
    from tests.contracts.samples import _connection

    other = _connection(world.b)
    response = _post(csrf_client, yc_connection.pk, secret=webhook_secret(other))
    assert response.status_code == 401
    assert "does not match" in response.json()["detail"]


def test_tampered_body_is_401(csrf_client, yc_connection):
    timestamp = str(int(time.time()))
    signature = sign(webhook_secret(yc_connection), timestamp, BODY)
    response = _post(
        csrf_client,
        yc_connection.pk,
        body=b'{"event": "something else"}',
        timestamp=timestamp,
        signature=signature,
    )
    assert response.status_code == 401


@pytest.mark.parametrize("skew", [-360, 360, None], ids=["stale", "future", "not-a-number"])
def test_timestamp_outside_five_minutes_is_401(csrf_client, yc_connection, skew):
    timestamp = "yesterday" if skew is None else str(int(time.time()) + skew)
    response = _post(
        csrf_client, yc_connection.pk, secret=webhook_secret(yc_connection), timestamp=timestamp
    )
    assert response.status_code == 401
    assert not _sync_requests().exists()


@pytest.mark.parametrize(
    "timestamp",
    ["\u00b2", "\u0661\u0662\u0663", "9" * 400, "9" * 5000, " 1"],
    ids=["superscript-two", "arabic-digits", "overflows-a-float", "too-many-digits", "space"],
)
def test_malformed_timestamp_is_401_not_a_500(csrf_client, yc_connection, timestamp):
    # Unauthenticated input: str.isdigit() took these, then int() or the clock arithmetic broke.
    response = _post(
        csrf_client, yc_connection.pk, secret=webhook_secret(yc_connection), timestamp=timestamp
    )
    assert response.status_code == 401
    assert "Sign the request" in response.json()["detail"]
    assert not _sync_requests().exists()


def test_timestamp_is_signed_so_a_replay_cannot_refresh_it(csrf_client, yc_connection):
    old = str(int(time.time()) - 600)
    signature = sign(webhook_secret(yc_connection), old, BODY)
    # The captured signature with a fresh timestamp header does not verify.
    response = _post(
        csrf_client, yc_connection.pk, timestamp=str(int(time.time())), signature=signature
    )
    assert response.status_code == 401


def test_repeated_delivery_is_accepted_once(csrf_client, yc_connection):
    timestamp = str(int(time.time()))
    signature = sign(webhook_secret(yc_connection), timestamp, BODY)

    first = _post(csrf_client, yc_connection.pk, timestamp=timestamp, signature=signature)
    again = _post(csrf_client, yc_connection.pk, timestamp=timestamp, signature=signature)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == {"detail": "Already accepted."}
    assert _sync_requests().count() == 1


def test_unknown_connection_is_404(csrf_client, yc_connection):
    response = _post(csrf_client, yc_connection.pk + 1000, secret=webhook_secret(yc_connection))
    assert response.status_code == 404


def test_unsigned_call_to_unknown_connection_does_not_reveal_it(csrf_client, yc_connection):
    # Without a signature the answer is the same whether or not the connection exists.
    assert _post(csrf_client, yc_connection.pk + 1000).status_code == 401
    assert _post(csrf_client, yc_connection.pk).status_code == 401


def test_disabled_connection_is_409(csrf_client, world, yc_connection):
    connection_set_enabled(actor=world.owner_a, connection=yc_connection, enabled=False)
    yc_connection.refresh_from_db()

    response = _post(csrf_client, yc_connection.pk, secret=webhook_secret(yc_connection))

    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert not _sync_requests().exists()


def test_only_post_is_accepted(csrf_client, yc_connection):
    assert csrf_client.get(f"/webhooks/connections/{yc_connection.pk}/").status_code == 405


def test_replay_landing_on_another_process_is_still_refused(csrf_client, yc_connection):
    # Another web worker has its own (empty) per-process cache: clearing ours stands for it.
    from django.core.cache import cache

    timestamp = str(int(time.time()))
    signature = sign(webhook_secret(yc_connection), timestamp, BODY)
    first = _post(csrf_client, yc_connection.pk, timestamp=timestamp, signature=signature)
    cache.clear()
    again = _post(csrf_client, yc_connection.pk, timestamp=timestamp, signature=signature)
    assert first.status_code == again.status_code == 202
    assert again.json() == {"detail": "Already accepted."}
    assert _sync_requests().count() == 1
