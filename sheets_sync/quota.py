"""The Sheets quota gate: a two-level token bucket shared by every process that talks to Sheets.

Google limits requests per minute per user (a service account is one user: 60) AND per project (300),
reads and writes counted apart. Every Sheets request first takes one token from both levels at once,
in one atomic Redis script, so the web processes, every Celery worker and the Lambda poller together
stay under both limits. No token, no request.

Each token comes back one window (60 s plus a safety margin for the time between taking the token and
the request reaching Google) after it was spent: the bucket is a sliding-window log, so no 60-second
window, wherever it starts, ever holds more requests than the limit, while a steady caller still gets
the full limit. With ``account=None`` the gate picks the pool account with the most tokens left.

Critical rows must not wait for a window that progress rows spent (``Pacing``): progress requests leave
``SHEETS_CRITICAL_RESERVE`` tokens of each bucket to critical ones, and with pacing
(``SHEETS_PACE_BURST``) an account sends at most a short burst and then one request per window/limit
seconds, so the window is spent evenly instead of in a burst and a minute of 429-free silence.

A 429 tells the real limit (``quota_limit_value``); ``adapt`` lowers the bucket to it for every process
(for an hour, then the configured value is tried again). Without Redis (the embedded single-process
mode only) the same buckets live in this process's memory.

The clock is injectable; by default the Redis server's clock is used, so hosts need not agree on time.
Callers catch ``NoToken`` (``wait``: seconds until a token is free).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from config.redis_clients import redis_for
from sheets_sync.accounts import ServiceAccount
from sheets_sync.errors import NoToken
from sheets_sync.quota_scripts import ADAPT, TAKE
from sheets_sync.store import KEY_PREFIX, PerProcess, redis_now

logger = logging.getLogger(__name__)

KINDS = ("read", "write")
LEVELS = ("user", "project")
WINDOW_SECONDS = 60.0
ADAPTED_LIMIT_SECONDS = 3600
STORE_DOWN_WAIT_SECONDS = 5.0

@dataclass(frozen=True)
class Grant:
    """One token of both levels: send exactly one request as ``account``."""

    account: ServiceAccount
    kind: str
    account_used: int  # requests of this account in the window, this one included
    account_limit: int
    project_used: int
    project_limit: int


@dataclass(frozen=True)
class Usage:
    kind: str
    level: str
    name: str  # the account's email, or "project"
    used: int
    limit: int

    @property
    def ratio(self) -> float:
        return self.used / self.limit if self.limit else 0.0


@dataclass(frozen=True)
class Pacing:
    """How the gate shares a bucket between critical and progress requests, and spreads them out.

    ``reserve``: tokens of each per-minute bucket (per account and per project) that only critical
    requests may take, so a backlog of progress rows never spends the window a critical row needs.
    ``burst``: requests an account may send back to back; beyond it one every window/limit seconds (the
    per-user bound, 1 a second with Google's 60 a minute), so the window is spent evenly, not in a burst
    followed by a minute of nothing. Progress requests may not take the last slot of the burst. 0 = no
    pacing (only the per-minute limits)."""

    reserve: int = 0
    burst: int = 0

    def __post_init__(self) -> None:
        if self.reserve < 0 or self.burst < 0:
            raise ValueError("reserve and burst cannot be negative")


@dataclass(frozen=True)
class _Taken:
    index: int  # 1-based index into the candidates; 0 = none had a token
    wait: float
    project_used: int
    project_limit: int
    account_used: int
    account_limit: int


class QuotaStore(Protocol):
    def take(self, kind: str, names: Sequence[str], limits: Mapping[str, int], window: float, now: float | None,
             offset: int, *, pacing: Pacing = Pacing(), critical: bool = True) -> _Taken: ...

    def adapt(self, kind: str, level: str, limit: int) -> int: ...

    def used(self, kind: str, names: Sequence[str], window: float, now: float | None
             ) -> tuple[dict[str, int], dict[str, int]]: ...


class RedisQuotaStore:
    """The buckets in Redis (all keys in one hash slot, so the script also runs on a cluster)."""

    def __init__(self, client: redis.Redis, prefix: str = f"{KEY_PREFIX}:{{quota}}") -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(TAKE)
        self._adapt = client.register_script(ADAPT)

    def _log(self, kind: str, name: str) -> str:
        return f"{self._prefix}:log:{kind}:{name}"

    def _limit(self, kind: str, level: str) -> str:
        return f"{self._prefix}:limit:{kind}:{level}"

    def take(self, kind: str, names: Sequence[str], limits: Mapping[str, int], window: float, now: float | None,
             offset: int, *, pacing: Pacing = Pacing(), critical: bool = True) -> _Taken:
        keys = [self._log(kind, "project"), self._limit(kind, "project"), self._limit(kind, "user"),
                f"{self._prefix}:seq", *(self._log(kind, f"user:{name}") for name in names),
                *(f"{self._prefix}:pace:{kind}:user:{name}" for name in names)]
        args: list[str | int] = ["" if now is None else repr(now), repr(window), limits["project"], limits["user"],
                                 offset, pacing.reserve, pacing.burst, "1" if critical else "0"]
        index, wait, project_used, project_limit, account_used, account_limit = self._take(keys=keys, args=args)
        return _Taken(int(index), float(wait), int(project_used), int(project_limit), int(account_used),
                      int(account_limit))

    def adapt(self, kind: str, level: str, limit: int) -> int:
        return int(self._adapt(keys=[self._limit(kind, level)], args=[limit, ADAPTED_LIMIT_SECONDS]))

    def used(self, kind: str, names: Sequence[str], window: float, now: float | None
             ) -> tuple[dict[str, int], dict[str, int]]:
        when = redis_now(self._client) if now is None else now
        pipe = self._client.pipeline(transaction=False)
        for name in ("project", *(f"user:{name}" for name in names)):
            pipe.zcount(self._log(kind, name), f"({when - window}", "+inf")
        for level in LEVELS:
            pipe.get(self._limit(kind, level))
        *counts, user_limit, project_limit = pipe.execute()
        used = {"project": int(counts[0]), **{name: int(count) for name, count in zip(names, counts[1:], strict=True)}}
        adapted = {level: int(value) for level, value in (("user", user_limit), ("project", project_limit)) if value}
        return used, adapted


class MemoryQuotaStore:
    """The same buckets in this process's memory: the embedded single-process mode only."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}
        self._adapted: dict[str, tuple[int, float]] = {}
        self._paced: dict[str, float] = {}  # per kind and account: when its next paced request is due

    def _trimmed(self, key: str, cutoff: float) -> deque[float]:
        log = self._logs.setdefault(key, deque())
        while log and log[0] <= cutoff:
            log.popleft()
        return log

    def _limit(self, kind: str, level: str, configured: int, now: float) -> int:
        value, until = self._adapted.get(f"{kind}:{level}", (configured, 0.0))
        return min(configured, value) if until > now else configured

    def take(self, kind: str, names: Sequence[str], limits: Mapping[str, int], window: float, now: float | None,
             offset: int, *, pacing: Pacing = Pacing(), critical: bool = True) -> _Taken:
        """The Redis script's rules (see ``sheets_sync.quota_scripts.TAKE``), under this process's lock."""
        with self._lock:
            at = self._clock() if now is None else now
            cutoff = at - window
            plimit = self._limit(kind, "project", limits["project"], at)
            ulimit = self._limit(kind, "user", limits["user"], at)
            keep = 0 if critical else pacing.reserve
            interval = window / ulimit if pacing.burst else 0.0
            slack = (pacing.burst - 1 if critical else max(pacing.burst - 2, 0)) * interval
            project = self._trimmed(f"{kind}:project", cutoff)
            pcap = max(plimit - min(keep, plimit - 1), 1)
            if len(project) >= pcap:
                return _Taken(0, project[len(project) - pcap] + window - at, len(project), plimit, -1, ulimit)
            ucap = max(ulimit - min(keep, ulimit - 1), 1)
            best, best_used, best_wait = 0, -1, -1.0
            for step in range(len(names)):
                position = (offset + step) % len(names)
                log = self._trimmed(f"{kind}:user:{names[position]}", cutoff)
                wait = log[len(log) - ucap] + window - at if len(log) >= ucap else 0.0
                if interval:
                    wait = max(wait, self._paced.get(f"{kind}:{names[position]}", 0.0) - slack - at)
                if wait <= 0:
                    if best == 0 or len(log) < best_used:
                        best, best_used = position + 1, len(log)
                else:
                    best_wait = wait if best_wait < 0 else min(best_wait, wait)
            if best == 0:
                return _Taken(0, best_wait, len(project), plimit, -1, ulimit)
            project.append(at)
            self._logs[f"{kind}:user:{names[best - 1]}"].append(at)
            if interval:
                key = f"{kind}:{names[best - 1]}"
                self._paced[key] = max(self._paced.get(key, 0.0), at) + interval
            return _Taken(best, 0.0, len(project), plimit, best_used + 1, ulimit)

    def adapt(self, kind: str, level: str, limit: int) -> int:
        with self._lock:
            now = self._clock()
            value, until = self._adapted.get(f"{kind}:{level}", (limit, 0.0))
            if until <= now or limit < value:  # the lowest report holds, for an hour from when it was made
                value, until = limit, now + ADAPTED_LIMIT_SECONDS
            self._adapted[f"{kind}:{level}"] = (value, until)
            return value

    def used(self, kind: str, names: Sequence[str], window: float, now: float | None
             ) -> tuple[dict[str, int], dict[str, int]]:
        with self._lock:
            at = self._clock() if now is None else now
            used = {"project": len(self._trimmed(f"{kind}:project", at - window))}
            for name in names:
                used[name] = len(self._trimmed(f"{kind}:user:{name}", at - window))
            adapted = {key.split(":")[1]: value for key, (value, until) in self._adapted.items()
                       if key.startswith(f"{kind}:") and until > at}
            return used, adapted


@dataclass(frozen=True)
class QuotaLimits:
    """Requests per minute: ``{kind: {level: limit}}``."""

    read_user: int = 60
    read_project: int = 300
    write_user: int = 60
    write_project: int = 300

    def for_kind(self, kind: str) -> dict[str, int]:
        return {"user": getattr(self, f"{kind}_user"), "project": getattr(self, f"{kind}_project")}


class QuotaGate:
    def __init__(self, accounts: Sequence[ServiceAccount], store: QuotaStore, *, limits: QuotaLimits | None = None,
                 window: float = WINDOW_SECONDS + 1.0, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] = time.sleep, pacing: Pacing | None = None) -> None:
        self.accounts = list(accounts)
        self.limits = limits or QuotaLimits()
        self.pacing = pacing or Pacing()
        self.window = window
        self._store = store
        self._clock = clock  # None: the store's own clock (the Redis server's)
        self._sleep = sleep
        self._by_email = {account.email: account for account in self.accounts}

    def take(self, kind: str, account: ServiceAccount | None = None, *, critical: bool = True) -> Grant:
        """One token of ``kind`` ("read" or "write") from the project and from ``account`` (or any pool
        account that has one). A progress request (``critical=False``) leaves the reserve and the last
        slot of the burst to critical ones (see ``Pacing``). Raises ``NoToken(wait)`` when none is free,
        or the store is unreachable."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        candidates = [account] if account is not None else self.accounts
        if not candidates:
            raise NoToken(float("inf"), kind=kind)
        try:
            taken = self._store.take(kind, [candidate.email for candidate in candidates], self.limits.for_kind(kind),
                                     self.window, self._now(), random.randrange(len(candidates)),  # noqa: S311
                                     pacing=self.pacing, critical=critical)
        except redis.RedisError as exc:
            logger.warning("sheets quota: the token store is unreachable (%s); no request is sent", exc)
            raise NoToken(STORE_DOWN_WAIT_SECONDS, kind=kind) from exc
        if taken.index == 0:
            raise NoToken(max(taken.wait, 0.001), kind=kind)
        return Grant(account=candidates[taken.index - 1], kind=kind, account_used=taken.account_used,
                     account_limit=taken.account_limit, project_used=taken.project_used,
                     project_limit=taken.project_limit)

    def acquire(self, kind: str, account: ServiceAccount | None = None, *, timeout: float = 0.0,
                critical: bool = True) -> Grant:
        """``take``, waiting up to ``timeout`` seconds for a token (a little jitter so waiters spread out)."""
        waited = 0.0
        while True:
            try:
                return self.take(kind, account, critical=critical)
            except NoToken as exc:
                if waited + exc.wait > timeout:
                    raise
                pause = exc.wait + random.uniform(0.0, 0.05)  # noqa: S311 - jitter, not security
                self._sleep(pause)
                waited += pause

    def adapt(self, kind: str, level: str, limit_per_minute: int) -> int:
        """Lower the ``level`` bucket of ``kind`` to the limit a 429 reported (for every process).

        Returns the limit now in force. A reported limit above the configured one changes nothing: the
        429 then came from other consumers of the same quota, and backing off is the answer."""
        if kind not in KINDS or level not in LEVELS:
            raise ValueError(f"unknown bucket {kind}/{level}")
        configured = self.limits.for_kind(kind)[level]
        if limit_per_minute <= 0 or limit_per_minute >= configured:
            return configured
        try:
            adapted = self._store.adapt(kind, level, limit_per_minute)
        except redis.RedisError as exc:
            logger.warning("sheets quota: could not store the adapted %s %s limit: %s", kind, level, exc)
            return configured
        logger.warning("sheets quota: %s requests per %s now limited to %d a minute (reported by Google)",
                       kind, level, adapted)
        return min(adapted, configured)

    def usage(self) -> list[Usage]:
        """Requests in the current window against the limit in force, per kind, account and project."""
        figures: list[Usage] = []
        emails = [account.email for account in self.accounts]
        for kind in KINDS:
            used, adapted = self._store.used(kind, emails, self.window, self._now())
            configured = self.limits.for_kind(kind)
            limits = {level: min(configured[level], adapted.get(level, configured[level])) for level in LEVELS}
            figures.append(Usage(kind, "project", "project", used["project"], limits["project"]))
            figures.extend(Usage(kind, "user", email, used[email], limits["user"]) for email in emails)
        return figures

    def _now(self) -> float | None:
        return None if self._clock is None else self._clock()


# The one in-process store of this process (embedded mode: every client shares it).
memory_store = PerProcess(MemoryQuotaStore)


def quota_limits_from_settings() -> QuotaLimits:
    from django.conf import settings

    return QuotaLimits(read_user=settings.SHEETS_READS_PER_MINUTE_PER_USER,
                       read_project=settings.SHEETS_READS_PER_MINUTE_PER_PROJECT,
                       write_user=settings.SHEETS_WRITES_PER_MINUTE_PER_USER,
                       write_project=settings.SHEETS_WRITES_PER_MINUTE_PER_PROJECT)


def quota_gate_from_settings(accounts: Sequence[ServiceAccount] | None = None) -> QuotaGate:
    from django.conf import settings

    from sheets_sync.accounts import accounts_from_settings

    pool = accounts_from_settings() if accounts is None else accounts
    store: QuotaStore = RedisQuotaStore(redis_for(settings.REDIS_URL)) if settings.REDIS_URL else memory_store()
    return QuotaGate(pool, store, limits=quota_limits_from_settings(),
                     window=WINDOW_SECONDS + float(settings.SHEETS_QUOTA_MARGIN_SECONDS), pacing=pacing_from_settings())


def pacing_from_settings() -> Pacing:
    from django.conf import settings

    return Pacing(reserve=settings.SHEETS_CRITICAL_RESERVE, burst=settings.SHEETS_PACE_BURST)
