"""MCP rate limits per user and per tool class, in Redis so they hold across processes.

Limits are ``"<count>/<second|minute|hour>"`` strings: defaults in ``settings.MCP_RATE_LIMITS``,
overridden per user by ``User.rate_limits``. Fixed windows, counted with one atomic script call per
request (INCR, and EXPIRE when the window's counter is new).
Without Redis (a laptop) the counter lives in process memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from mcp_gateway.errors import RateLimited
from mcp_gateway.sessions import redis_for_loop

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


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


class RateLimiter:
    def __init__(self, defaults: dict[str, str], redis_url: str = "", clock: Callable[[], float] = time.time) -> None:
        self._defaults = {name: Limit.parse(text) for name, text in defaults.items()}
        self._redis_url = redis_url
        self._clock = clock
        self._memory: dict[str, tuple[int, int]] = {}

    def limit_for(self, rate_class: str, overrides: dict[str, str]) -> Limit | None:
        if rate_class in overrides:
            try:
                return Limit.parse(overrides[rate_class])
            except ValueError:
                pass  # a bad override in admin falls back to the default rather than blocking the user
        return self._defaults.get(rate_class)

    async def hit(self, *, key: str, rate_class: str, overrides: dict[str, str]) -> None:
        """Count one request; raise ``RateLimited`` with the seconds to wait when over the limit."""
        limit = self.limit_for(rate_class, overrides)
        if limit is None:
            return
        now = int(self._clock())
        window = now // limit.period
        bucket = f"callmcp:rl:{rate_class}:{key}:{limit.period}:{window}"
        if self._redis_url:
            count = int(await redis_for_loop(self._redis_url).register_script(_COUNT)(
                keys=[bucket], args=[limit.period + 1]))
        else:
            count = self._memory.get(bucket, (0, 0))[0] + 1
            self._memory = (
                {k: v for k, v in self._memory.items() if v[1] >= window}
                if len(self._memory) > 10_000
                else self._memory
            )
            self._memory[bucket] = (count, window)
        if count > limit.count:
            retry_after = max(1, (window + 1) * limit.period - now)
            raise RateLimited(
                f"Rate limit exceeded for {rate_class} requests: {limit.count} per {limit.period}s. "
                f"Retry after {retry_after}s.",
                retry_after=retry_after,
                data={"limit": limit.count, "periodSeconds": limit.period, "class": rate_class},
            )


def build_rate_limiter() -> RateLimiter:
    return RateLimiter(settings.MCP_RATE_LIMITS, settings.REDIS_URL)
