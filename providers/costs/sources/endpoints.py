"""Which storage endpoints a customer may point a cost source at.

A source makes the server send signed requests to its endpoint and parse the answers, so an
arbitrary URL is an SSRF surface (internal services, cloud metadata addresses). Customers may
choose among public S3-compatible stores over HTTPS; anything else (private installations, the
simulator, plain HTTP) is for MSP operators only, as with connection endpoint overrides.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

PUBLIC_HOSTS = (
    re.compile(r"storage\.yandexcloud\.net"),  # Yandex Object Storage
    re.compile(r"(?:[a-z0-9-]+\.)*s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com"),  # AWS S3
    re.compile(r"storage\.googleapis\.com"),  # GCS interoperability (HMAC keys)
    re.compile(r"s3\.(?:[a-z0-9-]+\.)?storage\.selcloud\.ru"),  # Selectel
    re.compile(r"(?:[a-z0-9-]+\.)?hb\.(?:[a-z0-9-]+\.)?vkcloud-storage\.ru"),  # VK Cloud
    re.compile(r"s3\.cloud\.ru"),  # Cloud.ru
    re.compile(r"[a-z0-9-]+\.compat\.objectstorage\.[a-z0-9-]+\.oraclecloud\.com"),  # OCI
    re.compile(r"[a-z0-9]+\.r2\.cloudflarestorage\.com"),  # Cloudflare R2
)


def is_public_endpoint(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return (
        parts.scheme == "https"
        and parts.port in (None, 443)
        and not parts.username
        and not parts.query
        and any(pattern.fullmatch(host) for pattern in PUBLIC_HOSTS)
    )


def endpoint_errors(url: str, actor) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [_("Give an http(s) URL of an S3-compatible endpoint.")]
    if parts.query or parts.fragment or parts.username:
        return [_("The endpoint URL may not carry a query, fragment or user name.")]
    if actor is not None and not actor.is_staff and not is_public_endpoint(url):
        return [
            _(
                "Only MSP operators can use this endpoint; choose a public S3-compatible "
                "store over HTTPS (Yandex Object Storage, AWS S3, ...)."
            )
        ]
    return []
