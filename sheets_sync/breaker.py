"""The Sheets circuit breaker, its state in Redis so every worker, web process and the poller share it.

closed     requests flow. ``SHEETS_BREAKER_FAILURES`` failures in a row, within
           ``SHEETS_BREAKER_WINDOW_SECONDS``, open it (a success in between starts the count again).
open       nothing is sent for ``SHEETS_BREAKER_COOLDOWN_SECONDS``; rows wait in the outbox.
half_open  after the cool-down one probe request is let through (one for all processes); its success
           closes the breaker, its failure opens it again for another cool-down. A probe that never
           reports (its worker died) frees its slot after ``probe_seconds``.

Only failures that say Sheets is unwell count (429, rate-limit 403s, 5xx, timeouts, connection
failures); the client never reports a 400, a permission error or a 404 as one.

When it closes, ``sheets_sync.events.breaker_closed`` is announced (in the one process whose probe
succeeded) so the backlog is resynced. If Redis is down the breaker fails safe: ``allow()`` is False,
so nothing is written and the rows stay where they are. Without Redis (the embedded single-process
mode) the state lives in this process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from config import metrics
from config.redis_clients import redis_for
from sheets_sync.events import BreakerClosed, breaker_closed
from sheets_sync.store import KEY_PREFIX, LUA_NOW, PerProcess

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN, UNAVAILABLE = "closed", "open", "half_open", "unavailable"

# KEYS: state hash, failures zset, probe, sequence. ARGV: now ("" = server clock), op, failures,
# window, cool-down, probe ttl (ms). Returns {state after, transition}.
_BREAKER = LUA_NOW + """
local op = ARGV[2]
local threshold, window, cooldown = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at'))
local state = 'closed'
if opened then
  if now < opened + cooldown then state = 'open' else state = 'half_open' end
end
if op == 'state' then return {state, ''} end
if op == 'allow' then
  if state == 'closed' then return {state, 'allowed'} end
  if state == 'half_open' and redis.call('SET', KEYS[3], tostring(now), 'NX', 'PX', ARGV[6]) then
    return {state, 'probe'}
  end
  return {state, 'denied'}
end
if op == 'success' then
  if state == 'half_open' then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return {'closed', 'closed'}
  end
  if state == 'closed' then redis.call('DEL', KEYS[2]) end
  return {state, ''}
end
-- failure
if state == 'half_open' then
  redis.call('HSET', KEYS[1], 'opened_at', tostring(now))
  redis.call('DEL', KEYS[3])
  return {'open', 'reopened'}
