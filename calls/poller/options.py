"""What a poller pass is asked to do (``PollOptions``) and what it reports (``PollSummary``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from calls.models import PollRunStatus
from calls.poller.state import Counts

LOCKED = "locked"
DRY_RUN = "dry_run"


@dataclass(frozen=True)
class PollOptions:
    max_seconds: float
    batch_size: int
    concurrency: int
    rate: float
    use_list: bool
    dry_run: bool = False
    trigger: str = "command"

    @classmethod
    def from_settings(cls, **overrides: Any) -> PollOptions:
        values: dict[str, Any] = {
            "max_seconds": float(settings.POLLER_MAX_SECONDS), "batch_size": settings.POLLER_BATCH_SIZE,
            "concurrency": settings.POLLER_CONCURRENCY, "rate": settings.POLLER_PROVIDER_RPS,
            "use_list": settings.POLLER_USE_LIST,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass
class PollSummary:
    status: str
    trigger: str
    run_id: str | None = None
    pass_id: str | None = None
    resumed: bool = False
    duration_seconds: float = 0.0
    lag_seconds: float = 0.0
    outcome: str = ""
    errors: int = 0
    counts: Counts = field(default_factory=Counts)

    @property
    def ok(self) -> bool:
        return self.status in (PollRunStatus.SUCCEEDED, PollRunStatus.PARTIAL, LOCKED, DRY_RUN)

    def as_dict(self) -> dict[str, Any]:
        counts = self.counts.as_dict()
        return {
            "status": str(self.status), "trigger": self.trigger, "run_id": self.run_id, "pass_id": self.pass_id,
            "resumed": self.resumed, "duration_seconds": round(self.duration_seconds, 3),
            "lag_seconds": round(self.lag_seconds, 3), "outcome": self.outcome, "errors": self.errors, **counts,
            "provider_requests": counts["list_requests"] + counts["detail_requests"],
        }
