"""All settings, read from the environment; the default module of ``manage.py``, ``config.asgi`` and
``config.celery`` (the embedded defaults ``make run`` uses).

With nothing set the service runs on a laptop: SQLite file, in-memory channel layer and cache,
Celery tasks executed in-process. ``DATABASE_URL`` and ``REDIS_URL`` switch each part to the real
server. ``production.py`` only tightens (and refuses to start without the real services);
``test.py`` only speeds up; ``conformance.py`` serves the MCP conformance fixtures without auth.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from corsheaders.defaults import default_headers as cors_default_headers
from django.conf import global_settings
from kombu import Queue

from config import aws_ssm, env
from config.logs import logging_config

# AWS: with AWS_SSM_PREFIX set, settings and secrets stored in SSM Parameter Store fill the environment
# first (variables already set win), so everything below, and production's checks, read them as usual.
aws_ssm.load_environment()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env.bool_("DEBUG", False)
SECRET_KEY = env.str_("SECRET_KEY", "insecure-dev-only-key-set-SECRET_KEY-in-production-0123456789")
ALLOWED_HOSTS = env.list_("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list_("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "adrf",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "corsheaders",
    "users",
    "calls",
    "mcp_gateway",
    "sheets_sync",
    "deploy.dbmove",
]

MIDDLEWARE = [
    "config.middleware.ApiHostMiddleware",  # first: a bad Host on an API path answers JSON (config/middleware.py)
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database ---------------------------------------------------------------------------------
DATABASES = {"default": env.database("DATABASE_URL", {})}
if not DATABASES["default"]:
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process, webhook tasks and staff write at once. WAL lets readers run beside the writer;
    # IMMEDIATE takes the write lock at BEGIN, so a transaction waits its turn (up to the busy timeout)
    # instead of failing with "database is locked" when it upgrades a read lock mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int_("SQLITE_BUSY_TIMEOUT_SECONDS", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int_("DATABASE_CONN_MAX_AGE", 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# One-statement reads on the event loop (config.async_db): psycopg asyncio connections per server process,
# beside the ORM's per-thread ones; 0 turns the path off (every read then goes through the ORM).
DATABASE_ASYNC_POOL_SIZE = env.count_("DATABASE_ASYNC_POOL_SIZE", 4)
DATABASE_ASYNC_POOL_TIMEOUT = 2.0  # seconds to wait for a free connection before reading through the ORM
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker -----------------------------------------------
REDIS_URL = env.redis_url("REDIS_URL", "")
# Messages waiting for one stream (a WebSocket, an SSE stream) before the channel layer drops new ones:
# channels' default of 100 lost notifications when a poller batch or a campaign ended hundreds of one
# user's calls at once.
CHANNEL_LAYER_CAPACITY = env.int_("CHANNEL_LAYER_CAPACITY", 10_000)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str_("CACHE_KEY_PREFIX", "callmcp"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str_("CHANNEL_LAYER_PREFIX", "callmcp"),
                       "capacity": CHANNEL_LAYER_CAPACITY},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                                  "CONFIG": {"capacity": CHANNEL_LAYER_CAPACITY}}}

CELERY_BROKER_URL = env.str_("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str_("CELERY_RESULT_BACKEND", REDIS_URL or None)
# The embedded default only: without a broker the tasks still run, in the calling process, right when
# they are sent. With a broker (and always in production) a worker runs them.
CELERY_TASK_ALWAYS_EAGER = env.bool_("CELERY_TASK_ALWAYS_EAGER", not (REDIS_URL or env.is_set("CELERY_BROKER_URL")))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "users.User"
# Django's hashers (the first hashes new passwords), then bcrypt for the hashes users brought from
# Supabase: they verify, and are rehashed with the first hasher at the first login.
PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "users.hashers.ImportedBCryptPasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.ScopedJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int_("JWT_ACCESS_LIFETIME_SECONDS", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int_("JWT_REFRESH_LIFETIME_SECONDS", 7 * 24 * 3600)),
    "SIGNING_KEY": env.str_("JWT_SIGNING_KEY", SECRET_KEY),
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    "TOKEN_OBTAIN_SERIALIZER": "users.serializers.ScopedTokenObtainPairSerializer",
}
# Lifetime of the long-lived tokens minted for MCP clients (``manage.py issue_token``).
MCP_TOKEN_LIFETIME = timedelta(days=env.int_("MCP_TOKEN_LIFETIME_DAYS", 365))

SPECTACULAR_SETTINGS = {
    "TITLE": "callmcp API",
    "DESCRIPTION": "AI phone calls for AI agents: REST API beside the MCP endpoint at /api/v1/mcp.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Calls and campaigns both have a "status": name each set of choices once.
    "ENUM_NAME_OVERRIDES": {"CallStatusEnum": "calls.shapes.CALL_STATUSES",
                            "CampaignStatusEnum": "calls.campaigns.shapes.CAMPAIGN_STATUSES"},
}

# --- Internationalisation, static files ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env.str_("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"
# Recordings and other files: local disk by default, S3 (django-storages) when a bucket is configured.
RECORDINGS_S3_BUCKET = env.str_("RECORDINGS_S3_BUCKET", "")
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if RECORDINGS_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": RECORDINGS_S3_BUCKET,
            "region_name": env.str_("AWS_REGION", "us-east-1"),
            "endpoint_url": env.str_("AWS_ENDPOINT_URL", None),  # e.g. a moto server in tests
            "default_acl": None,
            "querystring_auth": True,  # recording links are presigned GET URLs (calls/recordings.py)
            "signature_version": "s3v4",  # SigV4: required for KMS-encrypted objects
            "file_overwrite": False,
            "addressing_style": "path" if env.is_set("AWS_ENDPOINT_URL") else None,
        },
    }

# --- Logging ----------------------------------------------------------------------------------------
LOG_LEVEL = env.str_("LOG_LEVEL", "INFO")
# "plain" text on stderr (a terminal), or "json": one object per line on stdout (containers, CloudWatch).
LOG_FORMAT = env.choice_("LOG_FORMAT", ("plain", "json"), "plain")
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- MCP gateway ----------------------------------------------------------------------------------
MCP_SESSION_TTL_SECONDS = env.int_("MCP_SESSION_TTL_SECONDS", 24 * 3600)
MCP_MAX_BODY_BYTES = env.int_("MCP_MAX_BODY_BYTES", 1024 * 1024)
MCP_PAGE_SIZE = env.int_("MCP_PAGE_SIZE", 50)
# MCP tasks (tools/call answered later): how long a task is kept by default and at most (a 2025-11-25
# client may ask for its own ttl, capped here), and the longest a 2025-11-25 tasks/result waits.
MCP_TASK_TTL_SECONDS = env.int_("MCP_TASK_TTL_SECONDS", 7 * 24 * 3600)
MCP_TASK_MAX_TTL_SECONDS = env.int_("MCP_TASK_MAX_TTL_SECONDS", 30 * 24 * 3600)
MCP_TASK_RESULT_WAIT_SECONDS = env.int_("MCP_TASK_RESULT_WAIT_SECONDS", 3600)
MCP_AUTH_CACHE_SECONDS = env.int_("MCP_AUTH_CACHE_SECONDS", 30)
MCP_ALLOWED_ORIGINS = env.list_("MCP_ALLOWED_ORIGINS", [])  # besides http(s)://<an ALLOWED_HOSTS entry>
# Browser clients (MCP Inspector's direct mode, web agents) on those origins get CORS for the MCP
# endpoint, the REST API and the OAuth metadata (django-cors-headers; mcp_gateway.asgi applies it to
# the lean MCP entry too). Sessions and auth errors must be readable: the headers are exposed.
CORS_ALLOW_ALL_ORIGINS = "*" in MCP_ALLOWED_ORIGINS
CORS_ALLOWED_ORIGINS = [origin for origin in MCP_ALLOWED_ORIGINS if origin != "*"]
CORS_URLS_REGEX = r"^/(api/|\.well-known/)"
CORS_ALLOW_HEADERS = (*cors_default_headers, "mcp-session-id", "mcp-protocol-version", "last-event-id", "mcp-method",
                      "mcp-name", "*")  # "*": the 2026-07-28 Mcp-Param-<name> headers (Authorization is listed)
CORS_EXPOSE_HEADERS = ["Mcp-Session-Id", "MCP-Protocol-Version", "WWW-Authenticate", "Retry-After"]
MCP_RATE_LIMITS = {
    "place": env.str_("MCP_RATE_LIMIT_PLACE", "10/minute"),
    # Stopping a call must never wait on the placing budget: cancels have a class of their own.
    "cancel": env.str_("MCP_RATE_LIMIT_CANCEL", "120/minute"),
    "read": env.str_("MCP_RATE_LIMIT_READ", "600/minute"),
}
MCP_INSTRUCTIONS = env.str_(
    "MCP_INSTRUCTIONS",
    "callmcp places real AI phone calls. Use makePhoneCall to call, getCallDetails/getCallTranscript to "
    "follow up, getCallHistory to browse. Calls cost credits; check credits://balance first.",
)
MCP_SSE_KEEPALIVE_SECONDS = env.int_("MCP_SSE_KEEPALIVE_SECONDS", 15)
MCP_CLIENT_REQUEST_TIMEOUT_SECONDS = env.int_("MCP_CLIENT_REQUEST_TIMEOUT_SECONDS", 300)  # sampling, elicitation
MCP_WS_AUTH_TIMEOUT_SECONDS = env.int_("MCP_WS_AUTH_TIMEOUT_SECONDS", 30)  # a WebSocket must authenticate by then
MCP_SERVER_NAME = "callmcp"
MCP_SERVER_VERSION = "1.0.0"
# How the gateway is wired (mcp_gateway.gateway.build_gateway): who callers are, and which primitives it serves.
MCP_AUTHENTICATOR = "users.mcp_auth.JwtAuthenticator"
MCP_DISCOVER_APPS = True  # each installed app's mcp_tools, mcp_resources and mcp_prompts
# And these modules' primitives (comma-separated), as a plugin app would add its own.
MCP_PRIMITIVE_MODULES: list[str] = env.list_("MCP_PRIMITIVE_MODULES", [])

# --- Calls and the phone provider (Bland AI) -------------------------------------------------------
# Without BLAND_API_KEY the bundled simulator (manage.py bland_simulator) is the provider.
BLAND_API_KEY = env.str_("BLAND_API_KEY", "")
BLAND_BASE_URL = env.str_("BLAND_BASE_URL", "https://api.bland.ai" if BLAND_API_KEY else "http://127.0.0.1:8765")
BLAND_SIMULATOR_API_KEY = env.str_("BLAND_SIMULATOR_API_KEY", "sim-key")
BLAND_WEBHOOK_SECRET = env.str_("BLAND_WEBHOOK_SECRET", "" if BLAND_API_KEY else "simulator-webhook-secret")
BLAND_TIMEOUT_SECONDS = env.int_("BLAND_TIMEOUT_SECONDS", 10)
BLAND_RETRIES = env.int_("BLAND_RETRIES", 3)  # repeats of a request that is safe to repeat (429, 5xx, connect)
# Where the provider can reach us (post-call webhooks) and where signed recording links point.
PUBLIC_BASE_URL = env.str_("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CALL_CREDITS_PER_MINUTE = env.int_("CALL_CREDITS_PER_MINUTE", 14)  # credits are cents: $0.14 a minute
CALL_CREDITS_PER_USD = 100
CALL_DEFAULT_MAX_DURATION_MINUTES = env.int_("CALL_DEFAULT_MAX_DURATION_MINUTES", 10)
# What analyzeCall / analyzeCampaign charge per call analyzed (Bland bills about $0.003 + $0.0015 a call, so
# one credit, a cent, covers it); 0 makes analysis free.
ANALYSIS_CREDITS_PER_CALL = env.int_("ANALYSIS_CREDITS_PER_CALL", 1)
# A placement that reserves more credits than this asks the user to confirm first (MCP elicitation, or
# confirm_spend: true); each user may have their own threshold (User.spend_confirm_threshold, in admin).
SPEND_CONFIRM_THRESHOLD_CREDITS = env.int_("SPEND_CONFIRM_THRESHOLD_CREDITS", 1000)
# Ask the provider for live events (webhook_events "call": connected, each line said) while a call runs.
CALL_LIVE_EVENTS = env.bool_("CALL_LIVE_EVENTS", True)
CALL_WAIT_MAX_SECONDS = env.int_("CALL_WAIT_MAX_SECONDS", 600)
CALL_WAIT_POLL_SECONDS = float(env.str_("CALL_WAIT_POLL_SECONDS", "1.0"))
# Reading a call in flight that has not changed for this long asks the provider again (at most once per
# this many seconds per call, across workers), so a client polling getCallDetails sees the call move.
CALL_DETAILS_REFRESH_SECONDS = float(env.str_("CALL_DETAILS_REFRESH_SECONDS", "5"))
# Settled calls' details kept per server process (calls.details_cache), each checked against its version in
# Redis on every read; an entry is read again after CALL_DETAILS_CACHE_SECONDS whatever its version.
CALL_DETAILS_CACHE_SIZE = env.count_("CALL_DETAILS_CACHE_SIZE", 4096)
CALL_DETAILS_CACHE_SECONDS = env.seconds_("CALL_DETAILS_CACHE_SECONDS", 60.0)
# The provider's voice list (listVoices; calls and campaigns check their voice against it) is cached this long,
# for every worker.
VOICES_CACHE_SECONDS = env.int_("VOICES_CACHE_SECONDS", 3600)
RECORDING_LINK_TTL_SECONDS = env.int_("RECORDING_LINK_TTL_SECONDS", 3600)
RECORDING_INLINE_MAX_BYTES = env.int_("RECORDING_INLINE_MAX_BYTES", 512 * 1024)

# --- AWS: metrics, tracing (config/metrics.py, config/tracing.py; deploy/README.md) ----------------
CALLMCP_ENVIRONMENT = env.str_("CALLMCP_ENVIRONMENT", "local")  # dev, staging, production on AWS
METRICS_BACKEND = env.choice_("METRICS_BACKEND", ("off", "emf", "cloudwatch"), "off")
METRICS_NAMESPACE = env.str_("METRICS_NAMESPACE", "callmcp")
METRICS_FLUSH_SECONDS = env.int_("METRICS_FLUSH_SECONDS", 15)
# Static files (admin, Swagger UI) on S3 behind CloudFront: `collectstatic` uploads them, hashed names.
STATIC_S3_BUCKET = env.str_("STATIC_S3_BUCKET", "")
if STATIC_S3_BUCKET:
    STATIC_URL = env.str_("STATIC_URL")  # required then: the CDN's URL, e.g. https://static.example.com/static/
    _static = urlsplit(STATIC_URL)
    STORAGES["staticfiles"] = {
        "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
        "OPTIONS": {
            "bucket_name": STATIC_S3_BUCKET,
            "location": _static.path.strip("/"),
            "custom_domain": _static.netloc or None,
            "url_protocol": f"{_static.scheme or 'https'}:",
            "querystring_auth": False,
            "default_acl": None,
            "file_overwrite": True,
            "region_name": env.str_("AWS_REGION", "us-east-1"),
            "endpoint_url": env.str_("AWS_ENDPOINT_URL", None),
            "addressing_style": "path" if env.is_set("AWS_ENDPOINT_URL") else None,
        },
    }
TRACING_ENABLED = env.bool_("TRACING_ENABLED", False)
TRACING_SAMPLE_RATE = env.fraction_("TRACING_SAMPLE_RATE", 0.05)

# --- Poller (manage.py poll_calls, the calls.poll_calls beat task, deploy/lambda/handler.py) ---------
# One runner at a time: "auto" is a PostgreSQL advisory lock on PostgreSQL, else a Redis lock when
# REDIS_URL is set, else a file lock (one host). "postgres_xact" holds pg_try_advisory_xact_lock in an
# open transaction instead, for PgBouncer-style transaction pooling.
POLLER_LOCK = env.str_("POLLER_LOCK", "auto")
POLLER_LOCK_FILE = env.str_("POLLER_LOCK_FILE", str(BASE_DIR / ".poll_calls.lock"))
POLLER_MAX_SECONDS = env.int_("POLLER_MAX_SECONDS", 300)  # a run's budget: 5 of a Lambda's 15 minutes
POLLER_CELERY_MAX_SECONDS = env.int_("POLLER_CELERY_MAX_SECONDS", 50)  # the beat task runs every minute
POLLER_BATCH_SIZE = env.int_("POLLER_BATCH_SIZE", 100)
POLLER_CONCURRENCY = env.int_("POLLER_CONCURRENCY", 16)  # threads asking the provider; the rate is the bound
POLLER_PROVIDER_RPS = float(env.str_("POLLER_PROVIDER_RPS", "10"))  # the poller's share of Bland's request rate
POLLER_TIMEOUT_SECONDS = float(env.str_("POLLER_TIMEOUT_SECONDS", "5"))  # one provider request
POLLER_USE_LIST = env.bool_("POLLER_USE_LIST", True)  # change detection with GET /v1/calls
POLLER_LIST_OVERLAP_SECONDS = int(env.str_("POLLER_LIST_OVERLAP_SECONDS", "120"))  # clock skew between us and Bland
POLLER_LIST_HORIZON_HOURS = env.int_("POLLER_LIST_HORIZON_HOURS", 24)  # older calls are asked about one by one
POLLER_GRACE_SECONDS = int(env.str_("POLLER_GRACE_SECONDS", "20"))  # a just-placed call's webhook gets a head start
POLLER_RECHECK_SECONDS = env.int_("POLLER_RECHECK_SECONDS", 300)  # overdue calls the list keeps quiet about
POLLER_MAX_FAILURES = env.int_("POLLER_MAX_FAILURES", 5)  # then the call goes to the dead letters
POLLER_BACKOFF_SECONDS = int(env.str_("POLLER_BACKOFF_SECONDS", "30"))  # doubled per failure, capped at an hour
POLLER_DLQ_URL = env.str_("POLLER_DLQ_URL", "")  # SQS queue for dead letters, besides the table
POLLER_KEEP_RUNS_DAYS = env.int_("POLLER_KEEP_RUNS_DAYS", 7)  # run records older than this are deleted
POLLER_HEALTH_MAX_AGE_SECONDS = env.int_("POLLER_HEALTH_MAX_AGE_SECONDS", 900)
POLLER_HEALTH_MAX_LAG_SECONDS = env.int_("POLLER_HEALTH_MAX_LAG_SECONDS", 1800)
READYZ_INCLUDE_POLLER = env.bool_("READYZ_INCLUDE_POLLER", False)
AWS_REGION = env.str_("AWS_REGION", "us-east-1")
AWS_ENDPOINT_URL = env.str_("AWS_ENDPOINT_URL", "")  # e.g. a moto server in tests
CELERY_BEAT_SCHEDULE = {
    "poll-calls": {"task": "calls.poll_calls", "schedule": float(env.int_("POLLER_BEAT_SECONDS", 60)),
                   "options": {"expires": 55}},
}

# --- Google Sheets call log (sheets_sync; README "Google Sheets call log"): config/settings/sheets.py ---
from config.settings.sheets import *  # noqa: E402, F403
from config.settings.sheets import SHEETS_DRAIN_SECONDS, SHEETS_METRICS_SECONDS, SHEETS_QUEUE  # noqa: E402

# Sheets tasks have a queue of their own; a worker started without --queues consumes both.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue(SHEETS_QUEUE))
CELERY_TASK_ROUTES = {"sheets_sync.*": {"queue": SHEETS_QUEUE}}
CELERY_BEAT_SCHEDULE["sheets-drain"] = {"task": "sheets_sync.drain", "schedule": float(SHEETS_DRAIN_SECONDS),
                                        "options": {"expires": max(SHEETS_DRAIN_SECONDS - 1, 1)}}
# The quota, breaker and backlog gauges (sheets_sync.monitor) for the CloudWatch alarms, sent or not.
CELERY_BEAT_SCHEDULE["sheets-metrics"] = {"task": "sheets_sync.publish_metrics",
                                          "schedule": float(SHEETS_METRICS_SECONDS),
                                          "options": {"expires": max(SHEETS_METRICS_SECONDS - 1, 1)}}
