"""Is the poller keeping up? The last successful run must be recent and no call in flight far overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from calls.models import PollRun, PollRunStatus
from calls.poller.selection import in_flight, lag_seconds


@dataclass(frozen=True)
class PollerHealth:
    healthy: bool
    last_success_at: datetime | None
    last_success_age_seconds: float | None
    lag_seconds: float
    in_flight: int
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "healthy": self.healthy,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_success_age_seconds": self.last_success_age_seconds,
            "lag_seconds": round(self.lag_seconds, 3),
            "in_flight": self.in_flight,
            "problems": list(self.problems),
        }


def poller_health(*, now: datetime | None = None, max_age_seconds: float | None = None,
                  max_lag_seconds: float | None = None) -> PollerHealth:
    """Unhealthy when no run succeeded (or stopped at its budget) within ``POLLER_HEALTH_MAX_AGE_SECONDS``
    while calls are in flight, or when the most overdue call is more than ``POLLER_HEALTH_MAX_LAG_SECONDS``
    past its latest possible end."""
    now = now or timezone.now()
    max_age = settings.POLLER_HEALTH_MAX_AGE_SECONDS if max_age_seconds is None else max_age_seconds
    max_lag = settings.POLLER_HEALTH_MAX_LAG_SECONDS if max_lag_seconds is None else max_lag_seconds
    last = (PollRun.objects.filter(status__in=[PollRunStatus.SUCCEEDED, PollRunStatus.PARTIAL],
                                   finished_at__isnull=False)
            .order_by("-finished_at").values_list("finished_at", flat=True).first())
    age = (now - last).total_seconds() if last is not None else None
    lag = lag_seconds(now)
    count = in_flight().count()
    problems = []
    if count and (age is None or age > max_age):
        when = "no run has succeeded yet" if age is None else f"the last successful run was {age:.0f} s ago"
        problems.append(f"{when} (limit {max_age:.0f} s) with {count} call(s) in flight")
    if lag > max_lag:
        problems.append(f"the most overdue call in flight is {lag:.0f} s past its end (limit {max_lag:.0f} s)")
    return PollerHealth(healthy=not problems, last_success_at=last, last_success_age_seconds=age, lag_seconds=lag,
                        in_flight=count, problems=tuple(problems))
