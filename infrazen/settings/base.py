"""InfraZen settings. Configuration comes only from the environment; defaults are secure.

Unset variables fall back to embedded defaults that need no external server (see
``infrazen.local_state``): a generated secret key, a pip-installed PostgreSQL and a filesystem
Celery broker. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS and
FIELD_ENCRYPTION_KEYS.
"""

from __future__ import annotations

from datetime import timedelta

import dj_database_url
from cryptography.fernet import Fernet
from django.utils.translation import gettext_lazy as _

from core.csp import DEFAULT_POLICY as DEFAULT_CSP
from infrazen.env import env_bool, env_int, env_list, env_str
from infrazen.local_state import (
    BASE_DIR,
    VAR_DIR,
    embedded_database_url,
    filesystem_broker_options,
    persistent_secret,
)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or persistent_secret("secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "axes",
    "core",
    "providers",
    "allocation",
    "optimization",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.request_limits.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a lockout found during authentication into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "infrazen.urls"
WSGI_APPLICATION = "infrazen.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.portal.context.portal_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL") or embedded_database_url()
DATABASES = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out accounts and IPs first
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
# Sign-in lockout (django-axes; admin and portal): after LOGIN_FAILURE_LIMIT failures for one
# account, or from one client IP, sign-in is refused for LOGIN_LOCKOUT_MINUTES (429, a clear page,
# an "auth.locked_out" audit event). Typed names that are no account's are stored hashed.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each one locks on its own
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "core.auth_identity.axes_username"
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "core.throttling.lockout_response"
AXES_VERBOSE = False
# Password-reset requests (they send email): per typed address and per client IP, per window.
PASSWORD_RESET_THROTTLE_WINDOW = timedelta(minutes=env_int("PASSWORD_RESET_THROTTLE_MINUTES", 60))
PASSWORD_RESET_LIMIT_PER_ADDRESS = env_int("PASSWORD_RESET_LIMIT_PER_ADDRESS", 3)
PASSWORD_RESET_LIMIT_PER_IP = env_int("PASSWORD_RESET_LIMIT_PER_IP", 20)
GUARDIAN_RAISE_403 = False
GUARDIAN_AUTO_PREFETCH = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous access is never granted

# --- Security (secure by default; SECURE_SSL_REDIRECT etc. opt-in behind a TLS proxy) --------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool(
    "SESSION_COOKIE_SECURE", not DEBUG and SITE_URL.startswith("https")
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of the admin and the portal (core/csp.py); set it to "" to turn it off.
CONTENT_SECURITY_POLICY = env_str("CONTENT_SECURITY_POLICY", DEFAULT_CSP)
CONTENT_SECURITY_POLICY_PATHS = ("/admin/", "/portal/")
CONTENT_SECURITY_POLICY_DOCS_PATHS = ("/api/docs/", "/api/redoc/")
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from app folders when collectstatic was not run
MEDIA_ROOT = env_str("MEDIA_ROOT", str(VAR_DIR / "media"))

# --- Uploads and cost files (limits enforced while streaming: providers/focus/limits.py) ----
# A request body held in memory (forms, JSON, base64 file uploads) and a file part kept in
# memory before it spools to disk; Django's defaults, configurable.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
COST_FILE_MAX_MB = env_int("COST_FILE_MAX_MB", 512)  # an uploaded or pulled file, as sent
COST_FILE_MAX_LINE_KB = env_int("COST_FILE_MAX_LINE_KB", 256)  # one CSV record
COST_FILE_MAX_INFLATED_MB = env_int("COST_FILE_MAX_INFLATED_MB", 16384)  # a gzip's content
COST_FILE_MAX_RATIO = env_int("COST_FILE_MAX_RATIO", 200)  # inflated : compressed
COST_FILE_PARQUET_MAX_ROW_GROUP_MB = env_int("COST_FILE_PARQUET_MAX_ROW_GROUP_MB", 1024)
# Refused before anything reads it (core.request_limits): a cost file plus form overhead.
REQUEST_BODY_MAX_BYTES = (COST_FILE_MAX_MB << 20) + (1 << 20)

