"""Production: the base settings, tightened. It refuses to start without the real services.

Required: ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL`` (no SQLite fallback), ``REDIS_URL`` (sessions,
rate limits and events are shared by every process through it; no in-memory channel layer),
``PUBLIC_BASE_URL`` (where the provider posts webhooks) and, when ``BLAND_API_KEY`` is set,
``BLAND_WEBHOOK_SECRET``. Celery tasks always go to a worker.
"""

from django.core.exceptions import ImproperlyConfigured

from config import env
from config.settings.base import *  # noqa: F403

_REQUIRED = {
    "SECRET_KEY": "it signs sessions and tokens",
    "ALLOWED_HOSTS": "the host names this service answers to",
    "DATABASE_URL": "no SQLite file in production",
    "REDIS_URL": "sessions, rate limits and notifications are shared by every process through it",
    "PUBLIC_BASE_URL": "where Bland posts its webhooks, and where recording links point",
}
if env.is_set("BLAND_API_KEY"):
    _REQUIRED["BLAND_WEBHOOK_SECRET"] = "it verifies Bland's webhooks, and BLAND_API_KEY is set"  # noqa: S105 - a reason, not a secret
if _missing := [f"{name} is required ({why})" for name, why in _REQUIRED.items() if not env.is_set(name)]:
    raise ImproperlyConfigured(
        "config.settings.production cannot start: " + "; ".join(_missing) + ". Set them in the environment, or "
        "leave DJANGO_SETTINGS_MODULE unset for the embedded defaults."
    )

DEBUG = False
SECRET_KEY = env.str_("SECRET_KEY")
SIMPLE_JWT["SIGNING_KEY"] = env.str_("JWT_SIGNING_KEY", SECRET_KEY)  # noqa: F405
ALLOWED_HOSTS = env.list_("ALLOWED_HOSTS")
CELERY_TASK_ALWAYS_EAGER = False
# Callers are users with tokens, and the apps' primitives are what is served.
MCP_AUTHENTICATOR = "users.mcp_auth.JwtAuthenticator"
MCP_DISCOVER_APPS = True
MCP_PRIMITIVE_MODULES = []
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
