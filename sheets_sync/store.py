"""What the gate, the breaker and the monitor share in Redis: the synchronous client of each URL
(``config.redis_clients.redis_for``, with short timeouts: when Redis is slow or down, a Sheets write must
give up quickly and leave its rows in the outbox, not hang a worker), the key prefix and the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import redis

KEY_PREFIX = "callmcp:sheets"

# The start of every script: ``now`` is ARGV[1], or the server's clock when that is empty.
LUA_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

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
