"""AWS Signature Version 4 for S3-compatible object storage (header-based auth, GET requests).

Used by our client to sign ListObjectsV2 and GetObject and by the simulator to verify them. The
algorithm is pinned by AWS's published example (tests/providers/costs/test_sources_s3.py), so the
client and the simulator cannot agree on a shared mistake.

Canonical URI: we build request paths already percent-encoded (``quote_key``) and sign exactly the
bytes we send, so the signature never depends on how a library re-quotes a URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def quote_key(text: str) -> str:
    """S3 URI encoding: everything but unreserved characters and '/' is percent-encoded."""
    return quote(text, safe="/~")


def canonical_query(query: str) -> str:
    """Sorted, strictly encoded ``name=value`` pairs of a raw query string."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(pairs))


def host_header(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], payload_sha256: str
) -> tuple[str, str]:
    """(canonical request, signed header list); ``headers`` are lower-case names -> values."""
    names = sorted(headers)
    lines = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    signed = ";".join(names)
    text = "\n".join((method, path or "/", canonical_query(query), lines, signed, payload_sha256))
    return text, signed


def signature(secret_key: str, amz_date: str, scope: str, creq: str) -> str:
    date, region, service, _ = scope.split("/")
    string_to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest())
    )
    return hmac.new(
        signing_key(secret_key, date, region, service), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()


def sign(
    method: str,
    url: str,
    *,
    access_key_id: str,
    secret_key: str,
    region: str,
    now: dt.datetime,
    service: str = "s3",
    headers: dict[str, str] | None = None,
    payload_sha256: str = EMPTY_SHA256,
) -> dict[str, str]:
    """Headers to add to the request: Authorization, x-amz-date and x-amz-content-sha256."""
    amz_date = now.astimezone(dt.UTC).strftime(AMZ_DATE_FORMAT)
    parts = urlsplit(url)
    signed_headers = {
        "host": host_header(url),
        "x-amz-content-sha256": payload_sha256,
        "x-amz-date": amz_date,
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    creq, signed = canonical_request(
        method, parts.path, parts.query, signed_headers, payload_sha256
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{scope},SignedHeaders={signed},"
        f"Signature={signature(secret_key, amz_date, scope, creq)}"
    )
    return {
        **(headers or {}),
        "Authorization": authorization,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_sha256,
    }


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key_id: str
    scope: str  # date/region/service/aws4_request
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> ParsedAuthorization | None:
    """The parts of an ``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`` header."""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    fields = {}
    for item in value[len(ALGORITHM) + 1 :].split(","):
        name, _, content = item.strip().partition("=")
        fields[name] = content
    credential = fields.get("Credential", "")
    access_key_id, _, scope = credential.partition("/")
    sig = fields.get("Signature", "")
    if not (access_key_id and scope.count("/") == 3 and fields.get("SignedHeaders")):
        return None
    if len(sig) != 64 or any(c not in "0123456789abcdef" for c in sig):
        return None
    return ParsedAuthorization(access_key_id, scope, tuple(fields["SignedHeaders"].split(";")), sig)
