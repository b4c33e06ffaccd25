"""Encryption at rest for secrets (provider credentials, webhook secrets).

Keys come from FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first). Encryption
always uses the first key; decryption tries them all (MultiFernet), so keys can be rotated
without downtime: add a new key in front, run ``manage.py rotate_encryption_keys``, then drop
the old one. Without the variable, a key is generated once under var/ (embedded defaults).
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """Stored ciphertext cannot be read with any configured key (the message has no secret)."""


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be url-safe base64 Fernet keys "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc


def reset_key_cache() -> None:
    _fernet.cache_clear()


def encrypt_json(value) -> str:
    return _fernet().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()


def decrypt_json(token: str):
    if not token:
        return None
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise DecryptionError(
            "Stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (raises DecryptionError if no key can read it)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("Stored secret cannot be decrypted with any configured key") from exc