end
if state == 'open' then return {state, ''} end
redis.call('ZADD', KEYS[2], now, tostring(now) .. ':' .. redis.call('INCR', KEYS[4]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('EXPIRE', KEYS[2], math.ceil(window) + 1)
if redis.call('ZCARD', KEYS[2]) >= threshold then
  redis.call('HSET', KEYS[1], 'opened_at', tostring(now))
  redis.call('DEL', KEYS[2], KEYS[3])
  return {'open', 'opened'}
end
return {state, ''}
"""


@dataclass(frozen=True)
class BreakerSettings:
    failures: int = 5
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0
    probe_seconds: float = 120.0  # a probe that never reports frees its slot after this


class BreakerStore(Protocol):
    def run(self, op: str, now: float | None, config: BreakerSettings) -> tuple[str, str]: ...


class RedisBreakerStore:
    def __init__(self, client: redis.Redis, prefix: str = f"{KEY_PREFIX}:{{breaker}}") -> None:
        self._script = client.register_script(_BREAKER)
        self._keys = [f"{prefix}:state", f"{prefix}:failures", f"{prefix}:probe", f"{prefix}:seq"]

    def run(self, op: str, now: float | None, config: BreakerSettings) -> tuple[str, str]:
        state, transition = self._script(keys=self._keys, args=[
            "" if now is None else repr(now), op, config.failures, repr(config.window_seconds),
            repr(config.cooldown_seconds), int(config.probe_seconds * 1000)])
        return _text(state), _text(transition)


class MemoryBreakerStore:
    """The same state machine in this process (embedded single-process mode only)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._failures: list[float] = []
        self._probe_until = 0.0

    def _state(self, now: float, config: BreakerSettings) -> str:
        if self._opened_at is None:
            return CLOSED
        return OPEN if now < self._opened_at + config.cooldown_seconds else HALF_OPEN

    def run(self, op: str, now: float | None, config: BreakerSettings) -> tuple[str, str]:
        with self._lock:
            at = self._clock() if now is None else now
            state = self._state(at, config)
            if op == "state":
                return state, ""
            if op == "allow":
                return state, self._allow(state, at, config)
            if op == "success":
                return self._success(state)
            return self._failure(state, at, config)

    def _allow(self, state: str, at: float, config: BreakerSettings) -> str:
        if state == CLOSED:
            return "allowed"
        if state == HALF_OPEN and at >= self._probe_until:
            self._probe_until = at + config.probe_seconds
            return "probe"
        return "denied"

    def _success(self, state: str) -> tuple[str, str]:
        if state == HALF_OPEN:
            self._opened_at, self._failures, self._probe_until = None, [], 0.0
            return CLOSED, "closed"
        if state == CLOSED:
            self._failures = []
        return state, ""

    def _failure(self, state: str, at: float, config: BreakerSettings) -> tuple[str, str]:
        if state == HALF_OPEN:
            self._opened_at, self._probe_until = at, 0.0
            return OPEN, "reopened"
        if state == OPEN:
            return state, ""
        self._failures = [when for when in self._failures if when > at - config.window_seconds] + [at]
        if len(self._failures) >= config.failures:
            self._opened_at, self._failures, self._probe_until = at, [], 0.0
            return OPEN, "opened"
        return state, ""


class CircuitBreaker:
    """``allow()`` before each request; then ``success()`` or ``failure()`` for what Sheets answered."""

    def __init__(self, store: BreakerStore, config: BreakerSettings | None = None, *,
                 clock: Callable[[], float] | None = None,
                 on_close: Callable[[BreakerClosed], None] | None = None) -> None:
        self.config = config or BreakerSettings()
        self._store = store
        self._clock = clock  # None: the store's own clock (the Redis server's)
        self._on_close = on_close

    def allow(self) -> bool:
        """May a request be sent now? False while open, in half-open once the probe is out, and
        whenever the breaker's state cannot be read (fail safe: nothing is written, nothing lost)."""
        outcome = self._run("allow")
        return outcome is not None and outcome[1] in ("allowed", "probe")

    def success(self) -> None:
        self._run("success")

    def failure(self) -> None:
        self._run("failure")

    def state(self) -> str:
        """closed, open, half_open, or unavailable (Redis cannot be reached)."""
        outcome = self._run("state")
        return UNAVAILABLE if outcome is None else outcome[0]

    def _run(self, op: str) -> tuple[str, str] | None:
        try:
            state, transition = self._store.run(op, None if self._clock is None else self._clock(), self.config)
        except redis.RedisError as exc:
            logger.warning("sheets breaker: its state in Redis cannot be reached (%s); holding requests back", exc)
            return None
        if transition in ("opened", "reopened"):
            logger.warning("sheets breaker %s: no Sheets requests for %.0fs", transition, self.config.cooldown_seconds)
            metrics.put(metrics.SHEETS_BREAKER_OPEN, 1)
        elif transition == "closed":
            logger.warning("sheets breaker closed: Sheets answers again; the backlog resyncs")
            metrics.put(metrics.SHEETS_BREAKER_OPEN, 0)
            event = BreakerClosed(closed_at=time.time())
            if self._on_close is not None:
                self._on_close(event)
            breaker_closed.send_now(event)
        return state, transition


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


# The one in-process state of this process (embedded mode: every client shares it).
memory_breaker_store = PerProcess(MemoryBreakerStore)


def breaker_settings_from_settings() -> BreakerSettings:
    from django.conf import settings

    return BreakerSettings(failures=settings.SHEETS_BREAKER_FAILURES,
                           window_seconds=float(settings.SHEETS_BREAKER_WINDOW_SECONDS),
                           cooldown_seconds=float(settings.SHEETS_BREAKER_COOLDOWN_SECONDS),
                           probe_seconds=float(settings.SHEETS_HTTP_TIMEOUT_SECONDS
                                               + settings.SHEETS_MAX_BACKOFF_SECONDS + 10))


def breaker_from_settings() -> CircuitBreaker:
    from django.conf import settings

    store: BreakerStore = RedisBreakerStore(redis_for(settings.REDIS_URL)) if settings.REDIS_URL \
        else memory_breaker_store()
    return CircuitBreaker(store, breaker_settings_from_settings())
