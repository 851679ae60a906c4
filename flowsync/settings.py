"""FlowSync settings, read from the environment.

With nothing configured the platform runs embedded: SQLite and the engine loop inline
in the web process. DATABASE_URL / REDIS_URL switch to PostgreSQL and RQ workers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from flowsync import secret_key as _secret_key
from flowsync.logs import config as logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("FLOWSYNC_DEBUG", False)
# FLOWSYNC_SECRET_KEY, else the key ./scripts/run.sh generated once for this installation
# (var/secret_key, 0600; flowsync/secret_key.py). A known, short or empty key is refused unless
# FLOWSYNC_DEBUG is on: with it anyone could forge sessions, reset links and OAuth tokens.
SECRET_KEY = os.environ.get("FLOWSYNC_SECRET_KEY") or _secret_key.read(_secret_key.key_file())
if _secret_key.problem_with(SECRET_KEY):
    if not DEBUG:
        raise ImproperlyConfigured(
            f"FLOWSYNC_SECRET_KEY cannot be used: {_secret_key.problem_with(SECRET_KEY)}. Run "
            "`python -m flowsync.secret_key` once (./scripts/run.sh does) to generate "
            f"{_secret_key.key_file()}, or set FLOWSYNC_SECRET_KEY to a long random value "
            "(or FLOWSYNC_DEBUG=1 for development only)."
        )
    SECRET_KEY = SECRET_KEY or _secret_key.DEV_KEY
# Former keys, comma-separated, while rotating FLOWSYNC_SECRET_KEY: sessions signed and connector secrets
# encrypted (engine/secrets.py) under them stay readable until re-saved.
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("FLOWSYNC_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()]
# The host names this server answers to (Host header); others get 400, so links built from the
# request (password-reset mails, redirects) never carry a host an attacker sent. Default: the
# local names the embedded default serves, plus FLOWSYNC_HOST when run.sh binds a specific address.
_bound = os.environ.get("FLOWSYNC_HOST", "")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get(
    "FLOWSYNC_ALLOWED_HOSTS",
    ",".join(["localhost", "127.0.0.1", "[::1]"] + ([_bound] if _bound not in ("", "0.0.0.0", "::") else [])),
).split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("FLOWSYNC_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# Production profile: FLOWSYNC_HTTPS=1 whenever the platform is served over HTTPS (always, in
# production). Cookies are then Secure, HSTS is sent and plain HTTP is redirected; the embedded
# default on http://localhost keeps it off. `manage.py check --deploy` is clean with it on
# (tests/engine/test_hardening__deploy.py). Behind a TLS-terminating proxy, also set
# FLOWSYNC_BEHIND_PROXY=1 so X-Forwarded-Proto: https counts as secure.
HTTPS = env_bool("FLOWSYNC_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS and env_bool("FLOWSYNC_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("FLOWSYNC_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FLOWSYNC_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("FLOWSYNC_HSTS_PRELOAD", False)
if env_bool("FLOWSYNC_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Asking browsers to hard-code the domain into their HSTS preload list is the owner's decision
# (FLOWSYNC_HSTS_PRELOAD=1), not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets for /api/docs/, served locally
    "django_rq",
    "guardian",
    "flowsync",
    "engine",
    "tasklist",
    "inspector",
]

MIDDLEWARE = [
    # Outermost: request id, log context and HTTP metrics see every response, errors included.
    "flowsync.observe.RequestObservationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything that touches the database: a lost connection is retried once or answered 503.
    "flowsync.dbfaults.DatabaseFaultMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "flowsync.audit.AuditContextMiddleware",  # surface + request id for the audit trail
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "flowsync.security_headers.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "flowsync.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "flowsync.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # No CONN_HEALTH_CHECKS: its `SELECT 1` before every request was the statement the API sent
        # most (~3 per instance end to end). A connection that died meanwhile (PostgreSQL restart)
        # fails the request's first statement, a read, and flowsync/dbfaults.py runs the request
        # again on a new connection; engine workers reconnect in their loop.
        # The engine loop's own SQL (engine/store/sql.py) runs as prepared statements after this
        # many executions: planning its claim query cost more than running it. Django's ORM
        # queries bind client-side and are never prepared. Set to "off" behind PgBouncer in
        # transaction mode older than 1.21 (no prepared statements there).
        _prepare = os.environ.get("FLOWSYNC_DB_PREPARE_THRESHOLD", "5")
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
            None if _prepare == "off" else int(_prepare)
        )
        if os.environ.get("FLOWSYNC_DB_POOLER", "") == "transaction":
            # Behind PgBouncer in transaction mode a session lasts one transaction: no prepared
            # statements (PgBouncer < 1.21), no server-side cursors (QuerySet.iterator()).
            DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
            DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("FLOWSYNC_SQLITE_PATH", str(BASE_DIR / "var" / "flowsync.sqlite3")),
            "OPTIONS": {"timeout": 30},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Engine workers LISTEN for wake-ups on a connection of their own, held for the process's life: through
# a transaction-mode PgBouncer a LISTEN is lost (the server connection goes back to the pool), so there
# it must be a direct URL to PostgreSQL. Empty: DATABASE_URL.
FLOWSYNC_LISTEN_DATABASE_URL = os.environ.get("FLOWSYNC_LISTEN_DATABASE_URL", "")

REDIS_URL = os.environ.get("REDIS_URL", "")
# Inline engine: commands are applied in the web process right after the request's
# transaction commits. The default whenever no Redis is configured.
ENGINE_INLINE = env_bool("FLOWSYNC_ENGINE_INLINE", not REDIS_URL)
ENGINE_BATCH_SIZE = env_int("FLOWSYNC_ENGINE_BATCH_SIZE", 500)
ENGINE_SWEEP_SECONDS = float(os.environ.get("FLOWSYNC_ENGINE_SWEEP_SECONDS", "2"))
# One engine worker answers each wake-up (engine/runtime/wake_share.py); 0: every worker does (fewer
# claims against a shorter tail: an idle worker does not wait for a busy one).
ENGINE_WAKE_ONE = env_bool("FLOWSYNC_ENGINE_WAKE_ONE", True)
# Runaway guards (engine/runtime/budget.py, docs/operations.md): element steps one command may
# take before the instance yields to the others, steps one command and its continuations may
# take before an incident, seconds a batch may spend before leaving the rest for the next one.
ENGINE_STEP_BUDGET = env_int("FLOWSYNC_ENGINE_STEP_BUDGET", 1000)
ENGINE_MAX_CHAIN_STEPS = env_int("FLOWSYNC_ENGINE_MAX_CHAIN_STEPS", 50_000)
ENGINE_BATCH_SECONDS = float(os.environ.get("FLOWSYNC_ENGINE_BATCH_SECONDS", "5"))
ENGINE_MAX_BATCH_ROWS = env_int("FLOWSYNC_ENGINE_MAX_BATCH_ROWS", 200_000)
ENGINE_MAX_COLLECTION = env_int("FLOWSYNC_ENGINE_MAX_COLLECTION", 10_000)
ENGINE_MAX_CALL_DEPTH = env_int("FLOWSYNC_ENGINE_MAX_CALL_DEPTH", 64)
ENGINE_MIN_TIMER_CYCLE_SECONDS = float(os.environ.get("FLOWSYNC_ENGINE_MIN_TIMER_CYCLE_SECONDS", "1"))
BPMN_MAX_BYTES = env_int("FLOWSYNC_BPMN_MAX_BYTES", 5 * 1024 * 1024)
DEFINITION_CACHE_SIZE = env_int("FLOWSYNC_DEFINITION_CACHE_SIZE", 512)
# Retry backoff when a worker fails a job without giving one: base * 2^failures, capped, ±jitter.
JOB_BACKOFF_DEFAULT = {"base_ms": 1000, "cap_ms": 300_000, "jitter": 0.2}
# Per job type overrides, e.g. FLOWSYNC_JOB_BACKOFF='{"payment": {"base_ms": 5000}}'.
JOB_BACKOFF_BY_TYPE = json.loads(os.environ.get("FLOWSYNC_JOB_BACKOFF", "{}"))

RQ_QUEUES = {
    "engine": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600},
    "connectors": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600},
    "default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600},
}

# Built-in connectors (engine/connectors, docs/connectors.md). Outbound HTTP reaches public
# addresses only, plus the hosts/CIDRs listed here, e.g. "127.0.0.1,10.0.0.0/8,api.internal".
CONNECTOR_HTTP_ALLOW = os.environ.get("FLOWSYNC_CONNECTOR_HTTP_ALLOW", "")
# How long a connector job stays locked to the run that activated it; HTTP timeouts stay well below.
CONNECTOR_LOCK_TIMEOUT_MS = env_int("FLOWSYNC_CONNECTOR_LOCK_TIMEOUT_MS", 60_000)
CONNECTOR_HTTP_MAX_RESPONSE_BYTES = env_int("FLOWSYNC_CONNECTOR_HTTP_MAX_RESPONSE_BYTES", 1024 * 1024)
# The email connector sends through Django's mail backend (SMTP unless FLOWSYNC_EMAIL_BACKEND says otherwise).
EMAIL_BACKEND = os.environ.get("FLOWSYNC_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("FLOWSYNC_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("FLOWSYNC_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("FLOWSYNC_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("FLOWSYNC_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("FLOWSYNC_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("FLOWSYNC_EMAIL_FROM", "flowsync@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/tasks/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
# var/ holds the embedded database and collected static files; it must exist on a fresh checkout.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "node_modules")]

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FLOWSYNC_MAX_REQUEST_BYTES", 10 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["engine.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "engine.api.parsers.LenientJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "engine.api.problems.problem_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "engine.api.negotiation.ApiContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "FlowSync API",
    "DESCRIPTION": "Camunda 8 compatible REST API (/v2) of the FlowSync BPM platform.",
    "VERSION": "0.1.0",
}

# JSON lines unless stderr is a terminal (flowsync/logs.py); FLOWSYNC_LOG_FORMAT=json|text|auto.
# One line per HTTP request from the web processes (flowsync/observe.py), in the same format.
FLOWSYNC_ACCESS_LOG = env_bool("FLOWSYNC_ACCESS_LOG", True)
LOGGING = logging_config(os.environ.get("FLOWSYNC_LOG_FORMAT", "auto"), os.environ.get("FLOWSYNC_LOG_LEVEL", "INFO"))

# /metrics (engine/ops/views.py): a bearer token, or open for a private port; off otherwise.
FLOWSYNC_METRICS_TOKEN = os.environ.get("FLOWSYNC_METRICS_TOKEN", "")
FLOWSYNC_METRICS_PUBLIC = env_bool("FLOWSYNC_METRICS_PUBLIC", False)
# Engine worker heartbeats (engine/runtime/heartbeat.py): beat interval, and silence after which a worker is lost.
FLOWSYNC_HEARTBEAT_SECONDS = float(os.environ.get("FLOWSYNC_HEARTBEAT_SECONDS", "5"))
FLOWSYNC_HEARTBEAT_LOST_SECONDS = float(os.environ.get("FLOWSYNC_HEARTBEAT_LOST_SECONDS", "30"))
# History cleanup (engine/store/retention.py; days to keep are per tenant): how often each engine
# worker looks (0 = never; `manage.py flowsync_cleanup` still works) and for how long at most.
FLOWSYNC_RETENTION_INTERVAL_SECONDS = float(os.environ.get("FLOWSYNC_RETENTION_INTERVAL_SECONDS", "300"))
FLOWSYNC_RETENTION_SECONDS_PER_RUN = float(os.environ.get("FLOWSYNC_RETENTION_SECONDS_PER_RUN", "1"))
# Archive what the cleanup deletes first, as JSON lines per tenant and day (engine/store/archive.py), in a
# directory or an S3-compatible bucket (s3://bucket/prefix; AWS_ENDPOINT_URL etc. as for any boto3 client); empty = no.
FLOWSYNC_RETENTION_EXPORT_DIR = os.environ.get("FLOWSYNC_RETENTION_EXPORT_DIR", "")
# Time partitions of the command and event logs on PostgreSQL (engine/store/partitions.py): days per
# partition (changing it affects partitions created from then on) and how many are created ahead.
FLOWSYNC_PARTITION_DAYS = env_int("FLOWSYNC_PARTITION_DAYS", 7)
FLOWSYNC_PARTITIONS_AHEAD = env_int("FLOWSYNC_PARTITIONS_AHEAD", 4)

# API tuning: the defaults live beside the code that uses them; the environment overrides.
if "FLOWSYNC_API_ALLOW_ANONYMOUS" in os.environ:
    FLOWSYNC_API_ALLOW_ANONYMOUS = env_bool("FLOWSYNC_API_ALLOW_ANONYMOUS")
for _name in ("FLOWSYNC_API_RATE_LIMIT", "FLOWSYNC_WAIT_RECHECK_SECONDS", "FLOWSYNC_TASKLIST_LISTENER_WAIT_SECONDS",
              "FLOWSYNC_API_KEY_RECHECK_SECONDS"):
    if os.environ.get(_name):
        globals()[_name] = float(os.environ[_name])
for _name in ("FLOWSYNC_OAUTH_TOKEN_SECONDS", "FLOWSYNC_PASSWORD_CACHE_SECONDS",
              "FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS", "FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS",
              "FLOWSYNC_BACKPRESSURE_JOB_LAG_MS",
              "FLOWSYNC_API_MAX_BODY_BYTES",
              "FLOWSYNC_LONG_POLL_DEFAULT_MS", "FLOWSYNC_LONG_POLL_MAX_MS",
              "FLOWSYNC_AWAIT_DEFAULT_MS", "FLOWSYNC_AWAIT_MAX_MS", "FLOWSYNC_TASK_LISTENER_WAIT_MS"):
    if os.environ.get(_name):
        globals()[_name] = env_int(_name, 0)
