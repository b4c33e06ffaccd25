"""SigV4 against AWS's published examples, and the S3 client against the simulator's Object
Storage over real HTTP: paging, streaming downloads, retries, and S3's error answers."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
import requests

from providers.adapters.base import ProviderAuthError, ProviderResponseError
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.costs.sources import sigv4
from providers.costs.sources.s3 import S3Client
from providers.costs.sources.transport import RawHttpClient

AWS_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
AWS_TIME = dt.datetime(2013, 5, 24, tzinfo=dt.UTC)


def _aws_sign(url, **headers):
    return sigv4.sign(
        "GET",
        url,
        access_key_id=AWS_KEY[0],
        secret_key=AWS_KEY[1],
        region="us-east-1",
        now=AWS_TIME,
        headers=headers,
    )["Authorization"]


def test_signatures_match_the_aws_documentation_examples():
    # docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: GET Object, List.
    get = _aws_sign("https://examplebucket.s3.amazonaws.com/test.txt", Range="bytes=0-9")
    assert get.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    listing = _aws_sign("https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J")
    assert listing.endswith(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    )
    assert listing.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    )


def test_keys_and_queries_are_encoded_canonically():
    assert sigv4.quote_key("billing/2026 02/файл+1.csv") == (
        "billing/2026%2002/%D1%84%D0%B0%D0%B9%D0%BB%2B1.csv"
    )
    assert sigv4.canonical_query("prefix=a b&list-type=2&max-keys=5") == (
        "list-type=2&max-keys=5&prefix=a%20b"
    )
    assert sigv4.host_header("https://storage.yandexcloud.net:443/x") == "storage.yandexcloud.net"
    assert sigv4.host_header("http://127.0.0.1:8080/s3") == "127.0.0.1:8080"


@pytest.fixture(scope="module")
def storage_sim():
    with YandexCloudSimulator(SimulatorConfig(seed=5, folders=1, resources_per_folder=30)) as sim:
        sim.billing.today = dt.date(2026, 2, 14)
        sim.billing.days = 3
        yield sim


def _client(sim, *, secret=DEFAULT_SECRET_KEY, key_id=DEFAULT_ACCESS_KEY_ID, **kwargs):
    sleeps = kwargs.pop("sleeps", [])
    http = RawHttpClient(
        provider="Object Storage", sleep=sleeps.append, rng=random.Random(0), max_attempts=3
    )
    return S3Client(
        endpoint_url=sim.s3_url,
        region="ru-central1",
        access_key_id=key_id,
        secret_key=secret,
        http=http,
        **kwargs,
    )


def test_listing_follows_continuation_tokens(storage_sim):
    for n in range(7):
        storage_sim.storage.put_object("paged", f"focus/part-{n:02d}.csv", b"x" * n)
    storage_sim.storage.put_object("paged", "other/skip.csv", b"")
    client = _client(storage_sim, page_size=3)

    keys = [o.key for o in client.list_objects("paged", "focus/")]

    assert keys == [f"focus/part-{n:02d}.csv" for n in range(7)]
    assert client.api_calls == 3  # 3 + 3 + 1


def test_download_streams_the_body_and_checks_its_etag(storage_sim):
    body = ("line,with,text\n" * 200_000).encode()  # ~3 MB: several 1 MiB chunks
    stored = storage_sim.storage.put_object("big", "weird name+1.csv", body)
    out = io.BytesIO()

    got = _client(storage_sim).download("big", "weird name+1.csv", out)

    assert out.getvalue() == body
    assert (got.size, got.etag) == (len(body), stored.etag)
    listed = next(iter(_client(storage_sim).list_objects("big")))
    assert (listed.etag, listed.size) == (stored.etag, len(body))


def test_transient_failures_are_retried_with_backoff(storage_sim):
    storage_sim.storage.fail_next(2, status=503)
    sleeps = []
    client = _client(storage_sim, sleeps=sleeps)

    objects = list(client.list_objects("yc-billing-export", "billing/"))

    assert len(objects) == 3
    assert len(sleeps) == 2 and client.http.retries == 2


def test_a_truncated_body_is_downloaded_again(storage_sim):
    storage_sim.storage.truncate_next(1)
    out = io.BytesIO()
    key = "billing/20260214.csv"

    got = _client(storage_sim).download("yc-billing-export", key, out)

    assert got.size == len(storage_sim.billing.file(dt.date(2026, 2, 14)).body)
    assert out.getvalue() == storage_sim.billing.file(dt.date(2026, 2, 14)).body


@pytest.mark.parametrize(
    ("client_kwargs", "code"),
    [
        ({"secret": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"key_id": "YCAJEnobody"}, "InvalidAccessKeyId"),
        (
            {"clock": lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)},
            "RequestTimeTooSkewed",
        ),
    ],
)
def test_refused_credentials_are_auth_errors_and_not_retried(storage_sim, client_kwargs, code):
    client = _client(storage_sim, **client_kwargs)

    with pytest.raises(ProviderAuthError) as caught:
        list(client.list_objects("yc-billing-export"))

    assert code in str(caught.value)
    assert "not-the-secret" not in str(caught.value)
    assert client.api_calls == 1


def test_the_simulator_verifies_the_whole_signature(storage_sim):
    url = f"{storage_sim.s3_url}/yc-billing-export?list-type=2&prefix=billing%2F"
    headers = sigv4.sign(
        "GET",
        url,
        access_key_id=DEFAULT_ACCESS_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        region="ru-central1",
        now=dt.datetime.now(dt.UTC),
    )

    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    tampered = url.replace("prefix=billing%2F", "prefix=other")
    answer = requests.get(tampered, headers=headers, timeout=5)
    assert answer.status_code == 403 and b"SignatureDoesNotMatch" in answer.content
    unsigned = requests.get(url, timeout=5)
    assert unsigned.status_code == 403 and b"AccessDenied" in unsigned.content


def test_a_missing_bucket_is_a_readable_error(storage_sim):
    with pytest.raises(ProviderResponseError) as caught:
        list(_client(storage_sim).list_objects("no-such-bucket"))

    assert "NoSuchBucket" in str(caught.value) and "HTTP 404" in str(caught.value)


def test_issued_keys_work_until_revoked(storage_sim):
    key_id, secret = storage_sim.storage.issue_key()
    client = _client(storage_sim, key_id=key_id, secret=secret)
    assert len(list(client.list_objects("yc-billing-export"))) == 3

    storage_sim.storage.revoke_key(key_id)

    with pytest.raises(ProviderAuthError):
        list(client.list_objects("yc-billing-export"))
