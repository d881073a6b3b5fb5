"""The authenticator the MCP gateway is given: bearer JWTs (simplejwt) and the users' scopes.

A token is decoded once and kept until it expires; a user's current scopes, staff flag and rate
limits are re-read at most every ``MCP_AUTH_CACHE_SECONDS``, so the hot path costs no database hop and
a deactivated user or a removed scope takes effect within that many seconds. Both caches are bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from mcp_gateway import db
from mcp_gateway.auth import invalid_token, missing_token
from mcp_gateway.context import Principal
from users import scopes as scope_names
from users.models import User

K = TypeVar("K")
V = TypeVar("V")
UserFacts = tuple[str, frozenset[str], bool, dict[str, str]]


class BoundedCache(Generic[K, V]):
    """Values with an expiry time, at most ``size`` of them; the least recently used go first."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._size = size
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        entry = self._items.get(key)
        if entry is None or entry[0] <= self._clock():
            return False, None
        self._items.move_to_end(key)
        return True, entry[1]

    def put(self, key: K, value: V, expires: float) -> None:
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


def _user_facts(user_id: int) -> UserFacts | None:
    row = (User.objects.filter(pk=user_id, is_active=True)
           .values_list("username", "scopes", "is_staff", "rate_limits").first())
    if row is None:
        return None
    username, held, is_staff, rate_limits = row
    return username, frozenset(held or ()), is_staff, dict(rate_limits or {})


def _principal_of(username: str) -> Principal | None:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        return None
    return Principal(user_id=user.pk, username=user.username, scopes=frozenset(user.scopes or ()),
                     is_staff=user.is_staff, rate_limits=dict(user.rate_limits or {}))


class JwtAuthenticator:
    anonymous = False
    scopes_supported: tuple[str, ...] = scope_names.ALL_SCOPES

    def __init__(self, *, cache_size: int = 10_000, user_seconds: float | None = None) -> None:
        self._user_seconds = settings.MCP_AUTH_CACHE_SECONDS if user_seconds is None else user_seconds
        self._tokens: BoundedCache[str, dict[str, object]] = BoundedCache(cache_size, time.time)
        self._users: BoundedCache[int, UserFacts | None] = BoundedCache(cache_size, time.monotonic)

    def _claims(self, raw: str) -> dict[str, object]:
        found, claims = self._tokens.get(raw)
        if found and claims is not None:
            return claims
        try:
            claims = dict(AccessToken(raw).payload)  # type: ignore[arg-type]  # annotated Token; takes the encoded str
        except TokenError as exc:
            raise invalid_token(str(exc)) from exc
        expires = claims.get("exp")
        self._tokens.put(raw, claims, float(expires) if isinstance(expires, int | float) else time.time())
        return claims

    async def _user(self, user_id: int) -> UserFacts | None:
        found, facts = self._users.get(user_id)
        if not found:
            facts = await db.run(_user_facts, user_id)
            self._users.put(user_id, facts, time.monotonic() + self._user_seconds)
        return facts

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise missing_token()
        claims = self._claims(token)
        raw_id = claims.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
        if not isinstance(raw_id, int | str) or not str(raw_id).isdigit():
            raise invalid_token("no user")
        user_id = int(raw_id)
        facts = await self._user(user_id)
        if facts is None:
            raise invalid_token("the user is inactive or gone")
        username, held, is_staff, rate_limits = facts
        return Principal(user_id=user_id, username=username, scopes=scope_names.parse(claims.get("scope")) & held,
                         is_staff=is_staff, rate_limits=rate_limits)

    async def for_username(self, username: str) -> Principal | None:
        return await db.run(_principal_of, username)

    def clear_caches(self) -> None:
        self._tokens.clear()
        self._users.clear()
