"""The poller's provider request budget: at most ``rate`` requests a second across all its workers, and
one pause for all of them when the provider answers 429.

Process memory is the right home for this state: exactly one poller runs at a time (``calls.poller.locks``),
so there is no second process to share a budget with. The clock and the sleep are injected for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestBudget:
    """Paces requests ``1 / rate`` seconds apart (a steady rate, no burst a provider could refuse)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("the request rate must be positive")
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()
        self._paused_until = 0.0

    def acquire(self, *, deadline: float | None = None) -> bool:
        """Wait for this request's turn. False, at once, when its turn would come after ``deadline``."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next, self._paused_until)
            if deadline is not None and slot > deadline:
                return False
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
        return True

    def pause(self, seconds: float) -> None:
        """Nobody sends before ``seconds`` from now (a 429's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
