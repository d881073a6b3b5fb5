"""Settings and secrets from AWS SSM Parameter Store, read once at start-up into the environment.

When ``AWS_SSM_PREFIX`` is set (e.g. ``/callmcp/production``), every parameter under that path is
read with decryption (SecureString) and becomes an environment variable named after the rest of its
path: ``/callmcp/production/SECRET_KEY`` gives ``SECRET_KEY``, ``/callmcp/production/bland/api_key``
gives ``BLAND_API_KEY``. A variable already in the environment wins, so an operator can override a
stored value for one task without touching the store. The settings modules then read the environment
as they always do, including production's checks for required secrets, so this runs first
(``config/settings/base.py`` calls it before reading anything).

Read once per process and cached: a container or Lambda reads the store at start-up and never again.
A store that cannot be read stops start-up with the prefix and the reason: serving with missing
secrets would be worse. This is the only module that talks to SSM.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import MutableMapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

PREFIX_VARIABLE = "AWS_SSM_PREFIX"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

_lock = threading.Lock()
_cache: dict[str, dict[str, str]] = {}


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ssm",
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10),
    )


def variable_name(prefix: str, parameter_name: str) -> str:
    """``/callmcp/prod/bland/api_key`` under ``/callmcp/prod`` -> ``BLAND_API_KEY``."""
    relative = parameter_name[len(prefix):].strip("/")
    name = relative.replace("/", "_").replace("-", "_").replace(".", "_").upper()
    if not _NAME.match(name):
        raise ImproperlyConfigured(
            f"SSM parameter {parameter_name!r} under {PREFIX_VARIABLE}={prefix} does not name an environment "
            "variable (use letters, digits and underscores after the prefix)."
        )
    return name


def read_parameters(prefix: str, *, client: Any = None) -> dict[str, str]:
    """Every parameter under ``prefix`` (recursively, decrypted) as {VARIABLE: value}."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = "/" + prefix.strip("/")
    values: dict[str, str] = {}
    try:
        paginator = (client or _client()).get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=prefix, Recursive=True, WithDecryption=True):
            for parameter in page["Parameters"]:
                values[variable_name(prefix, parameter["Name"])] = parameter["Value"]
    except (BotoCoreError, ClientError) as exc:
        raise ImproperlyConfigured(
            f"Could not read settings from SSM Parameter Store under {PREFIX_VARIABLE}={prefix}: {exc}"
        ) from exc
    return values


def load_environment(environ: MutableMapping[str, str] | None = None, *, client: Any = None) -> list[str]:
    """Fill ``environ`` (default ``os.environ``) from the store when ``AWS_SSM_PREFIX`` is set; variables
    already set are kept. Returns the names taken from the store (never the values)."""
    environ = os.environ if environ is None else environ
    prefix = environ.get(PREFIX_VARIABLE, "").strip().strip("/")
    if not prefix:
        return []
    prefix = "/" + prefix
    with _lock:
        if prefix not in _cache:
            _cache[prefix] = read_parameters(prefix, client=client)
        stored = _cache[prefix]
    taken = sorted(name for name in stored if not environ.get(name))
    for name in taken:
        environ[name] = stored[name]
    kept = sorted(set(stored) - set(taken))
    logger.info("settings from SSM %s: %s; kept from the environment: %s", prefix, ", ".join(taken) or "none",
                ", ".join(kept) or "none")
    return taken
