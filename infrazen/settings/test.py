"""Test settings: the real PostgreSQL on 127.0.0.1:5432 unless DATABASE_URL says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/infrazen")

from infrazen.settings.base import *  # noqa: F403
from infrazen.settings.base import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# A fixed key so encrypted fixtures are reproducible; never used outside tests.
FIELD_ENCRYPTION_KEYS = ["dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA="]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "1000/minute", "user": "100000/minute"},
}
