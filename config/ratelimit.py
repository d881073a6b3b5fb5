"""Per-user rate limits per request class, shared by the MCP gateway and the REST API.

Limits are ``"<count>/<second|minute|hour|day>"`` strings: defaults in ``settings.MCP_RATE_LIMITS``,
overridden per user by ``User.rate_limits``. Fixed windows, counted in Redis when configured (one
atomic script call per request: INCR, and EXPIRE when the window's counter is new), so a budget holds
across processes and across the two interfaces. Without Redis (a laptop) the counters live in this
process's memory, in one bounded table every limiter shares.

Callers catch ``RateLimitExceeded`` (``retry_after`` seconds, ``limit``).
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from config.redis_clients import redis_for_loop

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_COUNT = """
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
KEY_PREFIX = "callmcp:rl"
MEMORY_KEYS = 10_000


@dataclass(frozen=True)
class Limit:
    count: int
    period: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        count, _, unit = text.partition("/")
        if unit.rstrip("s") not in _PERIODS or not count.isdigit():
            raise ValueError(f"bad rate limit {text!r}: use e.g. '10/minute'")
        return cls(count=int(count), period=_PERIODS[unit.rstrip("s")])


class RateLimitExceeded(Exception):  # noqa: N818 - the name says what happened
    def __init__(self, *, rate_class: str, limit: Limit, retry_after: int) -> None:
        self.rate_class = rate_class
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(
            f"Rate limit exceeded for {rate_class} requests: {limit.count} per {limit.period}s. "
            f"Retry after {retry_after}s."
        )


class _MemoryCounters:
    """Fixed-window counters of one process, at most ``MEMORY_KEYS`` of them (oldest dropped first)."""

    def __init__(self) -> None:
        self._counts: OrderedDict[str, int] = OrderedDict()

    def clear(self) -> None:
        self._counts.clear()

    def add(self, key: str, amount: int) -> int:
        count = self._counts.pop(key, 0) + amount
        self._counts[key] = count
        while len(self._counts) > MEMORY_KEYS:
            self._counts.popitem(last=False)
        return count


_memory = _MemoryCounters()
# The counting script of each Redis client (one per event loop), registered once: weakly held.
_scripts: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _counting_script(client: Any) -> Any:
    script = _scripts.get(client)
    if script is None:
        script = _scripts[client] = client.register_script(_COUNT)
    return script


class RateLimiter:
    def __init__(self, defaults: Mapping[str, str], redis_url: str = "", clock: Callable[[], float] = time.time
                 ) -> None:
        self._defaults = {name: Limit.parse(text) for name, text in defaults.items()}
        self._redis_url = redis_url
        self._clock = clock

    def limit_for(self, rate_class: str, overrides: Mapping[str, str]) -> Limit | None:
        if rate_class in overrides:
            try:
                return Limit.parse(overrides[rate_class])
            except ValueError:
                pass  # a bad override in admin falls back to the default rather than blocking the user
        return self._defaults.get(rate_class)

    async def hit(self, *, key: str, rate_class: str, overrides: Mapping[str, str]) -> None:
        """Count one request; raise ``RateLimitExceeded`` with the seconds to wait when over the limit."""
        limit = self.limit_for(rate_class, overrides)
        if limit is None:
            return
        now = int(self._clock())
        window = now // limit.period
        count = await self._add(self._bucket(key, rate_class, limit, window), limit, 1)
        if count > limit.count:
            retry_after = max(1, (window + 1) * limit.period - now)
            raise RateLimitExceeded(rate_class=rate_class, limit=limit, retry_after=retry_after)

    async def refund(self, *, key: str, rate_class: str, overrides: Mapping[str, str]) -> None:
        """Give back one counted request (it failed validation, so it should not spend the budget)."""
        limit = self.limit_for(rate_class, overrides)
        if limit is None:
            return
        window = int(self._clock()) // limit.period
        await self._add(self._bucket(key, rate_class, limit, window), limit, -1)

    @staticmethod
    def _bucket(key: str, rate_class: str, limit: Limit, window: int) -> str:
        return f"{KEY_PREFIX}:{rate_class}:{key}:{limit.period}:{window}"

    async def _add(self, bucket: str, limit: Limit, amount: int) -> int:
        if not self._redis_url:
            return _memory.add(bucket, amount)
        script = _counting_script(redis_for_loop(self._redis_url))
        return int(await script(keys=[bucket], args=[limit.period + 1, amount]))


def forget_counts() -> None:
    """Drop every count of this process's memory table (where tests start afresh; Redis is theirs to flush)."""
    _memory.clear()


def rate_limiter_from_settings() -> RateLimiter:
    return RateLimiter(settings.MCP_RATE_LIMITS, settings.REDIS_URL)