# --- Email (console unless configured) ------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "InfraZen <noreply@localhost>")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.filtering.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/minute"),
        "user": env_str("API_THROTTLE_USER", "6000/minute"),
    },
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "InfraZen API",
    "DESCRIPTION": (
        "Tenant-scoped FinOps API. Authenticate with `Authorization: Bearer <token>` using an API "
        "token created in the portal or the API; each token is bound to one tenant (and its "
        "sub-tenants) and a scope (read or write)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "allocation.api.schema_hooks.margin_fields_optional",
    ],
    # Several models have a "status"; name their enums explicitly so the schema is stable.
    "ENUM_NAME_OVERRIDES": {
        "TenantStatusEnum": "core.models.tenancy.Tenant.Status",
        "ConnectionStatusEnum": "providers.models.connections.Connection.Status",
        "SyncRunStatusEnum": "providers.models.sync_runs.SyncRun.Status",
        "ResourceStatusEnum": "providers.models.resources.STATUS_CHOICES",
        "MappingRunStatusEnum": "allocation.models.runs.MappingRun.Status",
        "MappingRunTriggerEnum": "allocation.models.runs.MappingRun.Trigger",
        "InvoiceStatusEnum": "allocation.models.billing.Invoice.Status",
    },
}

# --- Cache (throttling, per-process) --------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env_str("CACHE_URL"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL"),
    }

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    filesystem_broker_options() if CELERY_BROKER_URL.startswith("filesystem") else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How often beat looks for connections whose sync is due (see providers/schedules.py).
SYNC_DISPATCH_INTERVAL_SECONDS = env_int("SYNC_DISPATCH_INTERVAL_SECONDS", 60)

# --- Resource metrics (providers/services/metrics.py) ---------------------------------------
# Collection re-reads the last METRICS_LOOKBACK_HOURS on every run, so late points and a few
# missed runs heal themselves; samples are stored at METRICS_STEP_MINUTES resolution.
METRICS_COLLECT_INTERVAL_MINUTES = env_int("METRICS_COLLECT_INTERVAL_MINUTES", 60)
# Prepaid balances of every connection whose provider reports one (and after each sync).
BALANCE_COLLECT_INTERVAL_MINUTES = env_int("BALANCE_COLLECT_INTERVAL_MINUTES", 60)
METRICS_LOOKBACK_HOURS = env_int("METRICS_LOOKBACK_HOURS", 6)
METRICS_STEP_MINUTES = env_int("METRICS_STEP_MINUTES", 60)
# Raw samples live this long (whole monthly partitions are dropped); daily aggregates stay.
METRICS_RAW_RETENTION_DAYS = env_int("METRICS_RAW_RETENTION_DAYS", 35)
# Demo only: a running Yandex Cloud simulator that seed_demo points demo connections at.
YANDEX_SIMULATOR_URL = env_str("YANDEX_SIMULATOR_URL", "")
SELECTEL_SIMULATOR_URL = env_str("SELECTEL_SIMULATOR_URL", "")
VK_CLOUD_SIMULATOR_URL = env_str("VK_CLOUD_SIMULATOR_URL", "")
BEGET_SIMULATOR_URL = env_str("BEGET_SIMULATOR_URL", "")

# --- Exchange rates (providers/costs/rates.py) -----------------------------------------------
# The Central Bank of Russia's daily rates (XML_daily.asp); point it at a simulator offline.
CBR_RATES_URL = env_str("CBR_RATES_URL", "https://www.cbr.ru/scripts/XML_daily.asp")

# --- Secrets at rest (Fernet keys, newest first; see core/crypto.py) ------------------------
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or [
    persistent_secret("field_encryption_key", lambda: Fernet.generate_key().decode())
]

# --- Audit ----------------------------------------------------------------------------------
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 0)  # 0 = keep forever
API_TOKEN_DEFAULT_TTL = timedelta(days=env_int("API_TOKEN_DEFAULT_TTL_DAYS", 90))
API_TOKEN_MAX_TTL = timedelta(days=env_int("API_TOKEN_MAX_TTL_DAYS", 365))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
