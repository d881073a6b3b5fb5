"""Per-user cache of hot MCP resources (credit balance, first history page).

Keys carry the user id, so a value is never served to another user; every write path that changes
what they show (``users.services`` for credits, ``calls.services`` for calls) deletes them after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache

TTL_SECONDS = 30


def key(user_id: int, name: str) -> str:
    return f"mcp:resource:{user_id}:{name}"


def cached(user_id: int, name: str, compute: Callable[[], Any]) -> Any:
    value = cache.get(key(user_id, name))
    if value is None:
        value = compute()
        cache.set(key(user_id, name), value, TTL_SECONDS)
    return value


def invalidate(user_id: int, *names: str) -> None:
    invalidate_many([user_id], *names)


def invalidate_many(user_ids: Iterable[int], *names: str) -> None:
    """``invalidate`` for several users in one cache round trip."""
    keys = [key(user_id, name) for user_id in sorted(set(user_ids)) for name in names]
    if keys:
        cache.delete_many(keys)


HOT = ("credits:balance", "calls:history")
