"""The replay store holds across database connections (processes): one claim wins."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from core.models import SeenNonce
from core.replay import claim_once, purge_expired, release

WINDOW = dt.timedelta(minutes=10)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_claims_from_separate_connections_have_one_winner():
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def claim(value):
        try:
            barrier.wait()
            results.append(claim_once("test", value, WINDOW))
        finally:
            connection.close()

    for round_ in range(5):
        results.clear()
        threads = [threading.Thread(target=claim, args=(f"sig-{round_}",)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 5 + [True]


@pytest.mark.django_db
def test_expired_claim_can_be_claimed_again_and_released_claims_are_forgotten():
    assert claim_once("test", "a", WINDOW)
    assert not claim_once("test", "a", WINDOW)
    assert claim_once("other-scope", "a", WINDOW)  # scopes are separate
    SeenNonce.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert claim_once("test", "a", WINDOW)
    release("test", "a")
    assert claim_once("test", "a", WINDOW)
    assert "a" not in set(SeenNonce.objects.values_list("key", flat=True))  # digests only


@pytest.mark.django_db
def test_purge_drops_only_expired_claims():
    claim_once("test", "old", WINDOW)
    claim_once("test", "new", WINDOW)
    SeenNonce.objects.filter(pk=SeenNonce.objects.order_by("pk").first().pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert purge_expired() == 1
    assert SeenNonce.objects.count() == 1
