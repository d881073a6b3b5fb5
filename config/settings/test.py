"""Tests: the base settings, made faster. Real PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set."""

from config.settings.base import *  # noqa: F403

# Fast hashing first; bcrypt too, so the hashes of users moved from Supabase are checked for real.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "users.hashers.ImportedBCryptPasswordHasher"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The live MCP server in the test process must not keep connections open past a request.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Tasks run in-process, for real, when they are sent (no worker in the test run).
CELERY_TASK_ALWAYS_EAGER = True
# Generous defaults: tests place many calls as the same few users; rate-limit tests set their own limits.
MCP_RATE_LIMITS = {"place": "10000/minute", "read": "100000/minute"}  # noqa: F405
