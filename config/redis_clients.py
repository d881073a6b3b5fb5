"""One asyncio Redis client per event loop and URL, shared by everything that talks to Redis from async code.

Clients cannot cross event loops, and a closed loop's client must go with it: the map is keyed by the
loops themselves, weakly held, so it is bounded by the loops alive (normally one per process).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def redis_for_loop(url: str) -> Any:
    """The ``redis.asyncio`` client for ``url`` on the running loop (created on first use)."""
    import redis.asyncio as aioredis

    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = aioredis.from_url(url)
    return client
