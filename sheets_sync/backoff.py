"""Truncated exponential backoff with jitter, as Google asks of Sheets clients.

Retry ``n`` (0-based) waits ``min(2**n + random(), maximum)`` seconds, ``random()`` being up to one second
of jitter, so clients that failed together do not retry together. A ``Retry-After`` from the server wins
when present; one longer than ``maximum`` ends the retries (the caller keeps its rows and tries later).
Retries are bounded by ``max_retries``: waiting never goes on forever.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    max_retries: int = 5
    maximum: float = 64.0
    random: Callable[[], float] = field(default=_random.random, compare=False)

    def delay(self, retry: int, *, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or ``None``: give up."""
        if retry >= self.max_retries:
            return None
        if retry_after is not None and retry_after >= 0:
            return None if retry_after > self.maximum else float(retry_after)
        jitter = min(max(self.random(), 0.0), 1.0)
        return min(2.0 ** retry + jitter, self.maximum)

    def delays(self) -> list[float]:
        """The whole schedule without Retry-After (for logs and tests)."""
        schedule = []
        for retry in range(self.max_retries):
            wait = self.delay(retry)
            assert wait is not None  # noqa: S101 - retry < max_retries
            schedule.append(wait)
        return schedule


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (the HTTP-date form is not used by Google; ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
