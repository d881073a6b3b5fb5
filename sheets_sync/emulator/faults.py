"""Switchable faults: an error rate (429/5xx), latency, an outage (for good or for N seconds) and ambiguous
failures (the write is applied, then the answer is 500, as when a response is lost).

Random draws come from a seeded generator, so a run with the same requests in the same order fails the same
way. Faults apply to Sheets API requests only, never to the token endpoint or the control API."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from sheets_sync.emulator.errors import invalid

FAULT_STATUSES = (429, 500, 502, 503, 504)


class Faults:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.error_rate = 0.0
        self.error_statuses: tuple[int, ...] = (429, 500)
        self.latency_ms = 0.0
        self.outage = False
        self.outage_until: float | None = None
        self.ambiguous_rate = 0.0
        self.seed = 0
        self._random = random.Random(self.seed)  # noqa: S311 - reproducible faults, not secrets

    def in_outage(self) -> bool:
        if self.outage_until is not None and self.clock() >= self.outage_until:
            self.outage_until = None
        return self.outage or self.outage_until is not None

    def next_error(self) -> int | None:
        """The status to fail this request with, or None."""
        if self.error_rate and self._random.random() < self.error_rate:
            return self._random.choice(self.error_statuses)
        return None

    def next_ambiguous(self) -> bool:
        return bool(self.ambiguous_rate) and self._random.random() < self.ambiguous_rate

    def update(self, body: Mapping[str, Any]) -> None:
        """Partial update from ``POST /_emulator/faults``; everything is checked before anything is set."""
        known = {"error_rate", "error_statuses", "latency_ms", "outage", "outage_seconds", "ambiguous_rate", "seed"}
        unknown = set(body) - known
        if unknown:
            raise invalid(f"Unknown fault fields: {', '.join(sorted(unknown))}")
        changes: dict[str, Any] = {}
        for key, high in (("error_rate", 1.0), ("ambiguous_rate", 1.0), ("latency_ms", 600_000.0),
                          ("outage_seconds", 86_400.0)):
            if key in body:
                changes[key] = _number(body[key], key, high)
        statuses = body.get("error_statuses")
        if statuses is not None:
            if not isinstance(statuses, list) or not statuses or not all(s in FAULT_STATUSES for s in statuses):
                raise invalid(f"error_statuses must be a non-empty list drawn from {list(FAULT_STATUSES)}.")
            changes["error_statuses"] = tuple(statuses)
        if "outage" in body and not isinstance(body["outage"], bool):
            raise invalid("outage must be a boolean.")
        if "seed" in body and (isinstance(body["seed"], bool) or not isinstance(body["seed"], int)):
            raise invalid("seed must be an integer.")
        self._apply(changes, body)

    def _apply(self, changes: dict[str, Any], body: Mapping[str, Any]) -> None:
        for key in ("error_rate", "ambiguous_rate", "latency_ms", "error_statuses"):
            if key in changes:
                setattr(self, key, changes[key])
        if "outage" in body:
            self.outage = body["outage"]
            if not body["outage"]:
                self.outage_until = None
        if "outage_seconds" in changes:
            seconds = changes["outage_seconds"]
            self.outage_until = self.clock() + seconds if seconds else None
        if "seed" in body:
            self.seed = body["seed"]
            self._random = random.Random(self.seed)  # noqa: S311 - reproducible faults, not secrets

    def as_dict(self) -> dict[str, Any]:
        remaining = None
        if self.outage_until is not None:
            remaining = max(0.0, self.outage_until - self.clock())
        return {"error_rate": self.error_rate, "error_statuses": list(self.error_statuses),
                "latency_ms": self.latency_ms, "outage": self.in_outage(), "outage_seconds_left": remaining,
                "ambiguous_rate": self.ambiguous_rate, "seed": self.seed}


def _number(value: Any, key: str, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high or math.isnan(value):
        raise invalid(f"{key} must be a number between 0 and {high:g}.")
    return float(value)
