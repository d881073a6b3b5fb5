"""One simulated call: its planned timeline, what a client sees of it at a moment, and how it ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from calls.providers.simulator.plans import Scenario
from calls.providers.simulator.script import Line
from calls.providers.simulator.validation import CallRequest


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def seconds_between(moment: datetime, since: datetime) -> float:
    return (moment - since).total_seconds()


@dataclass
class Outcome:
    """How a call ended; set once."""

    status: str
    answered_by: str | None
    error_message: str | None
    connected_seconds: int
    script: tuple[Line, ...]
    ended_at: datetime
    ended_by: str | None
    disposition: str
    summary: str
    price: float


@dataclass
class SimCall:
    call_id: str
    request: CallRequest
    scenario: Scenario
    created_at: datetime
    due_at: datetime
    talk_seconds: float
    script: tuple[Line, ...]
    first_line_id: int
    transcript_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    outcome: Outcome | None = None
    audio: bytes | None = None
    live_sent: int = 0  # live events (webhook_events) posted so far
    batch_id: str | None = None  # the v2 batch that placed it, if any

    # the planned timeline: fixed when the call is placed, so computed once
    @cached_property
    def queued_at(self) -> datetime:
        return self.created_at + timedelta(seconds=1)

    @cached_property
    def allocated_at(self) -> datetime:
        return max(self.created_at + timedelta(seconds=2), self.due_at)

    @cached_property
    def started_at(self) -> datetime:
        return self.allocated_at + timedelta(seconds=1)

    @cached_property
    def connect_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.scenario.ring_seconds)

    @cached_property
    def planned_end(self) -> datetime:
        return self.connect_at + timedelta(seconds=self.talk_seconds)

    @cached_property
    def answered_at(self) -> datetime | None:
        """When ``answered_by`` is decided: 5 seconds after pick-up (None for calls that never connect)."""
        return self.connect_at + timedelta(seconds=5) if self.scenario.connects else None

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def queue_status(self, now: datetime) -> str:
        if self.outcome is not None:
            return "complete"
        phases = (("started", self.started_at), ("allocated", self.allocated_at), ("queued", self.queued_at))
        return next((status for status, since in phases if now >= since), "new")

    def is_active(self, now: datetime) -> bool:
        """Counts towards concurrency: placed, not ended and not waiting for a future start_time."""
        return self.outcome is None and self.due_at <= now

    def was_dialled(self, now: datetime) -> bool:
        return now >= self.started_at

    def visible_lines(self, now: datetime) -> tuple[Line, ...]:
        if self.outcome is not None:
            return self.outcome.script
        if now < self.connect_at:
            return ()
        elapsed = seconds_between(now, self.connect_at)
        return tuple(line for line in self.script if line.role != "agent-action" and line.end <= elapsed)

    def answered_by(self, now: datetime) -> str | None:
        if self.outcome is not None:
            return self.outcome.answered_by
        # Bland decides from the first 5 seconds after pick-up.
        if self.answered_at is not None and now >= self.answered_at:
            return self.scenario.answered_by
        return None

    def updated_at(self, now: datetime) -> datetime:
        """The last change of what the call list shows of the call (queue status, answered_by, completion):
        what ``sort_by=updated_at`` and ``update_start_date``/``update_end_date`` read."""
        if self.outcome is not None:
            return self.outcome.ended_at
        moments = (self.answered_at, self.started_at, self.allocated_at, self.queued_at)
        return next((moment for moment in moments if moment is not None and moment <= now), self.created_at)

    def has_recording(self) -> bool:
        return self.request.record and self.outcome is not None and self.outcome.connected_seconds > 0

