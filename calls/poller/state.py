"""The poller's run records: where a pass begins, its checkpoint after every batch, and how it ended.

The runner holds the lock while it calls these, so a run still marked ``running`` belongs to a runner that
died: it is marked ``interrupted`` and, like a run stopped by its budget, resumed by the next run (same
pass, same list window, from its saved cursor). A pass that completes sets the watermark the next pass
lists changes from.
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from calls.models import PollRun, PollRunStatus
from calls.poller.selection import oldest_in_flight_start
from calls.poller.work import Outcome, Result

MAX_ERRORS = 20
RESUMABLE = (PollRunStatus.RUNNING, PollRunStatus.PARTIAL)


@dataclass
class Counts:
    processed: int = 0
    changed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    listed: int = 0
    confirmed: int = 0
    list_requests: int = 0
    detail_requests: int = 0
    rate_limited: int = 0

    def add(self, outcome: Outcome) -> None:
        self.detail_requests += outcome.requests
        self.rate_limited += outcome.rate_limited
        if outcome.result is Result.SKIPPED:
            return
        self.processed += 1
        if outcome.result is Result.CHANGED:
            self.changed += 1
        elif outcome.result is Result.FAILED:
            self.failed += 1
        elif outcome.result is Result.DEAD_LETTERED:
            self.failed += 1
            self.dead_lettered += 1

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


COUNT_FIELDS = [f.name for f in fields(Counts)]


def list_window_start(now: datetime) -> datetime | None:
    """``update_start_date`` for a new pass: the last watermark (or, the first time, the oldest call in
    flight) less the overlap, never before the list's horizon. None when nothing is in flight."""
    oldest = oldest_in_flight_start(now)
    if oldest is None:
        return None
    overlap = timedelta(seconds=settings.POLLER_LIST_OVERLAP_SECONDS)
    since = oldest - overlap
    last = PollRun.objects.filter(watermark__isnull=False).order_by("-watermark").values_list("watermark",
                                                                                             flat=True).first()
    if last is not None:
        since = max(since, last - overlap)
    return max(since, now - timedelta(hours=settings.POLLER_LIST_HORIZON_HOURS))


def run_begin(*, trigger: str, now: datetime) -> PollRun:
    """A new run: resuming the last pass if it did not complete, otherwise starting a pass. Runs finished
    more than ``POLLER_KEEP_RUNS_DAYS`` ago are deleted (one a minute would otherwise pile up)."""
    PollRun.objects.filter(finished_at__lt=now - timedelta(days=settings.POLLER_KEEP_RUNS_DAYS)).delete()
    latest = PollRun.objects.order_by("-started_at").first()
    PollRun.objects.filter(status=PollRunStatus.RUNNING).update(
        status=PollRunStatus.INTERRUPTED, finished_at=now,
        outcome="the runner stopped without finishing (killed or crashed); the next run resumed its pass")
    host = socket.gethostname()[:255]
    if latest is not None and latest.status in RESUMABLE and latest.watermark is None:
        return PollRun.objects.create(
            pass_id=latest.pass_id, resumed_from=latest, trigger=trigger, host=host, started_at=now,
            pass_started_at=latest.pass_started_at, list_since=latest.list_since, cursor=latest.cursor,
        )
    return PollRun.objects.create(trigger=trigger, host=host, started_at=now, pass_started_at=now,
                                  list_since=list_window_start(now), cursor={"phase": "list", "position": 0})


def run_checkpoint(*, run: PollRun, counts: Counts, cursor: dict[str, Any], errors: list[dict[str, str]],
                   now: datetime) -> None:
    run.cursor = cursor
    PollRun.objects.filter(pk=run.pk).update(cursor=cursor, errors=errors[-MAX_ERRORS:], checkpoint_at=now,
                                             **counts.as_dict())


def run_finish(*, run: PollRun, status: str, counts: Counts, cursor: dict[str, Any], errors: list[dict[str, str]],
               lag_seconds: float, outcome: str, now: datetime) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": now, "checkpoint_at": now, "cursor": cursor,
                              "errors": errors[-MAX_ERRORS:], "lag_seconds": lag_seconds, "outcome": outcome[:500],
                              **counts.as_dict()}
    if status == PollRunStatus.SUCCEEDED:
        values["watermark"] = run.pass_started_at
    PollRun.objects.filter(pk=run.pk).update(**values)
