"""Per-minute quotas per user and per project, reads and writes apart, over sliding windows.

A request is admitted only if, counting it, no user and no project has more than its limit of admitted
requests of that kind in any ``window_seconds`` (60 by default, as Google's per-minute quotas). Requests
answered 429 are not counted. A limit of ``None`` is unlimited.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sheets_sync.emulator.errors import invalid, quota_exceeded

# Google's defaults for the Sheets API (shared/reference: 300/min/project, 60/min/user, read and write apart).
GOOGLE_DEFAULTS = {"writes_per_user": 60, "writes_per_project": 300, "reads_per_user": 60, "reads_per_project": 300}


@dataclass
class QuotaLimits:
    writes_per_user: int | None = 60
    writes_per_project: int | None = 300
    reads_per_user: int | None = 60
    reads_per_project: int | None = 300
    window_seconds: float = 60.0

    def limit(self, kind: str, level: str) -> int | None:
        value: int | None = getattr(self, f"{kind}s_per_{level}")
        return value

    def update(self, body: Mapping[str, Any]) -> None:
        """Partial update from a control request; every field is checked before any is set."""
        names = {f.name for f in fields(self)}
        unknown = set(body) - names
        if unknown:
            raise invalid(f"Unknown quota fields: {', '.join(sorted(unknown))}")
        changes: dict[str, Any] = {}
        for key, value in body.items():
            if key == "window_seconds":
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
                    raise invalid("window_seconds must be a number of seconds in (0, 3600].")
                changes[key] = float(value)
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise invalid(f"{key} must be a positive integer or null (unlimited).")
            else:
                changes[key] = value
        for key, value in changes.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class QuotaCounter:
    """Admitted request times per (kind, user) and (kind, project) over the sliding window."""

    def __init__(self, limits: QuotaLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or QuotaLimits()
        self.clock = clock
        self._windows: dict[tuple[str, str, str], deque[float]] = {}

    def _window(self, key: tuple[str, str, str], now: float) -> deque[float]:
        window = self._windows.setdefault(key, deque())
        horizon = now - self.limits.window_seconds
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def admit(self, kind: str, user: str, project: str) -> None:
        """Count the request, or raise Google's 429 naming the limit it would break (the user's first)."""
        now = self.clock()
        checks = (("user", (kind, "user", f"{project}/{user}")), ("project", (kind, "project", project)))
        windows = []
        for level, key in checks:
            limit = self.limits.limit(kind, level)
            window = self._window(key, now)
            if limit is not None and len(window) >= limit:
                raise quota_exceeded(kind, level, limit, project)
            windows.append(window)
        for window in windows:
            window.append(now)

    def usage(self) -> dict[str, int]:
        now = self.clock()
        return {"/".join(key): len(self._window(key, now)) for key in list(self._windows)}

    def reset(self) -> None:
        self._windows.clear()
