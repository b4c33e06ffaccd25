from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers.adapters.base import ProviderAuthError
from providers.adapters.yandex import ps256
from providers.adapters.yandex.simulator import Fault, YandexCloudSimulator
from tests.providers.adapters.support import drain


def _other_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_oauth_token_verifies(sim, adapter):
    result = adapter.verify()

    assert "authenticated" in result.message
    assert sim.iam.exchanges == 1


def test_wrong_oauth_token_fails_at_once_and_never_leaks(sim, make_adapter, sleeps):
    secret = "y0_wrong-token-that-must-stay-secret"
    adapter = make_adapter(sim, {"oauth_token": secret})

    with pytest.raises(ProviderAuthError) as caught:
        adapter.verify()

    assert adapter.api_calls == 1 and sleeps == []
    assert "401" in str(caught.value) and "OAuth" in str(caught.value)
    assert secret not in str(caught.value)


def test_service_account_key_jwt_is_accepted(sim, make_adapter):
    key = sim.issue_service_account_key()
    assert key["private_key"].startswith("PLEASE DO NOT REMOVE THIS LINE!")

    result = make_adapter(sim, key).verify()

    assert key["service_account_id"] in result.message
    assert sim.iam.rejected_jwts == 0


def test_jwt_signed_with_another_key_is_refused(sim, make_adapter, sleeps):
    key = {**sim.issue_service_account_key(), "private_key": _other_private_key_pem()}
    adapter = make_adapter(sim, key)

    with pytest.raises(ProviderAuthError) as caught:
        adapter.verify()

    assert "signature" in str(caught.value)
    assert sim.iam.rejected_jwts == 1 and sleeps == []
    assert "PRIVATE KEY" not in str(caught.value)


def test_revoked_key_is_refused(sim, make_adapter):
    key = sim.issue_service_account_key()
    sim.iam.revoke_key(key["id"])

    with pytest.raises(ProviderAuthError, match="unknown key id"):
        make_adapter(sim, key).verify()


def test_jwt_round_trip_and_tampering():
    private = ps256.load_private_key("banner line\n" + _other_private_key_pem())
    token = ps256.sign({"iss": "sa", "aud": "x"}, private, kid="k1")

    assert ps256.unverified_header(token) == {"typ": "JWT", "alg": "PS256", "kid": "k1"}
    assert ps256.verify(token, private.public_key()) == {"iss": "sa", "aud": "x"}
    header, _, signature = token.split(".")
    forged = ps256.sign({"iss": "intruder", "aud": "x"}, private, kid="k1").split(".")[1]
    with pytest.raises(ps256.InvalidJWT):
        ps256.verify(f"{header}.{forged}.{signature}", private.public_key())


def test_iam_token_is_cached_across_calls(sim, adapter):
    list(adapter.discover())
    list(adapter.discover())

    assert sim.iam.exchanges == 1


def test_iam_token_is_refreshed_before_it_expires(sim, make_adapter):
    offset = [0.0]
    adapter = make_adapter(sim, clock=lambda: time.time() + offset[0])
    adapter.verify()

    offset[0] = 3500.0
    adapter.verify()
    assert sim.iam.exchanges == 1

    offset[0] = 3600.0  # an hour after issue: Yandex advises hourly refresh
    adapter.verify()
    assert sim.iam.exchanges == 2


def test_short_lived_token_is_refreshed_by_its_expiry(make_adapter):
    with YandexCloudSimulator(token_ttl_s=400) as sim:
        offset = [0.0]
        adapter = make_adapter(sim, clock=lambda: time.time() + offset[0])
        adapter.verify()
        offset[0] = 150.0  # 250 s left, inside the five-minute margin
        adapter.verify()

        assert sim.iam.exchanges == 2


def test_tokens_expiring_mid_run_are_refreshed_and_the_listing_completes(make_adapter):
    with YandexCloudSimulator(seed=2, requests_per_token=6) as sim:
        found, error = drain(make_adapter(sim).discover())

        assert error is None
        assert len(found) == sim.expected_count()
        assert sim.iam.exchanges > 3


def test_token_revoked_between_calls_is_replaced_once(sim, adapter, sleeps):
    adapter.verify()
    sim.expire_tokens()

    found, error = drain(adapter.discover())

    assert error is None and len(found) == sim.expected_count()
    assert sim.iam.exchanges == 2 and sleeps == []


def test_refused_again_after_refresh_stops_the_run(sim, adapter):
    sim.inject(Fault("expire_token", path="/compute/v1/disks", times=0))

    found, error = drain(adapter.discover())

    assert isinstance(error, ProviderAuthError)
    assert "freshly issued" in str(error)
    assert sim.stats.by_path["/compute/v1/disks"] == 2  # the call, and one retry after refresh
    assert len(found) < sim.expected_count()


def test_a_denied_folder_is_skipped_not_retried_and_the_walk_goes_on(sim, adapter, sleeps):
    from providers.adapters.listing import ListingOutcome

    denied, readable = list(sim.inventory.folders)
    sim.denied_folders.add(denied)

    found, error = drain(adapter.discover())

    assert error is None  # a 403 concerns one folder, not the credentials
    assert sleeps == []
    report = adapter.listing
    assert report.finished and report.scopes_complete
    assert {r.sub_account for r in found if r.type not in ("cloud", "folder")} == {readable}
    assert report.units[("vm", denied)] == ListingOutcome.DENIED
    assert report.units[("vm", readable)] == ListingOutcome.COMPLETE
    assert not report.may_delete("vm", denied) and report.may_delete("vm", readable)
    assert any("Permission denied" in p.detail and "folderId=" in p.detail for p in report.problems)
