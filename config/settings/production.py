"""Production: the base settings, tightened. It refuses to start without the real services.

Required: ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL`` (no SQLite fallback), ``REDIS_URL`` (sessions,
rate limits and events are shared by every process through it; no in-memory channel layer),
``PUBLIC_BASE_URL`` (where the provider posts webhooks) and, when ``BLAND_API_KEY`` is set,
``BLAND_WEBHOOK_SECRET``. Celery tasks always go to a worker.
"""

from django.core.exceptions import ImproperlyConfigured

from config import env
from config.settings.base import *  # noqa: F403

_REQUIRED = ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"]
if env.is_set("BLAND_API_KEY"):
    _REQUIRED.append("BLAND_WEBHOOK_SECRET")
if _missing := [name for name in _REQUIRED if not env.is_set(name)]:
    raise ImproperlyConfigured(
        "config.settings.production needs these environment variables, which are not set: "
        + ", ".join(_missing)
        + ". Set them (BLAND_WEBHOOK_SECRET is needed whenever BLAND_API_KEY is), or leave DJANGO_SETTINGS_MODULE "
        "unset for the embedded defaults."
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
