"""Tests: the base settings, made faster. Real PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set."""

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
