"""What the Sheets traffic looks like, per minute, for the admin page, the logs and CloudWatch.

Every request the client sends is counted here (read/write, per service account, with its outcome),
with the rows it wrote; counters live in Redis per minute (kept two hours) so every process adds to the
same figures. Quota usage is read from the gate itself (the exact requests in its window against the
limit in force), and a request that takes usage to ``SHEETS_USAGE_ALERT_RATIO`` or beyond logs a
WARNING (once a minute per bucket, across processes) and puts the usage metric. Permanent errors (a
spreadsheet that is missing, not shared, or a bad range) are kept as alerts naming the spreadsheet.

The same figures go to CloudWatch through ``config.metrics``. The monitor never fails a request: if
Redis cannot be reached, the counts of that moment are dropped with a warning.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import redis

from config import metrics
from config.redis_clients import redis_for
from sheets_sync.breaker import CircuitBreaker
from sheets_sync.quota import Grant, QuotaGate
from sheets_sync.store import KEY_PREFIX

logger = logging.getLogger(__name__)

KEEP_SECONDS = 2 * 3600
KEEP_ALERTS = 50
HISTORY_MINUTES = 10


class _MemoryCounters:
    """The counters of one process (embedded mode), shaped like the Redis hashes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.minutes: dict[int, dict[str, int]] = {}
        self.alerts: list[dict[str, Any]] = []
        self.flags: dict[str, float] = {}


_memory_counters: dict[str, _MemoryCounters] = {}
_memory_lock = threading.Lock()


