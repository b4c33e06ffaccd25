"""PS256 JSON Web Tokens for Yandex Cloud service-account keys, on ``cryptography`` alone.

Why not PyJWT: Yandex accepts exactly one algorithm (PS256) and one token shape, so signing and
verifying are twenty lines over ``cryptography``, which is already pinned. A general JWT library
would add a dependency, a choice of algorithms we must then restrict, and nothing we use. The
simulator verifies with the same functions, so both sides agree on the encoding by construction;
the padding (MGF1-SHA256, salt length = digest length) is what PyJWT and Yandex's SDKs emit.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_SIGN_PADDING = padding.PSS(
    mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH
)
# Verification accepts any salt length, as a tolerant server would.
_VERIFY_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


class InvalidJWT(ValueError):
    """The token is malformed or its signature does not match."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Load the PEM of an authorized key, skipping Yandex's "PLEASE DO NOT REMOVE THIS LINE!"
    banner (and anything else) before the BEGIN marker."""
    start = pem.find("-----BEGIN")
    if start < 0:
        raise ValueError("the private key is not PEM")
    key = serialization.load_pem_private_key(pem[start:].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    return key


def sign(claims: dict[str, Any], private_key: rsa.RSAPrivateKey, *, kid: str) -> str:
    header = {"typ": "JWT", "alg": "PS256", "kid": kid}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = private_key.sign(signing_input.encode("ascii"), _SIGN_PADDING, hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = json.loads(_b64url_decode(token.split(".", 1)[0]))
    except ValueError as exc:
        raise InvalidJWT("the JWT header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise InvalidJWT("the JWT header is not an object")
    return header


def verify(token: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The claims of a PS256 token signed by ``public_key``; ``InvalidJWT`` otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidJWT("a JWT has three dot-separated parts")
    if unverified_header(token).get("alg") != "PS256":
        raise InvalidJWT("only PS256 is accepted")
    try:
        signature = _b64url_decode(parts[2])
        public_key.verify(
            signature, f"{parts[0]}.{parts[1]}".encode("ascii"), _VERIFY_PADDING, hashes.SHA256()
        )
        claims = json.loads(_b64url_decode(parts[1]))
    except InvalidSignature as exc:
        raise InvalidJWT("the JWT signature does not match the key") from exc
    except ValueError as exc:
        raise InvalidJWT("the JWT payload is not base64url JSON") from exc
    if not isinstance(claims, dict):
        raise InvalidJWT("the JWT payload is not an object")
    return claims
