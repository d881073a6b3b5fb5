"""The simulator's options, its injectable faults and its clock."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from calls.providers.simulator.plans import PLANS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass
class SimulatorOptions:
    api_key: str = "sim-key"
    webhook_secret: str = "simulator-webhook-secret"  # noqa: S105 - the simulator's public default, as in settings
    time_scale: float = 10.0
    plan: str = "start"
    balance: float = 50.0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    public_url: str | None = None  # base of recording_url; default: the address the server listens on
    webhook_retries: int = 3
    webhook_backoff: float = 0.5
    webhook_timeout: float = 10.0
    tick_interval: float = 0.1
    webhooks: bool = True  # False: calls end without posting their webhooks (lost webhooks)
    rate_limit_rps: float = 0.0  # API requests a second (a bucket of one second's worth); 0: unlimited
    batch_dispatch_rate: float = 20.0  # calls of a v2 batch dialled per simulated second; 0: all at once

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}; one of {', '.join(PLANS)}")
        if (self.time_scale < 0 or self.latency_ms < 0 or self.webhook_retries < 0 or self.tick_interval <= 0
                or self.rate_limit_rps < 0 or self.batch_dispatch_rate < 0):
            raise ValueError("time_scale, latency_ms, webhook_retries, rate_limit_rps and batch_dispatch_rate "
                             "must be >= 0, tick_interval > 0")
        if not 0 <= self.error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")


@dataclass
class Faults:
    """What goes wrong, changed at run time through ``POST /_sim/faults``.

    ``webhooks`` off keeps every post-call webhook to itself; ``fail_details`` answers ``GET /v1/calls/{id}``
    of those call ids 500; ``list_disabled`` answers ``GET /v1/calls`` 404 as if the endpoint did not
    exist; ``rate_limit_rps`` (with ``retry_after``, seconds, sent as ``Retry-After``; Bland sends none)
    is the account's request rate."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    webhooks: bool = True
    rate_limit_rps: float = 0.0
    retry_after: float | None = None
    list_disabled: bool = False
    fail_details: frozenset[str] = frozenset()
    _carry: float = 0.0
    _failures: int = 0

    def next_failure(self) -> int | None:
        """The status the next API request fails with, or None. Deterministic: a running sum of the rate."""
        if self.outage:
            return 503
        self._carry += self.error_rate
        if self._carry < 1 - 1e-9:
            return None
        self._carry -= 1
        self._failures += 1
        return 503 if self._failures % 2 else 500

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate, "outage": self.outage,
                "webhooks": self.webhooks, "rate_limit_rps": self.rate_limit_rps, "retry_after": self.retry_after,
                "list_disabled": self.list_disabled, "fail_details": sorted(self.fail_details)}


class SimClock:
    """Simulated UTC time, which the calls' timelines run on: it starts at the wall clock, runs ``scale`` times
    faster and can be advanced. What clients are shown is put back on the wall clock with ``wall()``: the
    wall time at which the simulated clock passed a simulated instant. So durations are compressed (a
    45 s call takes 4.5 s at scale 10, and an advance takes no time at all) but timestamps never run ahead
    of the wall clock."""

    def __init__(
        self, scale: float = 10.0, *, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._monotonic = monotonic
        self._scale = scale
        self.restart(start or datetime.now(UTC))

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> datetime:
        return self._sims[-1] + timedelta(seconds=(self._monotonic() - self._reals[-1]) * self._scale)

    def advance(self, seconds: float) -> None:
        self._begin(self.now() + timedelta(seconds=seconds), self._scale)

    def set_scale(self, scale: float) -> None:
        self._begin(self.now(), scale)

    def restart(self, start: datetime) -> None:
        """Simulated time ``start``, which is the wall time now."""
        self._sims: list[datetime] = []  # each stretch of the clock: its simulated start,
        self._reals: list[float] = []  # the monotonic time it began,
        self._scales: list[float] = []  # and its pace
        self._wall_origin, self._real_origin = start, self._monotonic()
        self._begin(start, self._scale)

    def _begin(self, sim: datetime, scale: float) -> None:
        self._sims.append(sim)
        self._reals.append(self._monotonic())
        self._scales.append(scale)
        self._scale = scale

    def wall(self, moment: datetime) -> datetime:
        """The wall time at which the simulated clock reached ``moment`` (inside an advance: the advance's
        time). A moment still to come is projected at the current pace (in real time while frozen), from
        the start of the current stretch, so the answer does not change while nothing happens."""
        index = max(0, bisect.bisect_right(self._sims, moment) - 1)
        since = max(0.0, (moment - self._sims[index]).total_seconds())
        start, scale = self._reals[index], self._scales[index]
        if index + 1 < len(self._reals) and since > (self._reals[index + 1] - start) * scale:
            real = self._reals[index + 1]  # skipped by the advance that began the next stretch
        else:
            real = start + since / (scale or 1.0)
        return self._wall_origin + timedelta(seconds=real - self._real_origin)
