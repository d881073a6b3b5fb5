"""Bearer-token authentication for every MCP transport.

The JWT is decoded once per token and the user's current scopes are re-read at most every
``MCP_AUTH_CACHE_SECONDS``, so the hot path costs no database hop. A deactivated user or a removed
scope takes effect within that many seconds.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from mcp_gateway import db
from mcp_gateway.context import Principal
from mcp_gateway.errors import Unauthorized
from users import scopes as scope_names

_token_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_user_cache: dict[int, tuple[float, tuple[str, frozenset[str], bool, dict[str, str]] | None]] = {}


def _decode(raw: str) -> dict[str, Any]:
    now = time.time()
    cached = _token_cache.get(raw)
    if cached and cached[0] > now:
        return cached[1]
    try:
        claims = dict(AccessToken(raw).payload)
    except TokenError as exc:
        raise Unauthorized(f"Invalid token: {exc}", data={"error": "invalid_token"}) from exc
    if len(_token_cache) > 10_000:
        _token_cache.clear()
    _token_cache[raw] = (float(claims.get("exp", now)), claims)
    return claims


def _load_user(user_id: int) -> tuple[str, frozenset[str], bool, dict[str, str]] | None:
    from users.models import User

    row = (
        User.objects.filter(pk=user_id, is_active=True)
        .values_list("username", "scopes", "is_staff", "rate_limits")
        .first()
    )
    if row is None:
        return None
    username, scopes, is_staff, rate_limits = row
    return username, frozenset(scopes or ()), is_staff, dict(rate_limits or {})


async def principal_from_token(raw: str | None) -> Principal:
    """Raises ``Unauthorized`` for a missing, malformed, expired or tampered token."""
    if not raw:
        raise Unauthorized("Missing bearer token.", data={"error": "invalid_request"})
    claims = _decode(raw)
    user_id = claims.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    try:
        user_id = int(user_id)
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Invalid token: no user.", data={"error": "invalid_token"}) from exc
    now = time.monotonic()
    cached = _user_cache.get(user_id)
    if cached is None or cached[0] < now:
        cached = (now + settings.MCP_AUTH_CACHE_SECONDS, await db.run(_load_user, user_id))
        _user_cache[user_id] = cached
    user = cached[1]
    if user is None:
        raise Unauthorized("Invalid token: the user is inactive or gone.", data={"error": "invalid_token"})
    username, held, is_staff, rate_limits = user
    return Principal(
        user_id=user_id,
        username=username,
        scopes=scope_names.parse(claims.get("scope")) & held,
        is_staff=is_staff,
        rate_limits=rate_limits,
    )


def bearer_from_header(value: str | None) -> str | None:
    if not value:
        return None
    kind, _, token = value.strip().partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def conformance_principal() -> Principal:
    return Principal(user_id=None, username="conformance", scopes=frozenset(scope_names.ALL_SCOPES))


def clear_caches() -> None:
    _token_cache.clear()
    _user_cache.clear()
