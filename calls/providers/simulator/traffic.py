"""The account's request rate limit and the count of the requests it answered (``GET /_sim/requests``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """``rate`` requests a second, with a burst of one second's worth; on the real clock (request rates are
    real even when the simulated clock is frozen)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.rate = rate
        self._tokens = rate
        self._at = clock()

    def configure(self, rate: float) -> None:
        self.rate, self._tokens, self._at = rate, rate, self._clock()

    def take(self) -> bool:
        """One request's token; False when the rate is spent (0 means no limit)."""
        if self.rate <= 0:
            return True
        now = self._clock()
        self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class RequestLog:
    """API requests answered, by kind, and how often each call's details were asked for."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.details_by_call: Counter[str] = Counter()
        self.endpoints: Counter[str] = Counter()  # "POST /v2/batches/create": 1, "GET /v1/calls/{id}": 3

    def record(self, method: str, path: str, *, rate_limited: bool) -> None:
        parts = path.strip("/").split("/")
        known = ("v1", "v2", "calls", "batches", "create", "list", "stop", "logs", "correct", "recording",
                 "recordings", "me", "voices", "active", "analyze")
        self.endpoints[f"{method} /" + "/".join(p if p in known else "{id}" for p in parts)] += 1
        if rate_limited:
            self.kinds["rate_limited"] += 1
        elif method == "GET" and parts == ["v1", "calls"]:
            self.kinds["list"] += 1
        elif method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "calls"]:
            self.kinds["details"] += 1
            self.details_by_call[parts[2]] += 1
        else:
            self.kinds["other"] += 1

    def as_dict(self, *, by_call: bool = False) -> dict[str, Any]:
        repeated = {call_id: count for call_id, count in self.details_by_call.items() if count > 1}
        answer: dict[str, Any] = {kind: self.kinds[kind] for kind in ("list", "details", "other", "rate_limited")}
        answer |= {"details_calls": len(self.details_by_call), "details_repeated": len(repeated),
                   "endpoints": dict(self.endpoints)}
        if by_call:
            answer["details_by_call"] = dict(self.details_by_call)
        return answer
