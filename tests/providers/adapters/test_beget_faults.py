"""Every Beget simulator fault knob against the adapter over real HTTP: what is retried, what
gives up, what is an auth failure, and which refusals only skip one service."""

from __future__ import annotations

import pytest

from providers.adapters.base import (
    ProviderAuthError,
    ProviderPermissionDenied,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
    ResourceType,
)
from providers.adapters.beget.envelope import LIMIT_RETRY_AFTER_S
from tests.providers.adapters.support import drain

HOSTING = "/api/"
SERVERS = "/v1/vps/server/list"


def _complete(adapter, sim):
    records, error = drain(adapter.discover())
    assert error is None, error
    assert len(records) == sim.expected_count()
    assert adapter.listing.fully_complete
    return records


def test_http_429_is_retried_after_retry_after(beget_sim, beget, sleeps):
    beget_sim.inject("rate_limit", retry_after=3, times=2, path=HOSTING)
    _complete(beget, beget_sim)
    assert len(sleeps) == 2 and all(3.0 <= s < 6.0 for s in sleeps)  # Retry-After + jitter


def test_http_429_on_every_attempt_gives_up(beget_sim, make_beget):
    beget_sim.inject("rate_limit", times=0, path=SERVERS)
    adapter = make_beget(beget_sim, max_attempts=3)
    records, error = drain(adapter.discover())
    assert isinstance(error, ProviderRateLimited)
    assert "gave up after 3 attempts" in str(error)
    # What came before the servers is kept; the servers' unit failed, nothing was finished.
    assert ResourceType.SITE in {r.type for r in records}
    assert adapter.listing.type_outcomes()["vm"] == "failed"
    assert not adapter.listing.finished


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_even_as_an_html_page(beget_sim, beget, status):
    beget_sim.inject("unavailable", status=status, times=2)
    _complete(beget, beget_sim)


def test_5xx_on_every_attempt_gives_up_with_the_status(beget_sim, make_beget):
    beget_sim.inject("unavailable", status=502, times=0, path=HOSTING)
    adapter = make_beget(beget_sim, max_attempts=2)
    with pytest.raises(ProviderUnavailable, match="HTTP 502"):
        adapter.verify()


def test_a_slow_answer_times_out_and_is_retried(beget_sim, make_beget):
    beget_sim.inject("slow", delay=1.0, times=1, path=HOSTING)
    adapter = make_beget(beget_sim, timeout=(1.0, 0.3))
    _complete(adapter, beget_sim)


def test_a_dropped_connection_is_retried(beget_sim, beget):
    beget_sim.inject("disconnect", times=2)
    _complete(beget, beget_sim)


def test_a_malformed_body_ends_the_walk_without_finishing_it(beget_sim, beget):
    beget_sim.inject("malformed", times=1, path="/api/domain/")
    _records, error = drain(beget.discover())
    assert isinstance(error, ProviderResponseError)
    assert "not valid JSON" in str(error)
    assert beget.listing.type_outcomes()["domain"] == "failed"
    assert not beget.listing.finished
    assert not beget.listing.may_delete("domain", "")


@pytest.mark.parametrize("code", ["LIMIT_ERROR", "answer:LIMIT_ERROR"])
def test_limit_error_in_either_envelope_is_retried_after_the_default_wait(
    beget_sim, beget, sleeps, code
):
    beget_sim.inject("envelope_error", code=code, times=2, path=HOSTING)
    _complete(beget, beget_sim)
    # Beget sends no Retry-After: the envelope's default wait, plus jitter.
    assert len(sleeps) == 2
    assert all(LIMIT_RETRY_AFTER_S <= s < 2 * LIMIT_RETRY_AFTER_S for s in sleeps)


def test_limit_error_on_every_attempt_gives_up(beget_sim, make_beget):
    beget_sim.inject("envelope_error", code="LIMIT_ERROR", times=0, path=HOSTING)
    with pytest.raises(ProviderRateLimited, match="LIMIT_ERROR"):
        make_beget(beget_sim, max_attempts=2).verify()


def test_internal_error_with_http_200_is_retried(beget_sim, beget):
    beget_sim.inject("envelope_error", code="INTERNAL_ERROR", times=1, path=HOSTING)
    _complete(beget, beget_sim)


def test_a_method_error_is_not_retried_and_names_its_code(beget_sim, beget):
    beget_sim.inject("envelope_error", code="answer:INVALID_DATA", times=1, path="/api/site/")
    _records, error = drain(beget.discover())
    assert isinstance(error, ProviderResponseError)
    assert "INVALID_DATA" in str(error)
    assert beget_sim.stats.by_path["/api/site/getList"] == 1


