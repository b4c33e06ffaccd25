"""An S3-compatible Object Storage endpoint for the simulator (path-style, under ``/s3``).

Serves ListObjectsV2 (XML, continuation tokens, ``prefix``, ``start-after``, ``max-keys``) and
GetObject (ETag = MD5 of the body, Last-Modified, Content-Length, body sent in chunks), with S3's
XML error envelope. Every request must carry a SigV4 ``Authorization`` header made with a key
pair the simulator issued, and the signature is verified in full (canonical request, scope,
15-minute clock skew), so a client bug shows up as SignatureDoesNotMatch, as on the real service.

Knobs: ``issue_key``/``revoke_key``, ``put_object``/``delete_object`` on plain buckets,
``fail_next`` (503 SlowDown with Retry-After) and ``truncate_next`` (a body cut off mid-way).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

from providers.costs.sources import sigv4

S3_PATH = "/s3"
DEFAULT_ACCESS_KEY_ID = "YCAJEsimulator0demo0key01"
# A fixed pair so the demo's cost sources survive simulator restarts; not a secret anywhere.
DEFAULT_SECRET_KEY = "YCsimulatorDemoSecretKey0000000000000000"  # noqa: S105
MAX_SKEW = dt.timedelta(minutes=15)
MAX_KEYS = 1000
CHUNK = 64 * 1024
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass(frozen=True)
class StoredObject:
    key: str
    body: bytes
    last_modified: dt.datetime
    content_type: str = "application/octet-stream"

    @property
    def etag(self) -> str:
        return hashlib.md5(self.body, usedforsecurity=False).hexdigest()


class Bucket(Protocol):
    def list(self) -> list[StoredObject]: ...

    def get(self, key: str) -> StoredObject | None: ...


class PlainBucket:
    """A bucket whose objects tests put and delete."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}

    def list(self) -> list[StoredObject]:
        return sorted(self.objects.values(), key=lambda o: o.key)

    def get(self, key: str) -> StoredObject | None:
        return self.objects.get(key)


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def body(self, resource: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"<Resource>{escape(resource)}</Resource>"
            f"<RequestId>{secrets.token_hex(8)}</RequestId></Error>"
        ).encode()


