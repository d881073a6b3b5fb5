"""Production: the base settings, tightened. Secrets have no default here."""

from config import env
from config.settings.base import *  # noqa: F403

DEBUG = False
MCP_CONFORMANCE = False
SECRET_KEY = env.str_("SECRET_KEY")
SIMPLE_JWT["SIGNING_KEY"] = env.str_("JWT_SIGNING_KEY", SECRET_KEY)  # noqa: F405
ALLOWED_HOSTS = env.list_("ALLOWED_HOSTS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
