"""Authenticated access to Beget's two APIs.

**Hosting API**: every call is ``POST {hosting}/<section>/<method>`` with the login and API
password as form fields (Beget recommends POST; the password then stays out of URLs and proxy
logs) and ``output_format=json``. Answers are unwrapped by ``BegetEnvelope``: its HTTP-200 errors
become the errors an HTTP status would give.

**VPS API**: a bearer token, either given (``vps_token``) or obtained with ``POST /v1/auth``
from a login and password (``saveMe``: a year-long token). A 401 in the middle of a run (the token
expired or was revoked) gets one fresh token and one retry when a login and password are known;
a given token cannot be renewed, so its 401 is an auth failure. ``/v1/auth`` refuses with
``{"error": "INCORRECT_CREDENTIALS"}`` (and other codes), whatever HTTP status carries it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.adapters.base import (
    IncompleteListing,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderResponseError,
)
from providers.adapters.beget.envelope import LIMIT_RETRY_AFTER_S, BegetEnvelope
from providers.adapters.beget.values import PROVIDER, integer, items
from providers.adapters.http import HttpClient, ResponseEnvelope

VPS_PAGE_SIZE = 100  # the most /v1/vps/server/list is assumed to return at once (inferred)
# /v1/auth refusals (LTD-Beget/auth proto): all are the credentials' fault, never retried.
AUTH_REFUSALS = frozenset(
    {
        "INCORRECT_CREDENTIALS",
        "EMPTY_LOGIN",
        "IP_BLOCKED",
        "CODE_REQUIRED_EMAIL",
        "CODE_REQUIRED_SMS",
        "CODE_REQUIRED_TOTP",
        "ACCOUNT_DELETED",
        "EXPIRED_PASSWORD",
    }
)


@dataclass(frozen=True, slots=True)
class BegetCredentials:
    login: str
    api_password: str = field(repr=False)
    vps_login: str = ""
    vps_password: str = field(default="", repr=False)
    vps_token: str = field(default="", repr=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BegetCredentials:
        if not data.get("login") or not data.get("api_password"):
            raise ValueError("Beget credentials need login and api_password")
        return cls(
            login=str(data["login"]),
            api_password=str(data["api_password"]),
            vps_login=str(data.get("vps_login") or ""),
            vps_password=str(data.get("vps_password") or ""),
            vps_token=str(data.get("vps_token") or ""),
        )

    @property
    def has_vps(self) -> bool:
        return bool(self.vps_token or (self.vps_login and self.vps_password))


DEFAULT_HOSTING = "https://api.beget.com/api"
DEFAULT_VPS = "https://api.beget.com"


@dataclass(frozen=True, slots=True)
class BegetEndpoints:
    hosting: str = DEFAULT_HOSTING
    vps: str = DEFAULT_VPS

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, str] | None) -> BegetEndpoints:
        """Defaults with a connection's overrides; ``{"*": url}`` puts both APIs behind one host
        (the hosting API under ``/api``, as on api.beget.com)."""
        overrides = dict(overrides or {})
        values = {"hosting": DEFAULT_HOSTING, "vps": DEFAULT_VPS}
        if "*" in overrides:
            base = overrides.pop("*").rstrip("/")
            values = {"hosting": f"{base}/api", "vps": base}
        unknown = set(overrides) - set(values)
        if unknown:
            raise ValueError(f"unknown Beget endpoint(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        for name, url in values.items():
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"endpoint {name!r} must be an http(s) URL")
        return cls(**{name: url.rstrip("/") for name, url in values.items()})


class VpsEnvelope(ResponseEnvelope):
    """The VPS API answers plain JSON, but some refusals come as ``{"error": "CODE"}`` with
    HTTP 200 (the auth service's oneof); those are errors, not data."""

    def unwrap(self, body: Any, *, provider: str, what: str, status: int) -> Any:
        if isinstance(body, dict) and isinstance(body.get("error"), str) and len(body) <= 2:
            code = body["error"]
            message = f"{provider}: {what} answered an error (code {code})"
            if code in AUTH_REFUSALS:
                raise ProviderAuthError(message, status=401, code=code)
            if code == "LIMIT_ERROR":
                raise ProviderRateLimited(
                    message, status=429, code=code, retry_after=LIMIT_RETRY_AFTER_S
                )
            raise ProviderResponseError(message, status=400, code=code)
        return body

    def error_detail(self, body: Any) -> tuple[Any, str] | None:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"], str(body.get("message") or "")[:500]
        return None


class BegetClient:
    def __init__(
        self,
        credentials: BegetCredentials,
        endpoints: BegetEndpoints,
        *,
        http_options: Mapping[str, Any] | None = None,
        vps_page_size: int = VPS_PAGE_SIZE,
    ) -> None:
        options = dict(http_options or {})
        self.credentials = credentials
        self.endpoints = endpoints
        self.hosting_http = HttpClient(provider=PROVIDER, envelope=BegetEnvelope(), **options)
        self.vps_http = HttpClient(provider=PROVIDER, envelope=VpsEnvelope(), **options)
        secrets = [credentials.api_password, credentials.vps_password, credentials.vps_token]
        for http in (self.hosting_http, self.vps_http):
            http.add_secrets(secrets)
        self.vps_page_size = vps_page_size
        self.token_exchanges = 0
        self._token = credentials.vps_token or None
        self._token_lock = threading.Lock()

    @property
    def api_calls(self) -> int:
        return self.hosting_http.api_calls + self.vps_http.api_calls

    # -- hosting API -----------------------------------------------------------------------------

    def hosting(self, section: str, method: str, arguments: Mapping[str, Any] | None = None):
        data = {
            "login": self.credentials.login,
            "passwd": self.credentials.api_password,
            "output_format": "json",
        }
        if arguments:
            data["input_format"] = "json"
            data["input_data"] = json.dumps(dict(arguments))
        return self.hosting_http.request_json(
            "POST", f"{self.endpoints.hosting}/{section}/{method}", data=data
        )

    # -- VPS API ---------------------------------------------------------------------------------

    def vps_token(self) -> str:
        with self._token_lock:
            if self._token is None:
                self._token = self._exchange()
            return self._token

    def _exchange(self) -> str:
        creds = self.credentials
        if not (creds.vps_login and creds.vps_password):
            raise ProviderAuthError(f"{PROVIDER}: no VPS API credentials", status=401)
        try:
            answer = self.vps_http.request_json(
                "POST",
                f"{self.endpoints.vps}/v1/auth",
                json_body={
                    "login": creds.vps_login,
                    "password": creds.vps_password,
                    "saveMe": True,
                },
            )
        except ProviderAuthError as exc:
            # Whatever status carried it, a refused login is a refusal of the credentials.
            raise ProviderAuthError(
                exc.annotate("the VPS API refused the login and password").message,
                status=401,
                code=exc.code,
            ) from None
        token = answer.get("token") if isinstance(answer, dict) else None
        if not token:
            raise ProviderResponseError(f"{PROVIDER}: the VPS API's /v1/auth answered no token")
        self.token_exchanges += 1
        self.vps_http.add_secrets([token])
        self.hosting_http.add_secrets([token])
        return str(token)

    def _renewable(self) -> bool:
        return bool(self.credentials.vps_login and self.credentials.vps_password)

    def vps_get(self, path: str, params: dict[str, Any] | None = None) -> dict:
        url = f"{self.endpoints.vps}{path}"
        token = self.vps_token()
        try:
            body = self._get(url, token, params)
        except ProviderAuthError as exc:
            if exc.status != 401 or not self._renewable():
                raise
            with self._token_lock:
                if self._token == token:
                    self._token = None
            try:
                body = self._get(url, self.vps_token(), params)
            except ProviderAuthError as again:
                raise again.annotate("still refused with a fresh VPS token") from None
        if not isinstance(body, dict):
            raise ProviderResponseError(f"{PROVIDER}: GET {path} did not answer a JSON object")
        return body

    def _get(self, url: str, token: str, params: dict[str, Any] | None) -> Any:
        return self.vps_http.request_json(
            "GET", url, params=params, headers={"Authorization": f"Bearer {token}"}
        )

    def servers(self) -> Iterator[list[dict]]:
        """Pages of ``/v1/vps/server/list`` (offset/limit) until ``total_count`` is reached or a
        page comes back empty; the same first id twice means the server ignores the offset."""
        offset, seen_first = 0, set()
        while True:
            body = self.vps_get(
                "/v1/vps/server/list", {"offset": offset, "limit": self.vps_page_size}
            )
            page = items(body.get("vps"), "/v1/vps/server/list")
            total = integer(body.get("total_count"), "total_count", default=None)
            if page:
                first = str(page[0].get("id"))
                if first in seen_first:
                    raise IncompleteListing(
                        f"{PROVIDER}: /v1/vps/server/list returned the same page twice"
                    )
                seen_first.add(first)
                yield page
            offset += len(page)
            if not page or (total is not None and offset >= total):
                return
            if total is None and len(page) < self.vps_page_size:
                return
