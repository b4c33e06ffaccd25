"""Keystone v3 password authentication and the service catalog of the token it issues.

A ``KeystoneSession`` holds one scope (a domain or a project) and its token: issued on first use,
replaced shortly before ``expires_at`` and once more whenever a call answers 401 (a token revoked
or expired early). Endpoints are never hard-coded: each token's catalog names the services of its
scope region by region, and that is what discovery walks (a region missing from the catalog is
simply not there; a service missing in a region is "absent" for that region).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from providers.adapters.base import (
    IncompleteListing,
    ProviderAuthError,
    ProviderResponseError,
)
from providers.adapters.http import HttpClient

# Renew a token this long before Keystone says it expires (VK Cloud's live one hour only).
EXPIRY_MARGIN_S = 120.0
# When the answer gives no expires_at, assume the shortest lifetime seen in practice.
DEFAULT_LIFETIME_S = 3600.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    expires_at: float  # our clock's terms
    catalog: tuple[Mapping[str, Any], ...] = ()
    project: Mapping[str, Any] = field(default_factory=dict)

    def endpoints(
        self, service_types: Iterable[str], *, interface: str = "public"
    ) -> dict[str, str]:
        """Region -> base URL of the first of ``service_types`` the catalog has (types are
        aliases: ``volumev3``, ``block-storage``, ``volume``), public interface only."""
        found: dict[str, str] = {}
        for service_type in service_types:
            for entry in self.catalog:
                if not isinstance(entry, Mapping) or entry.get("type") != service_type:
                    continue
                for endpoint in entry.get("endpoints") or ():
                    if not isinstance(endpoint, Mapping):
                        continue
                    if (endpoint.get("interface") or "public") != interface:
                        continue
                    region = endpoint.get("region_id") or endpoint.get("region") or ""
                    url = endpoint.get("url")
                    if url and region not in found:
                        found[str(region)] = str(url).rstrip("/")
        return found

    def regions(self) -> list[str]:
        regions: set[str] = set()
        for entry in self.catalog:
            for endpoint in (entry.get("endpoints") or ()) if isinstance(entry, Mapping) else ():
                if isinstance(endpoint, Mapping):
                    region = endpoint.get("region_id") or endpoint.get("region")
                    if region:
                        regions.add(str(region))
        return sorted(regions)


def password_body(
    *,
    username: str,
    password: str,
    user_domain: Mapping[str, str],
    scope: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``POST /auth/tokens`` body: ``user_domain`` is ``{"name": ...}`` or ``{"id": ...}``,
    ``scope`` ``{"domain": {...}}`` or ``{"project": {...}}`` (None: unscoped)."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": username, "domain": dict(user_domain), "password": password}
            },
        }
    }
    if scope:
        auth["scope"] = dict(scope)
    return {"auth": auth}


class KeystoneSession:
    """A token for one scope, and authenticated JSON calls made with it (``get``, ``pages``)."""

    def __init__(
        self,
        http: HttpClient,
        auth_url: str,
        body: Mapping[str, Any],
        *,
        describe: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.tokens_url = auth_url.rstrip("/") + "/auth/tokens"
        self.body = body
        self.describe = describe
        self.clock = clock
        self.issued = 0
        self._token: Token | None = None
        self._lock = threading.Lock()

    # -- the token -------------------------------------------------------------------------------

    def token(self) -> Token:
        with self._lock:
            token = self._token
            if token is None or self.clock() >= token.expires_at - EXPIRY_MARGIN_S:
                token = self._token = self._issue()
            return token

    def invalidate(self, value: str) -> None:
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _issue(self) -> Token:
        provider = self.http.provider

        def send():
            return self.http.session.post(
                self.tokens_url, json=self.body, timeout=self.http.timeout
            )

        try:
            response = self.http._send(f"POST {urlsplit(self.tokens_url).path}", send)
        except ProviderAuthError as exc:
            # 401 or 403 from Keystone is a refusal of the credentials themselves, never a
            # missing role on one service.
            raise ProviderAuthError(
                exc.annotate(f"Keystone refused {self.describe}").message, status=exc.status
            ) from None
        except ProviderResponseError as exc:
            if exc.status in (400, 404):
                raise ProviderAuthError(
                    exc.annotate(f"Keystone refused {self.describe}").message, status=exc.status
                ) from None
            raise
        value = response.headers.get("X-Subject-Token")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not value or not isinstance(data, Mapping) or not isinstance(data.get("token"), Mapping):
            raise ProviderResponseError(
                f"{provider}: Keystone issued no usable token for {self.describe}"
            )
        self.http.add_secrets([value])
        self.issued += 1
        body = data["token"]
        now = self.clock()
        expires_at = now + DEFAULT_LIFETIME_S
        if body.get("expires_at"):
            try:
                moment = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
                expires_at = now + (moment.timestamp() - time.time())
            except ValueError:
                pass
        catalog = body.get("catalog") or ()
        if not isinstance(catalog, list):
            raise ProviderResponseError(f"{provider}: the token's catalog is not a list")
        project = body.get("project") if isinstance(body.get("project"), Mapping) else {}
        return Token(value, expires_at, tuple(catalog), project)

    # -- calls -----------------------------------------------------------------------------------

    def call(self, method: str, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """One request with the token; a 401 gets one fresh token and one retry."""
        token = self.token()
        try:
            return self._send(method, url, token.value, params)
        except ProviderAuthError as exc:
            if exc.status != 401:
                raise
        self.invalidate(token.value)
        token = self.token()
        try:
            return self._send(method, url, token.value, params)
        except ProviderAuthError as exc:
            raise exc.annotate("still refused with a freshly issued token") from None

    def _send(self, method, url, token, params) -> Any:
        return self.http.request_json(
            method, url, params=dict(params) if params else None, headers={"X-Auth-Token": token}
        )

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> dict:
        body = self.call("GET", url, params)
        if not isinstance(body, dict):
            raise ProviderResponseError(
                f"{self.http.provider}: GET {urlsplit(url).path} did not answer a JSON object"
            )
        return body


def pages(
    session: Any,
    url: str,
    key: str,
    params: Mapping[str, Any] | None = None,
    *,
    limit: int = 1000,
    provider: str = "",
) -> Any:
    """Yield each page's items of an OpenStack collection.

    Paging, tolerant of every flavour seen: a ``<key>_links`` or ``links`` entry with
    ``rel=next`` (Nova, Cinder, Neutron, Octavia) or a top-level ``next`` (Glance) is followed,
    but only its query string is used, on our own URL (deployments behind proxies hand out links
    with internal host names); without a link, a full page (``limit`` items) is followed by
    ``marker=<last id>`` so that a deployment that omits links is not read as one page. A marker
    seen twice ends the walk as an incomplete listing instead of looping.
    """
    query: dict[str, Any] = {**(params or {}), "limit": limit}
    seen: set[str] = set()
    while True:
        body = session.get(url, query)
        items = body.get(key)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ProviderResponseError(f"{provider}: {urlsplit(url).path} {key!r} is not a list")
        yield items
        follow = _next_query(body, key)
        if follow is None:
            if len(items) < limit or not items:
                return
            last = items[-1].get("id") if isinstance(items[-1], Mapping) else None
            if not last:
                return
            follow = {**query, "marker": str(last)}
        marker = str(follow.get("marker") or follow)
        if marker in seen:
            raise IncompleteListing(
                f"{provider}: {urlsplit(url).path} handed out the same page twice; the listing "
                "would loop"
            )
        seen.add(marker)
        query = {**(params or {}), "limit": limit, **follow}


def _next_query(body: Mapping[str, Any], key: str) -> dict[str, str] | None:
    href = None
    for links in (body.get(f"{key}_links"), body.get("links")):
        if isinstance(links, list):
            for link in links:
                if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
                    href = str(link["href"])
                    break
        if href:
            break
    if href is None and isinstance(body.get("next"), str) and body["next"]:
        href = body["next"]
    if href is None:
        return None
    return dict(parse_qsl(urlsplit(href).query, keep_blank_values=True))
