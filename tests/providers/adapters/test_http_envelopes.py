"""HttpClient with a provider envelope, over real HTTP: Beget's errors sent with HTTP 200.

A small server built on the shared simulator base answers in Beget's two error styles; the
client decodes them into the same errors an HTTP status would give (auth refused, rate limited
and retried, a method missing), and a client without the envelope sees the raw body.
"""

from __future__ import annotations

import random

import pytest

from providers.adapters.base import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderResponseError,
)
from providers.adapters.beget.envelope import LIMIT_RETRY_AFTER_S, BegetEnvelope
from providers.adapters.http import HttpClient
from providers.adapters.listing import ListingOutcome, outcome_of
from providers.adapters.simulation import SimResponse, SimulatorServer

PASSWORD = "beget-api-password-1"
ACCOUNT = {"plan_name": "Blog", "user_balance": 1339.57, "user_rate_current": "11.50"}


def _ok(result):
    return {"status": "success", "answer": {"status": "success", "result": result}}


def _request_error(code, text):
    return {"status": "error", "error_code": code, "error_text": text}


class BegetLike(SimulatorServer):
    """Beget's hosting API wire format, reduced to what the envelope needs."""

    ANSWERS = {
        "/api/user/getAccountInfo": _ok(ACCOUNT),
        "/api/site/getList": _ok([]),
        "/api/domain/getList": {
            "status": "success",
            "answer": {
                "status": "error",
                "errors": [
                    {"error_code": "INVALID_DATA", "error_text": "Field 'id' is required"},
                    {"error_code": "INVALID_DATA", "error_text": "Field 'fqdn' is invalid"},
                ],
            },
        },
        "/api/backup/getFileBackupList": {"status": "success", "answer": {"status": "error"}},
        "/api/nothing/here": _request_error("NO_SUCH_METHOD", "No such method"),
        "/api/not/enveloped": {"result": []},
    }

    def route(self, request):
        if request.query.get("passwd") != PASSWORD:
            return _request_error("AUTH_ERROR", "Username/password incorrect")
        return self.ANSWERS[request.path]

    def envelope_error(self, fault, request):
        return SimResponse(_request_error(fault.code, "Request limit exceeded"))


@pytest.fixture
def beget():
    with BegetLike() as server:
        yield server


@pytest.fixture
def sleeps():
    return []


def _client(sleeps, envelope=True, **options) -> HttpClient:
    client = HttpClient(
        provider="Beget",
        envelope=BegetEnvelope() if envelope else None,
        sleep=sleeps.append,
        rng=random.Random(0),
        timeout=(2.0, 5.0),
        **options,
    )
    client.add_secrets([PASSWORD])
    return client


def _get(client, beget, path, password=PASSWORD):
    params = {"login": "acme", "passwd": password, "output_format": "json"}
    return client.request_json("GET", beget.url + path, params=params)


def test_a_successful_answer_is_unwrapped_to_its_result(beget, sleeps):
    client = _client(sleeps)

    assert _get(client, beget, "/api/user/getAccountInfo") == ACCOUNT
    assert _get(client, beget, "/api/site/getList") == []
    assert client.api_calls == 2


def test_a_request_level_auth_error_is_an_auth_failure_never_retried(beget, sleeps):
    client = _client(sleeps)

    with pytest.raises(ProviderAuthError) as caught:
        _get(client, beget, "/api/user/getAccountInfo", password="wrong-password-9")

    error = caught.value
    assert (error.status, error.code) == (401, "AUTH_ERROR")
    assert "Username/password incorrect" in str(error)
    assert "GET /api/user/getAccountInfo" in str(error)
    assert "wrong-password-9" not in str(error) and "passwd" not in str(error)
    assert client.api_calls == 1 and sleeps == []


def test_a_method_level_error_inside_a_success_envelope_is_a_response_error(beget, sleeps):
    client = _client(sleeps)

    with pytest.raises(ProviderResponseError) as caught:
        _get(client, beget, "/api/domain/getList")

    assert caught.value.code == "INVALID_DATA"
    assert "Field 'id' is required; Field 'fqdn' is invalid" in str(caught.value)
    assert client.api_calls == 1


def test_a_rate_limit_sent_with_http_200_is_retried_like_a_429(beget, sleeps):
    beget.inject("envelope_error", code="LIMIT_ERROR", times=2)
    client = _client(sleeps)

    assert _get(client, beget, "/api/user/getAccountInfo") == ACCOUNT

    assert client.api_calls == 3
    assert len(sleeps) == 2
    assert all(LIMIT_RETRY_AFTER_S <= s <= LIMIT_RETRY_AFTER_S * 1.1 for s in sleeps)


def test_a_rate_limit_that_never_ends_gives_up_after_the_attempt_budget(beget, sleeps):
    beget.inject("envelope_error", code="LIMIT_ERROR", times=0)
    client = _client(sleeps, max_attempts=3)

    with pytest.raises(ProviderRateLimited, match="gave up after 3 attempts"):
        _get(client, beget, "/api/user/getAccountInfo")
    assert client.api_calls == 3


def test_an_unknown_method_is_absent_for_the_listing_rules(beget, sleeps):
    with pytest.raises(ProviderResponseError) as caught:
        _get(_client(sleeps), beget, "/api/nothing/here")

    assert outcome_of(caught.value) == ListingOutcome.ABSENT


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/not/enveloped", "unknown envelope status None"),
        ("/api/backup/getFileBackupList", "answered an error"),
    ],
)
def test_bodies_outside_the_envelope_rules_are_response_errors(beget, sleeps, path, message):
    with pytest.raises(ProviderResponseError, match=message):
        _get(_client(sleeps), beget, path)


def test_a_client_without_the_envelope_sees_the_raw_body(beget, sleeps):
    body = _get(_client(sleeps, envelope=False), beget, "/api/user/getAccountInfo", "wrong-1")

    assert body == _request_error("AUTH_ERROR", "Username/password incorrect")