def test_auth_error_with_http_200_is_an_auth_failure_never_retried(beget_sim, beget):
    beget_sim.inject("envelope_error", code="AUTH_ERROR", times=1, path=HOSTING)
    with pytest.raises(ProviderAuthError) as caught:
        list(beget.discover())
    assert not isinstance(caught.value, ProviderPermissionDenied)
    assert beget_sim.stats.requests == 1


def test_a_wrong_api_password_is_refused_and_never_shown(beget_sim, make_beget):
    credentials = {**beget_sim.credentials, "api_password": "wrong-password-123"}
    with pytest.raises(ProviderAuthError) as caught:
        make_beget(beget_sim, credentials).verify()
    assert "AUTH_ERROR" in str(caught.value)
    assert "wrong-password-123" not in str(caught.value)


def test_a_wrong_vps_password_is_an_auth_failure(beget_sim, make_beget):
    credentials = {**beget_sim.credentials, "vps_password": "wrong-vps-password"}
    adapter = make_beget(beget_sim, credentials)
    _records, error = drain(adapter.discover())
    assert isinstance(error, ProviderAuthError)
    assert "INCORRECT_CREDENTIALS" in str(error)
    assert "wrong-vps-password" not in str(error)
    assert beget_sim.stats.by_path["/v1/auth"] == 1


def test_an_expired_vps_token_is_renewed_once_with_the_login(beget_sim, beget):
    beget_sim.inject("expire_token", times=1, path=SERVERS)
    _complete(beget, beget_sim)
    assert beget.client.token_exchanges == 2


def test_tokens_dying_mid_run_are_renewed(make_beget):
    from providers.adapters.beget.simulator import BegetSimulator

    with BegetSimulator(servers=12, requests_per_token=2) as sim:
        adapter = make_beget(sim, vps_page_size=2)
        _complete(adapter, sim)
        assert adapter.client.token_exchanges >= 3


def test_an_expired_given_token_cannot_be_renewed(beget_sim, make_beget):
    adapter = make_beget(beget_sim, beget_sim.token_credentials)
    beget_sim.expire_tokens()
    _records, error = drain(adapter.discover())
    assert isinstance(error, ProviderAuthError) and error.status == 401
    assert beget_sim.stats.by_path.get("/v1/auth", 0) == 0


def test_a_vps_error_sent_with_http_200_is_an_error(beget_sim, beget):
    beget_sim.inject("envelope_error", code="INTERNAL", times=1, path=SERVERS)
    _records, error = drain(beget.discover())
    assert isinstance(error, ProviderResponseError) and "INTERNAL" in str(error)


# --- one service refused: skipped and reported, the rest read --------------------------------


@pytest.mark.parametrize("method_level", [False, True])
def test_a_section_without_api_access_is_denied_and_skipped(beget_sim, beget, method_level):
    beget_sim.deny_service("backup", method_level=method_level)

    records, error = drain(beget.discover())

    assert error is None
    assert ResourceType.BACKUP not in {r.type for r in records}
    assert beget.listing.type_outcomes()["backup"] == "denied"
    assert beget.listing.type_outcomes()["site"] == "complete"
    assert beget.listing.finished and not beget.listing.fully_complete
    assert not beget.listing.may_delete("backup", "simacct")
    assert beget.listing.may_delete("domain", "simacct")
    [warning] = beget.listing.warnings()
    assert warning["message"].startswith("cannot read Backups: permission denied")


def test_no_such_method_is_an_absent_section(beget_sim, beget):
    beget_sim.remove_service("mysql")

    _records, error = drain(beget.discover())

    assert error is None
    assert beget.listing.type_outcomes()["database"] == "absent"
    assert not beget.listing.may_delete("database", "simacct")
    probes = {p.service: p.outcome for p in beget.verify().services}
    assert probes["mysql"] == "absent"


def test_a_vps_403_skips_the_servers_only(beget_sim, beget):
    beget_sim.deny_service("vps")

    records, error = drain(beget.discover())

    assert error is None
    assert ResourceType.VM not in {r.type for r in records}
    assert beget.listing.type_outcomes()["vm"] == "denied"
    assert len(records) == beget_sim.expected_count() - len(beget_sim.account.servers)
    assert {p.service: p.outcome for p in beget.verify().services}["vps"] == "denied"


def test_the_simulator_controls_switch_permissions_over_http(beget_sim):
    import requests

    answer = requests.post(
        f"{beget_sim.url}/_sim/permissions", json={"deny": ["site"], "absent": ["vps"]}, timeout=5
    ).json()
    assert answer == {"services": {"site": "deny", "vps": "absent"}}
    bad = requests.post(f"{beget_sim.url}/_sim/permissions", json={"deny": ["nope"]}, timeout=5)
    assert bad.status_code == 400