class SheetsMonitor:
    def __init__(self, client: redis.Redis | None, *, gate: QuotaGate | None = None,
                 breaker: CircuitBreaker | None = None, alert_ratio: float = 0.8,
                 clock: Callable[[], float] = time.time, prefix: str = f"{KEY_PREFIX}:monitor") -> None:
        self._client = client
        with _memory_lock:  # without Redis, every monitor of the process (and prefix) adds to the same figures
            self._memory = _memory_counters.setdefault(prefix, _MemoryCounters())
        self.gate = gate
        self.breaker = breaker
        self.alert_ratio = alert_ratio
        self._clock = clock
        self._prefix = prefix

    # --- recording ------------------------------------------------------------------------------
    def record_request(self, *, kind: str, account: str, outcome: str, rows: int = 0,
                       grant: Grant | None = None) -> None:
        """One request sent: ``outcome`` is "ok", "429", "5xx", "timeout", "4xx"..."""
        fields = {f"req:{kind}:{account}": 1, f"outcome:{kind}:{outcome}": 1}
        if rows:
            fields["rows"] = rows
        if outcome == "429":
            fields["throttled"] = 1
        self._add(fields)
        metrics.put(metrics.SHEETS_REQUESTS, 1, Kind=kind)
        if outcome == "429":
            metrics.put(metrics.SHEETS_THROTTLED, 1)
        if rows:
            metrics.put(metrics.SHEETS_ROWS_SYNCED, rows)
        if grant is not None:
            self._check_usage(grant)

    def record_alert(self, *, spreadsheet_id: str, code: str, message: str) -> None:
        """A permanent error: the spreadsheet needs someone's attention (logged as an error and kept for
        the admin page, once a minute per spreadsheet and error: a drain retrying it does not flood either)."""
        if not self._first_this_minute(f"permanent:{spreadsheet_id}:{code}"):
            return
        logger.error("sheets alert for spreadsheet %s (%s): %s", spreadsheet_id or "-", code, message)
        alert = {"spreadsheet_id": spreadsheet_id, "code": code, "message": message, "at": self._clock()}
        if self._client is None:
            with self._memory.lock:
                self._memory.alerts = [alert, *self._memory.alerts][:KEEP_ALERTS]
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.lpush(f"{self._prefix}:alerts", json.dumps(alert))
            pipe.ltrim(f"{self._prefix}:alerts", 0, KEEP_ALERTS - 1)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("sheets monitor: could not store an alert: %s", exc)

    def _check_usage(self, grant: Grant) -> None:
        ratios = {"user": grant.account_used / grant.account_limit,
                  "project": grant.project_used / grant.project_limit}
        metrics.put(metrics.SHEETS_QUOTA_USED_PERCENT, round(100 * max(ratios.values()), 1), Kind=grant.kind)
        for level, ratio in ratios.items():
            name = grant.account.email if level == "user" else "project"
            if ratio >= self.alert_ratio and self._first_this_minute(f"alert:{grant.kind}:{level}:{name}"):
                logger.warning("sheets quota: %s %s requests at %.0f%% of the limit (%d of %d a minute) for %s",
                               grant.kind, level, 100 * ratio,
                               grant.account_used if level == "user" else grant.project_used,
                               grant.account_limit if level == "user" else grant.project_limit, name)

    def _first_this_minute(self, flag: str) -> bool:
        key = f"{self._prefix}:{flag}:{self._minute()}"
        if self._client is None:
            with self._memory.lock:
                if key in self._memory.flags:
                    return False
                self._memory.flags = {k: v for k, v in self._memory.flags.items() if v > self._clock() - 120}
                self._memory.flags[key] = self._clock()
                return True
        try:
            return bool(self._client.set(key, 1, nx=True, ex=120))
        except redis.RedisError:
            return True

    def _add(self, fields: dict[str, int]) -> None:
        minute = self._minute()
        if self._client is None:
            with self._memory.lock:
                counters = self._memory.minutes.setdefault(minute, {})
                for field, amount in fields.items():
                    counters[field] = counters.get(field, 0) + amount
                for old in [m for m in self._memory.minutes if m < minute - KEEP_SECONDS // 60]:
                    del self._memory.minutes[old]
            return
        key = f"{self._prefix}:minute:{minute}"
        try:
            pipe = self._client.pipeline(transaction=False)
            for field, amount in fields.items():
                pipe.hincrby(key, field, amount)
            pipe.expire(key, KEEP_SECONDS)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("sheets monitor: could not count a request: %s", exc)

    def _minute(self) -> int:
        return int(self._clock() // 60)

    def publish_metrics(self) -> None:
        """Put the gauges of this moment (quota used per kind, breaker open or not) for CloudWatch; a beat
        task calls it every minute so the alarms see figures even while nothing is sent."""
        if self.gate is not None:
            try:
                usage = self.gate.usage()
            except redis.RedisError as exc:
                logger.warning("sheets monitor: quota usage cannot be read: %s", exc)
                usage = []
            for kind in ("read", "write"):
                ratios = [u.ratio for u in usage if u.kind == kind]
                if ratios:
                    metrics.put(metrics.SHEETS_QUOTA_USED_PERCENT, round(100 * max(ratios), 1), Kind=kind)
        if self.breaker is not None:
            metrics.put(metrics.SHEETS_BREAKER_OPEN, 0 if self.breaker.state() == "closed" else 1)

    # --- reading --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything the admin page shows: the last minutes' traffic, quota usage, breaker, alerts."""
        now_minute = self._minute()
        minutes = [self._minute_figures(minute) for minute in range(now_minute, now_minute - HISTORY_MINUTES, -1)]
        quota = []
        if self.gate is not None:
            try:
                quota = [{"kind": u.kind, "level": u.level, "name": u.name, "used": u.used, "limit": u.limit,
                          "ratio": round(u.ratio, 3), "alert": u.ratio >= self.alert_ratio}
                         for u in self.gate.usage()]
            except redis.RedisError as exc:
                logger.warning("sheets monitor: quota usage cannot be read: %s", exc)
        return {
            "this_minute": minutes[0],
            "last_minute": minutes[1],
            "history": minutes,
            "quota": quota,
            "usage_alert_ratio": self.alert_ratio,
            "quota_alerts": [entry for entry in quota if entry["alert"]],
            "breaker": self.breaker.state() if self.breaker is not None else "unknown",
            "alerts": self._alerts(),
        }

    def _minute_figures(self, minute: int) -> dict[str, Any]:
        raw = self._read_minute(minute)
        requests: dict[str, dict[str, Any]] = {kind: {"project": 0, "accounts": {}, "outcomes": {}}
                                               for kind in ("read", "write")}
        for field, value in raw.items():
            part, kind, name = (field.split(":", 2) + ["", ""])[:3]
            if part == "req" and kind in requests:
                requests[kind]["accounts"][name] = value
                requests[kind]["project"] += value
            elif part == "outcome" and kind in requests:
                requests[kind]["outcomes"][name] = value
        return {"minute": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(), "requests": requests,
                "rows": raw.get("rows", 0), "throttled": raw.get("throttled", 0)}

    def _read_minute(self, minute: int) -> dict[str, int]:
        if self._client is None:
            with self._memory.lock:
                return dict(self._memory.minutes.get(minute, {}))
        try:
            raw = cast(dict[bytes, bytes], self._client.hgetall(f"{self._prefix}:minute:{minute}"))
        except redis.RedisError as exc:
            logger.warning("sheets monitor: figures cannot be read: %s", exc)
            return {}
        return {_text(key): int(value) for key, value in raw.items()}

    def _alerts(self) -> list[dict[str, Any]]:
        if self._client is None:
            with self._memory.lock:
                return list(self._memory.alerts)
        try:
            items = cast(list[bytes], self._client.lrange(f"{self._prefix}:alerts", 0, KEEP_ALERTS - 1))
            return [json.loads(item) for item in items]
        except redis.RedisError as exc:
            logger.warning("sheets monitor: alerts cannot be read: %s", exc)
            return []


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value



def monitor_from_settings(*, gate: QuotaGate | None = None, breaker: CircuitBreaker | None = None) -> SheetsMonitor:
    from django.conf import settings

    client = redis_for(settings.REDIS_URL) if settings.REDIS_URL else None
    return SheetsMonitor(client, gate=gate, breaker=breaker, alert_ratio=settings.SHEETS_USAGE_ALERT_RATIO)
