"""A read-only S3 client: ListObjectsV2 and streamed GetObject, signed with SigV4.

Why not boto3: we need two read calls. boto3 (+ botocore, ~80 MB installed) brings its own retry
modes, connection pools and thread-based transfer manager, which would sit beside our HttpClient
with different timeouts, backoff and error wording, and would be the only dependency of its size
for this feature. SigV4 for two GET calls is ~100 lines (``sigv4``), pinned by AWS's published
test vector, and lets every storage call share HttpClient's timeouts, backoff with jitter,
``Retry-After``, "never retry 401/403" and redaction. Any S3-compatible store works: Yandex Object
Storage (the default), AWS S3, GCS interoperability, Selectel, VK Cloud, MinIO.

Addressing is path-style (``{endpoint}/{bucket}/{key}``): Yandex and every S3-compatible store
accept it, and it lets the endpoint carry a path (the simulator serves under ``/s3``).

Object bodies are streamed to a file in 1 MiB chunks, hashed on the way (SHA-256 for duplicate
detection, MD5 to check a single-part ETag), so memory does not grow with file size. A broken or
truncated transfer is retried from the start; a body that does not match its ETag is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlencode

import requests

from providers.adapters.base import ProviderResponseError, ProviderUnavailable
from providers.adapters.retry import TRANSPORT_ERRORS
from providers.costs.sources import sigv4
from providers.costs.sources.transport import RawHttpClient, local_name, parse_untrusted_xml

CHUNK_BYTES = 1 << 20
PAGE_SIZE = 1000  # S3's maximum
DOWNLOAD_ATTEMPTS = 3
PROVIDER = "Object Storage"


class ObjectTooLarge(ProviderResponseError):
    """The object is larger than the cost file limit: refused, not retried."""


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str  # without the quotes
    last_modified: dt.datetime
    size: int


@dataclass(frozen=True)
class Downloaded:
    size: int
    sha256: str
    etag: str
    last_modified: dt.datetime | None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class S3Client:
    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        access_key_id: str,
        secret_key: str,
        http: RawHttpClient | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.endpoint = endpoint_url.rstrip("/")
        self.region = region
        self.access_key_id = access_key_id
        self._secret_key = secret_key
        self.http = http or RawHttpClient(provider=PROVIDER, timeout=(5.0, 60.0))
        self.http.add_secrets([secret_key])
        self.clock = clock
        self.page_size = page_size

    @property
    def api_calls(self) -> int:
        return self.http.api_calls

    # -- calls -----------------------------------------------------------------------------------

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[S3Object]:
        """Every object under ``prefix``, following continuation tokens."""
        token = None
        while True:
            query = {"list-type": "2", "max-keys": str(self.page_size), "prefix": prefix}
            if token:
                query["continuation-token"] = token
            url = f"{self._bucket_url(bucket)}?{sigv4.canonical_query(urlencode(query))}"
            response = self._get(url)
            objects, next_token = _parse_listing(response.content)
            yield from objects
            if next_token is None:
                return
            if next_token == token:
                raise ProviderResponseError(f"{PROVIDER}: the listing repeats its page; stopped")
            token = next_token

    def download(
        self, bucket: str, key: str, out: BinaryIO, *, max_bytes: int | None = None
    ) -> Downloaded:
        """Stream the object into ``out`` (from its start); retried whole on a broken transfer.
        A body growing past ``max_bytes`` is cut off with ObjectTooLarge, whatever the listing
        or Content-Length said."""
        url = f"{self._bucket_url(bucket)}/{sigv4.quote_key(key)}"
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            out.seek(0)
            out.truncate()
            response = self._get(url, stream=True)
            try:
                return self._receive(response, key, out, max_bytes)
            except ObjectTooLarge:
                raise
            except (ProviderUnavailable, ProviderResponseError) as exc:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise exc.annotate(f"gave up after {attempt} downloads") from None
            finally:
                response.close()
        raise AssertionError("unreachable")

    # -- internals -------------------------------------------------------------------------------

    def _bucket_url(self, bucket: str) -> str:
        return f"{self.endpoint}/{sigv4.quote_key(bucket)}"

    def _get(self, url: str, *, stream: bool = False) -> requests.Response:
        def signed() -> dict[str, str]:
            return sigv4.sign(
                "GET",
                url,
                access_key_id=self.access_key_id,
                secret_key=self._secret_key,
                region=self.region,
                now=self.clock(),
            )

        return self.http.request_raw("GET", url, headers=signed, stream=stream)

    def _receive(
        self, response: requests.Response, key: str, out: BinaryIO, max_bytes: int | None
    ) -> Downloaded:
        sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                if max_bytes is not None and size + len(chunk) > max_bytes:
                    raise ObjectTooLarge(
                        f"{PROVIDER}: {key} is larger than the cost file limit "
                        f"({max_bytes} bytes, setting COST_FILE_MAX_MB); not downloaded further"
                    )
                out.write(chunk)
                sha256.update(chunk)
                md5.update(chunk)
                size += len(chunk)
        except TRANSPORT_ERRORS as exc:
            raise ProviderUnavailable(
                f"{PROVIDER}: download of {key} broke off after {size} bytes ({type(exc).__name__})"
            ) from None
        out.flush()
        expected = response.headers.get("Content-Length")
        if expected is not None and int(expected) != size:
            raise ProviderUnavailable(
                f"{PROVIDER}: download of {key} ended at {size} of {expected} bytes"
            )
        etag = response.headers.get("ETag", "").strip('"')
        # A single-part upload's ETag is the MD5 of the body; multipart ETags ("…-N") are not.
        if len(etag) == 32 and "-" not in etag and etag != md5.hexdigest():
            raise ProviderResponseError(
                f"{PROVIDER}: {key} does not match its ETag (changed or corrupted in transit)"
            )
        modified = response.headers.get("Last-Modified")
        return Downloaded(
            size=size,
            sha256=sha256.hexdigest(),
            etag=etag,
            last_modified=_http_date(modified) if modified else None,
        )


def _parse_listing(body: bytes) -> tuple[list[S3Object], str | None]:
    root = parse_untrusted_xml(body, f"{PROVIDER}: ListObjectsV2")
    if local_name(root.tag) != "ListBucketResult":
        raise ProviderResponseError(f"{PROVIDER}: ListObjectsV2 answered <{root.tag}>")
    objects, truncated, next_token = [], False, None
    for child in root:
        name = local_name(child.tag)
        if name == "Contents":
            fields = {local_name(part.tag): (part.text or "") for part in child}
            try:
                objects.append(
                    S3Object(
                        key=fields["Key"],
                        etag=fields.get("ETag", "").strip('"'),
                        last_modified=_iso_instant(fields["LastModified"]),
                        size=int(fields.get("Size") or 0),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise ProviderResponseError(
                    f"{PROVIDER}: ListObjectsV2 entry unreadable ({type(exc).__name__}: {exc})"
                ) from None
        elif name == "IsTruncated":
            truncated = (child.text or "").strip().lower() == "true"
        elif name == "NextContinuationToken":
            next_token = child.text or None
    if truncated and not next_token:
        raise ProviderResponseError(f"{PROVIDER}: truncated listing without a continuation token")
    return objects, next_token if truncated else None


def _iso_instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _http_date(text: str) -> dt.datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None
