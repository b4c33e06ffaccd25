"""Authenticated, paged access to Yandex Cloud's REST APIs.

IAM tokens come from an OAuth token or from a service-account authorized key (a PS256 JWT with
the key id as ``kid``). A token is cached and replaced an hour after issue (Yandex's advice) or
five minutes before it expires, whichever comes first; a 401 in the middle of a run (revoked or
expired early) triggers one refresh and one retry of that request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers.adapters.base import (
    IncompleteListing,
    ProviderAuthError,
    ProviderResponseError,
)
from providers.adapters.http import HttpClient
from providers.adapters.yandex import ps256
from providers.adapters.yandex.endpoints import YandexEndpoints

PROVIDER = "Yandex Cloud"
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class OAuthToken:
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """An authorized key as ``yc iam key create`` writes it (extra fields are ignored)."""

    id: str
    service_account_id: str
    private_key: str = field(repr=False)


YandexCredentials = OAuthToken | ServiceAccountKey


def credentials_from_mapping(data: Mapping[str, Any]) -> YandexCredentials:
    """Credentials from a connection's stored JSON: ``{"oauth_token": "..."}`` or an authorized
    key file's content ``{"id", "service_account_id", "private_key", ...}``."""
    if data.get("oauth_token"):
        return OAuthToken(str(data["oauth_token"]))
    missing = [k for k in ("id", "service_account_id", "private_key") if not data.get(k)]
    if missing:
        raise ValueError(
            "Yandex Cloud credentials need either oauth_token or an authorized key with "
            f"id, service_account_id and private_key (missing: {', '.join(missing)})"
        )
    return ServiceAccountKey(
        id=str(data["id"]),
        service_account_id=str(data["service_account_id"]),
        private_key=str(data["private_key"]),
    )


class YandexClient:
    """Wraps ``HttpClient`` with IAM auth and Yandex paging. ``clock`` drives the token cache only
    (JWT timestamps use the wall clock, which is what the IAM service checks)."""

    refresh_after_s = 3600.0
    expiry_margin_s = 300.0
    jwt_lifetime_s = 3600

    def __init__(
        self,
        credentials: YandexCredentials,
        endpoints: YandexEndpoints | None = None,
        *,
        http: HttpClient | None = None,
        clock: Callable[[], float] = time.time,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        self.credentials = credentials
        self.endpoints = endpoints or YandexEndpoints()
        self.http = http or HttpClient(provider=PROVIDER)
        self.clock = clock
        self.page_size = page_size
        self.token_exchanges = 0
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_obtained = 0.0
        self._token_lock = threading.Lock()
        self._private_key = None
        if isinstance(credentials, OAuthToken):
            self.http.add_secrets([credentials.token])
        else:
            self.http.add_secrets([credentials.private_key])

    # -- IAM -------------------------------------------------------------------------------------

    def iam_token(self) -> str:
        with self._token_lock:
            now = self.clock()
            stale = (
                self._token is None
                or now >= self._token_expires - self.expiry_margin_s
                or now - self._token_obtained >= self.refresh_after_s
            )
            if stale:
                self._exchange(now)
            assert self._token is not None
            return self._token

    def invalidate_token(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is still ``token``, when given)."""
        with self._token_lock:
            if token is None or token == self._token:
                self._token = None

    def _exchange(self, now: float) -> None:
        if isinstance(self.credentials, OAuthToken):
            body = {"yandexPassportOauthToken": self.credentials.token}
            source = "the OAuth token"
        else:
            body = {"jwt": self._service_account_jwt()}
            source = f"service-account key {self.credentials.id}"
        try:
            answer = self.http.request_json("POST", self.endpoints.iam_tokens_url, json_body=body)
        except ProviderAuthError as exc:
            # Whatever status IAM answered, a refused exchange is a refusal of the credentials
            # themselves (not a missing role on one service).
            raise ProviderAuthError(
                exc.annotate(f"IAM refused {source}").message, status=exc.status, code=exc.code
            ) from None
        self.token_exchanges += 1
        token = answer.get("iamToken") if isinstance(answer, dict) else None
        if not token:
            raise ProviderResponseError(f"{PROVIDER}: the IAM answer has no iamToken")
        self.http.add_secrets([token])
        self._token = token
        self._token_obtained = now
        self._token_expires = now + self.refresh_after_s
        expires_at = answer.get("expiresAt")
        if expires_at:
            try:
                # Translate the server's deadline into our clock's terms via the remaining time.
                remaining = datetime.fromisoformat(expires_at).timestamp() - time.time()
                self._token_expires = now + remaining
            except ValueError:
                pass

    def _service_account_jwt(self) -> str:
        key = self.credentials
        assert isinstance(key, ServiceAccountKey)
        if self._private_key is None:
            try:
                self._private_key = ps256.load_private_key(key.private_key)
            except ValueError as exc:
                raise ProviderAuthError(
                    f"{PROVIDER}: the private key of service-account key {key.id} "
                    f"cannot be read ({exc})"
                ) from None
        issued = int(time.time())
        claims = {
            "iss": key.service_account_id,
            "aud": self.endpoints.iam_tokens_url,
            "iat": issued,
            "exp": issued + self.jwt_lifetime_s,
        }
        return ps256.sign(claims, self._private_key, kid=key.id)

    # -- calls -----------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """One authenticated request to ``service`` (an ``YandexEndpoints`` field name)."""
        url = getattr(self.endpoints, service) + path
        token = self.iam_token()
        try:
            return self._send(method, url, token, params, json_body)
        except ProviderAuthError as exc:
            if exc.status != 401:
                raise
        self.invalidate_token(token)
        token = self.iam_token()
        try:
            return self._send(method, url, token, params, json_body)
        except ProviderAuthError as exc:
            raise exc.annotate("still refused with a freshly issued IAM token") from None

    def _send(self, method, url, token, params, json_body) -> Any:
        return self.http.request_json(
            method,
            url,
            params=params,
            json_body=json_body,
            headers={"Authorization": f"Bearer {token}"},
        )

    def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> dict:
        body = self.call("GET", service, path, params=params)
        if not isinstance(body, dict):
            raise ProviderResponseError(f"{PROVIDER}: GET {path} did not answer a JSON object")
        return body

    def pages(
        self, service: str, path: str, items_key: str, params: dict[str, Any] | None = None
    ) -> Iterator[list[dict]]:
        """Yield each page's items. Missing ``items_key`` means an empty page (proto3 omits empty
        lists); an empty or missing ``nextPageToken`` means the last page."""
        query = dict(params or {})
        query["pageSize"] = self.page_size
        seen: set[str] = set()
        while True:
            body = self.get(service, path, query)
            items = body.get(items_key) or []
            if not isinstance(items, list):
                raise ProviderResponseError(f"{PROVIDER}: {path} returned {items_key!r} not a list")
            yield items
            token = body.get("nextPageToken")
            if not token:
                return
            if token in seen:
                raise IncompleteListing(
                    f"{PROVIDER}: {path} returned a page token twice; the listing would loop"
                )
            seen.add(token)
            query["pageToken"] = token

    @property
    def api_calls(self) -> int:
        return self.http.api_calls
