"""Typed reads of the environment that stop start-up with a message naming the variable.

django-environ does the parsing (URLs, lists, durations); this module only makes every bad value
fail loudly with the variable's name instead of a bare ``ValueError`` deep in Django's start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_NOT_SET = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def is_set(name: str) -> bool:
    return bool(env.str(name, default=""))


def _read(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    raw = env.str(name, default=None)
    if raw is None or raw == "":
        if default is _NOT_SET:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError, KeyError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} has an invalid value: {exc}") from exc


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{raw!r} must be a positive integer")
    return value


def _parse_count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"{raw!r} must be zero or a positive integer")
    return value


def _parse_seconds(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{raw!r} must be a number of seconds, zero or more")
    return value


def _parse_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _parse_database_url(raw: str) -> dict[str, Any]:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in environ.Env.DB_SCHEMES:
        raise ValueError(f"unsupported database URL scheme {scheme!r} (use postgres://, sqlite:///...)")
    return environ.Env.db_url_config(raw)


def _parse_redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


def str_(name: str, default: Any = _NOT_SET) -> Any:
    return _read(name, str, default)


def bool_(name: str, default: Any = _NOT_SET) -> Any:
    return _read(name, _parse_bool, default)


def int_(name: str, default: Any = _NOT_SET) -> Any:
    return _read(name, _parse_positive_int, default)


def count_(name: str, default: Any = _NOT_SET) -> Any:
    """An integer, zero allowed (retries, repeats)."""
    return _read(name, _parse_count, default)


def seconds_(name: str, default: Any = _NOT_SET) -> Any:
    """A duration in seconds, fractions and zero allowed."""
    return _read(name, _parse_seconds, default)


def list_(name: str, default: Any = _NOT_SET) -> Any:
    return _read(name, _parse_list, default)


def _parse_fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{raw!r} must be a number from 0 to 1")
    return value


def fraction_(name: str, default: Any = _NOT_SET) -> Any:
    """A fraction from 0 to 1 (rates, ratios)."""
    return _read(name, _parse_fraction, default)


def choice_(name: str, choices: tuple[str, ...], default: Any = _NOT_SET) -> Any:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")
        return value

    return _read(name, parse, default)


def database(name: str, default: Any = _NOT_SET) -> Any:
    return _read(name, _parse_database_url, default)


def redis_url(name: str, default: Any = _NOT_SET) -> Any:
    return _read(name, _parse_redis_url, default)
