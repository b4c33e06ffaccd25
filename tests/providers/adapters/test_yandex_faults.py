"""Every fault knob: a run either completes with the full inventory or fails with a clear error
after yielding a listing that the caller can tell is partial."""

from __future__ import annotations

import pytest

from providers.adapters.base import (
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.adapters.retry import parse_retry_after
from providers.adapters.yandex.simulator import Fault
from tests.providers.adapters.support import drain


def test_429_waits_for_retry_after_and_completes(sim, adapter, sleeps):
    sim.inject(Fault("rate_limit", path="/compute/v1/disks", retry_after=3, times=2))

    found, error = drain(adapter.discover())

    assert error is None and len(found) == sim.expected_count()
    assert len(sleeps) == 2
    assert all(3 <= wait <= 3.3 for wait in sleeps)  # Retry-After plus at most 10% jitter
    assert sim.stats.faults["rate_limit"] == 2


def test_429_that_never_ends_raises_rate_limited(sim, adapter, sleeps):
    sim.inject(Fault("rate_limit", path="/vpc/", retry_after=1, times=0))

    found, error = drain(adapter.discover())

    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after == 1 and "gave up after 5 attempts" in str(error)
    assert len(sleeps) == 4
    assert 0 < len(found) < sim.expected_count()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_burst_is_retried_with_growing_jittered_backoff(sim, adapter, sleeps, status):
    sim.inject(Fault("unavailable", path="/managed-postgresql/", status=status, times=3))

    found, error = drain(adapter.discover())

    assert error is None and len(found) == sim.expected_count()
    assert len(sleeps) == 3
    for attempt, wait in enumerate(sleeps, start=1):
        assert 0 <= wait <= 0.5 * 2 ** (attempt - 1)


def test_5xx_that_persists_fails_the_run_as_unavailable(sim, adapter, sleeps):
    sim.inject(Fault("unavailable", path="/managed-kubernetes/", times=0))

    found, error = drain(adapter.discover())

    assert isinstance(error, ProviderUnavailable)
    assert "HTTP 503" in str(error) and "/managed-kubernetes/v1/clusters" in str(error)
    assert len(sleeps) == 4
    assert len(found) < sim.expected_count()


def test_slow_answer_times_out_and_is_retried(sim, make_adapter, sleeps):
    adapter = make_adapter(sim, timeout=(1.0, 0.3))
    sim.inject(Fault("slow", path="/storage/v1/buckets", delay=0.6, times=1))

    found, error = drain(adapter.discover())

    assert error is None and len(found) == sim.expected_count()
    assert len(sleeps) == 1


def test_slow_answer_within_the_timeout_just_arrives(sim, adapter, sleeps):
    sim.inject(Fault("slow", path="/compute/v1/images", delay=0.2, times=2))

    found, error = drain(adapter.discover())

    assert error is None and len(found) == sim.expected_count() and sleeps == []


def test_dropped_connection_is_retried(sim, adapter, sleeps):
    sim.inject(Fault("disconnect", path="/compute/v1/snapshots", times=1))

    found, error = drain(adapter.discover())

    assert error is None and len(found) == sim.expected_count()
    assert len(sleeps) == 1


def test_malformed_json_fails_cleanly_and_the_listing_is_partial(sim, adapter, sleeps):
    sim.inject(Fault("malformed", path="/vpc/v1/addresses", times=1))

    found, error = drain(adapter.discover())

    assert isinstance(error, ProviderResponseError)
    assert "not valid JSON" in str(error) and "/vpc/v1/addresses" in str(error)
    assert sleeps == []  # a body we cannot read is not a transient failure
    assert 0 < len(found) < sim.expected_count()


def test_malformed_iam_answer_is_a_response_error(sim, adapter):
    sim.inject(Fault("malformed", path="/iam/v1/tokens"))

    with pytest.raises(ProviderResponseError):
        adapter.verify()


def test_every_fault_at_once_still_yields_the_whole_inventory(sim, adapter, sleeps):
    sim.inject(Fault("rate_limit", every=7, times=3, retry_after=2))
    sim.inject(Fault("unavailable", every=5, times=3))
    sim.inject(Fault("disconnect", every=11, times=2))
    sim.inject(Fault("expire_token", every=9, times=2))
    sim.inject(Fault("slow", every=13, times=2, delay=0.05))

    found, error = drain(adapter.discover())

    assert error is None
    assert len(found) == sim.expected_count()
    assert sum(sim.stats.faults.values()) == 12
    assert sum(1 for wait in sleeps if wait >= 2) == 3


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("", None)],
)
def test_retry_after_header_forms(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_in_the_future():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
