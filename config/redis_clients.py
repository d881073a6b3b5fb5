"""Redis clients shared by everything in a process: one asyncio client per event loop and URL
(``redis_for_loop``), and one synchronous client per URL (``redis_for``).

Asyncio clients cannot cross event loops, and a closed loop's client must go with it: that map is keyed by
the loops themselves, weakly held, so it is bounded by the loops alive (normally one per process). The
synchronous clients have short timeouts: code that calls Redis on the way (a Sheets write, a cache
version bump) gives up quickly when it is slow or down instead of hanging a worker. redis-py rebuilds a
client's connection pool after a fork, so one made before Celery forks its workers is safe to keep.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import redis

SOCKET_TIMEOUT_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 2.0
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()
_sync_clients: dict[str, redis.Redis] = {}  # one per URL: bounded by the URLs configured
_lock = threading.Lock()


def redis_for_loop(url: str) -> Any:
    """The ``redis.asyncio`` client for ``url`` on the running loop (created on first use)."""
    import redis.asyncio as aioredis

    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = aioredis.from_url(url)
    return client


def redis_for(url: str) -> redis.Redis:
    """The synchronous client for ``url`` in this process (created on first use)."""
    client = _sync_clients.get(url)
    if client is None:
        with _lock:
            client = _sync_clients.get(url)
            if client is None:
                client = _sync_clients[url] = redis.Redis.from_url(
                    url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    health_check_interval=30,
                )
    return client
