"""The synchronous Redis client the gate, the breaker and the monitor share (one per URL and process).

Short timeouts: when Redis is slow or down, a Sheets write must give up quickly and leave its rows in
the outbox, not hang a worker. redis-py rebuilds its connection pool after a fork, so a client made
before Celery forks its workers is safe to keep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import redis

KEY_PREFIX = "callmcp:sheets"
SOCKET_TIMEOUT_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 2.0

# The start of every script: ``now`` is ARGV[1], or the server's clock when that is empty.
LUA_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_for(url: str) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = redis.Redis.from_url(
                    url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    health_check_interval=30,
                )
    return client


def redis_now(client: redis.Redis) -> float:
    """The Redis server's clock: one clock for every host that shares the quota."""
    seconds, micros = cast(tuple[int, int], client.time())
    return float(seconds) + micros / 1_000_000


T = TypeVar("T")


class PerProcess(Generic[T]):
    """One ``factory()`` object per process, built on first use (thread-safe); ``reset()`` forgets it."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._value: T | None = None

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._factory()
            return self._value

    def reset(self) -> None:
        with self._lock:
            self._value = None
