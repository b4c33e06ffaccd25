"""The simulator's IAM: authorized keys it issues, JWT checks, IAM tokens and their expiry.

A service-account key pair is generated here and only its private half is handed out, so a JWT
passes only if it was signed with that key: a client that signs wrongly, or with another key, is
refused exactly as Yandex would refuse it.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers.adapters.yandex import ps256
from providers.adapters.yandex.endpoints import CANONICAL_IAM_TOKENS_URL
from providers.adapters.yandex.simulator_wire import ApiError

MAX_JWT_LIFETIME_S = 3600
CLOCK_SKEW_S = 300
# A well-known fake: the simulator is a test double and accepts it unless told otherwise.
DEFAULT_OAUTH_TOKEN = "y0_simulator-oauth-token-0000000000000000000000"  # noqa: S105


@dataclass(slots=True)
class _Token:
    subject: str
    expires_at: float
    uses: int = 0


@dataclass(frozen=True, slots=True)
class _Key:
    service_account_id: str
    public_key: rsa.RSAPublicKey


class IamAuthority:
    def __init__(
        self,
        *,
        oauth_tokens: tuple[str, ...] = (DEFAULT_OAUTH_TOKEN,),
        token_ttl_s: float = 12 * 3600,
        requests_per_token: int = 0,
    ) -> None:
        self.oauth_tokens = set(oauth_tokens)
        self.token_ttl_s = token_ttl_s
        # >0: a token dies after this many authorized requests ("expires mid-run").
        self.requests_per_token = requests_per_token
        self.exchanges = 0
        self.rejected_jwts = 0
        self._keys: dict[str, _Key] = {}
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    # -- keys ------------------------------------------------------------------------------------

    def issue_service_account_key(self, service_account_id: str | None = None) -> dict[str, Any]:
        """A fresh authorized key, in the JSON shape ``yc iam key create`` writes."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = "aje" + secrets.token_hex(9)[:17]
        account = service_account_id or "aje" + secrets.token_hex(9)[:17]
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        with self._lock:
            self._keys[kid] = _Key(account, private.public_key())
        return {
            "id": kid,
            "service_account_id": account,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key_algorithm": "RSA_2048",
            "public_key": public_pem,
            "private_key": f"PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <{kid}>\n{pem}",
        }

    def revoke_key(self, kid: str) -> None:
        with self._lock:
            self._keys.pop(kid, None)

    # -- token exchange --------------------------------------------------------------------------

    def exchange(self, body: Any, own_tokens_url: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(3, "request body must be a JSON object")
        if body.get("yandexPassportOauthToken"):
            if body["yandexPassportOauthToken"] not in self.oauth_tokens:
                raise ApiError(16, "The OAuth token is invalid or has expired.")
            subject = "oauth-user"
        elif body.get("jwt"):
            subject = self._check_jwt(str(body["jwt"]), own_tokens_url)
        else:
            raise ApiError(3, "one of yandexPassportOauthToken or jwt is required")
        token = f"t1.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(64)}"
        expires_at = time.time() + self.token_ttl_s
        with self._lock:
            self._tokens[token] = _Token(subject, expires_at)
            self.exchanges += 1
        stamp = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="microseconds")
        return {"iamToken": token, "expiresAt": stamp.replace("+00:00", "Z")}

    def _check_jwt(self, token: str, own_tokens_url: str) -> str:
        try:
            kid = ps256.unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise ps256.InvalidJWT("unknown key id (kid)")
            claims = ps256.verify(token, key.public_key)
            now = time.time()
            issued, expires = float(claims.get("iat", 0)), float(claims.get("exp", 0))
            if claims.get("iss") != key.service_account_id:
                raise ps256.InvalidJWT("iss is not the key's service account")
            if claims.get("aud") not in (own_tokens_url, CANONICAL_IAM_TOKENS_URL):
                raise ps256.InvalidJWT("aud is not the IAM tokens URL")
            if expires - issued > MAX_JWT_LIFETIME_S:
                raise ps256.InvalidJWT("exp - iat exceeds one hour")
            if expires <= now or issued > now + CLOCK_SKEW_S:
                raise ps256.InvalidJWT("the JWT is expired or not yet valid")
        except ps256.InvalidJWT as exc:
            with self._lock:
                self.rejected_jwts += 1
            raise ApiError(16, f"Invalid JWT: {exc}") from None
        return key.service_account_id

    # -- bearer checks ---------------------------------------------------------------------------

    def authorize(self, header: str | None) -> None:
        if not header or not header.startswith("Bearer "):
            raise ApiError(16, "Authorization header with a Bearer IAM token is required.")
        token = header[7:]
        with self._lock:
            state = self._tokens.get(token)
            if state is None or state.expires_at <= time.time():
                raise ApiError(16, "The token is invalid or has expired.")
            state.uses += 1
            if self.requests_per_token and state.uses > self.requests_per_token:
                del self._tokens[token]
                raise ApiError(16, "The token has expired.")

    def expire(self, header: str | None = None) -> None:
        """Invalidate one bearer token (from its header), or every token when none is given."""
        with self._lock:
            if header is None:
                self._tokens.clear()
            elif header.startswith("Bearer "):
                self._tokens.pop(header[7:], None)