class ObjectStorage:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {DEFAULT_ACCESS_KEY_ID: DEFAULT_SECRET_KEY}
        self.buckets: dict[str, Bucket] = {}
        self.stats: Counter = Counter()
        self._failures: list[int] = []
        self._truncations = 0
        self._lock = threading.Lock()

    # -- knobs -----------------------------------------------------------------------------------

    def issue_key(self) -> tuple[str, str]:
        key_id = "YCAJE" + secrets.token_hex(10)
        secret = "YC" + secrets.token_urlsafe(30)
        with self._lock:
            self.keys[key_id] = secret
        return key_id, secret

    def revoke_key(self, key_id: str) -> None:
        with self._lock:
            self.keys.pop(key_id, None)

    def add_bucket(self, name: str, bucket: Bucket | None = None) -> Bucket:
        self.buckets[name] = bucket if bucket is not None else PlainBucket()
        return self.buckets[name]

    def put_object(
        self, bucket: str, key: str, body: bytes, *, last_modified: dt.datetime | None = None
    ) -> StoredObject:
        target = self.buckets.get(bucket) or self.add_bucket(bucket)
        if not isinstance(target, PlainBucket):
            raise TypeError(f"bucket {bucket} is generated; its objects cannot be put")
        stored = StoredObject(key, body, last_modified or dt.datetime.now(dt.UTC))
        target.objects[key] = stored
        return stored

    def delete_object(self, bucket: str, key: str) -> None:
        target = self.buckets.get(bucket)
        if isinstance(target, PlainBucket):
            target.objects.pop(key, None)

    def fail_next(self, times: int = 1, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def truncate_next(self, times: int = 1) -> None:
        with self._lock:
            self._truncations += times

    # -- HTTP ------------------------------------------------------------------------------------

    @staticmethod
    def owns(path: str) -> bool:
        return path == S3_PATH or path.startswith(S3_PATH + "/")

    def serve(self, handler: Any, method: str) -> None:
        """Answer one request on a BaseHTTPRequestHandler (the simulator's)."""
        raw_path, _, raw_query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)  # keep the keep-alive stream in step
        self.stats[method] += 1
        try:
            if method != "GET":
                raise S3Error(405, "MethodNotAllowed", f"{method} is not supported here")
            self._authenticate(handler, method, raw_path, raw_query)
            self._maybe_fail()
            bucket_name, _, key = raw_path[len(S3_PATH) + 1 :].partition("/")
            bucket = self.buckets.get(unquote(bucket_name))
            if bucket is None:
                raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
            if key:
                self._get_object(handler, bucket, unquote(key))
            else:
                self._list(handler, bucket, unquote(bucket_name), dict(parse_qsl(raw_query)))
        except S3Error as exc:
            self.stats[exc.code] += 1
            self._send(handler, exc.status, exc.body(raw_path), "application/xml", exc.headers)

    def _maybe_fail(self) -> None:
        with self._lock:
            status = self._failures.pop(0) if self._failures else None
        if status is not None:
            raise S3Error(
                status, "SlowDown", "Please reduce your request rate.", {"Retry-After": "0"}
            )

    def _authenticate(self, handler: Any, method: str, raw_path: str, raw_query: str) -> None:
        header = handler.headers.get("Authorization")
        if not header:
            raise S3Error(403, "AccessDenied", "Access Denied")
        auth = sigv4.parse_authorization(header)
        if auth is None:
            raise S3Error(
                400, "AuthorizationHeaderMalformed", "The authorization header is malformed"
            )
        with self._lock:
            secret = self.keys.get(auth.access_key_id)
        if secret is None:
            raise S3Error(
                403, "InvalidAccessKeyId", "The access key ID you provided does not exist"
            )
        amz_date = handler.headers.get("x-amz-date", "")
        payload = handler.headers.get("x-amz-content-sha256", "")
        if not {"host", "x-amz-date"} <= set(auth.signed_headers) or not payload:
            raise S3Error(400, "AuthorizationHeaderMalformed", "host and x-amz-date must be signed")
        try:
            when = dt.datetime.strptime(amz_date, sigv4.AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            raise S3Error(403, "AccessDenied", "x-amz-date is missing or malformed") from None
        if abs(dt.datetime.now(dt.UTC) - when) > MAX_SKEW:
            raise S3Error(403, "RequestTimeTooSkewed", "The request time is too far from ours")
        if auth.scope.split("/")[0] != amz_date[:8]:
            raise S3Error(403, "SignatureDoesNotMatch", "The credential date does not match")
        headers = {name: handler.headers.get(name, "") for name in auth.signed_headers}
        creq, _ = sigv4.canonical_request(method, raw_path, raw_query, headers, payload)
        expected = sigv4.signature(secret, amz_date, auth.scope, creq)
        if not hmac.compare_digest(expected, auth.signature):
            raise S3Error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
            )

    def _list(self, handler: Any, bucket: Bucket, name: str, query: dict[str, str]) -> None:
        if query.get("list-type") != "2":
            raise S3Error(400, "InvalidArgument", "Only ListObjectsV2 (list-type=2) is served")
        prefix = query.get("prefix", "")
        try:
            max_keys = min(MAX_KEYS, max(0, int(query.get("max-keys", MAX_KEYS))))
        except ValueError:
            raise S3Error(400, "InvalidArgument", "max-keys is not a number") from None
        after = query.get("start-after", "")
        token = query.get("continuation-token")
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise S3Error(400, "InvalidArgument", "The continuation token is invalid") from None
        matching = [o for o in bucket.list() if o.key.startswith(prefix) and o.key > after]
        page, rest = matching[:max_keys], matching[max_keys:]
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            f'<ListBucketResult xmlns="{S3_NS}"><Name>{escape(name)}</Name>',
            f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>",
            f"<MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if rest else 'false'}</IsTruncated>",
        ]
        if token:
            parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        if rest:
            following = base64.urlsafe_b64encode(page[-1].key.encode()).decode()
            parts.append(f"<NextContinuationToken>{following}</NextContinuationToken>")
        for obj in page:
            modified = obj.last_modified.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            parts.append(
                f"<Contents><Key>{escape(obj.key)}</Key><LastModified>{modified}</LastModified>"
                f"<ETag>&quot;{obj.etag}&quot;</ETag><Size>{len(obj.body)}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        parts.append("</ListBucketResult>")
        self._send(handler, 200, "".join(parts).encode(), "application/xml")

    def _get_object(self, handler: Any, bucket: Bucket, key: str) -> None:
        obj = bucket.get(key)
        if obj is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        with self._lock:
            truncate = self._truncations > 0
            self._truncations -= 1 if truncate else 0
        headers = {
            "ETag": f'"{obj.etag}"',
            "Last-Modified": format_datetime(obj.last_modified.astimezone(dt.UTC), usegmt=True),
        }
        self._send(handler, 200, obj.body, obj.content_type, headers, truncate=truncate)

    @staticmethod
    def _send(
        handler: Any,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict | None = None,
        *,
        truncate: bool = False,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        view = memoryview(body)
        end = len(body) // 2 if truncate else len(body)
        for start in range(0, end, CHUNK):
            handler.wfile.write(view[start : min(start + CHUNK, end)])
        if truncate:
            handler.close_connection = True  # the peer sees a body shorter than announced
