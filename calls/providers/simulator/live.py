"""Bland's live call events (``webhook_events``), posted to the call's webhook while the call runs.

The simulator emits the ``call`` category (bland_api.md section 8): "Call connected" when the callee picks
up, then "Agent speech: ..." or "Handling user speech: ..." as each line of the transcript is said, each at
the wall time the line carries in the call's details. Each event is its own small JSON object, signed like
the post-call webhook, and a call's events are posted in order, before its post-call webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from calls.providers.simulator.state import SimCall, iso

CALL_CATEGORY = "call"
CONNECTED = "Call connected"
SPEECH_PREFIX = {"assistant": "Agent speech: ", "user": "Handling user speech: "}


def wants_live_events(call: SimCall) -> bool:
    return bool(call.request.webhook) and CALL_CATEGORY in call.request.webhook_events


def timeline(call: SimCall) -> list[tuple[datetime, str]]:
    """Every live event the call would send if it ran to its planned end, in order."""
    if not call.scenario.connects:
        return []
    events = [(call.connect_at, CONNECTED)]
    events += [(call.connect_at + timedelta(seconds=line.end), SPEECH_PREFIX[line.role] + line.text)
               for line in call.script if line.role in SPEECH_PREFIX]
    return events


def due_events(call: SimCall, now: datetime, wall: Callable[[datetime], datetime]) -> tuple[list[dict[str, Any]], bool]:
    """The events that happened by ``now`` (by its end, for a call that ended) and were not posted yet, and
    whether the call has more to come. Marks them posted."""
    until = call.outcome.ended_at if call.outcome is not None else now
    events = timeline(call)
    due = list(takewhile(lambda event: event[0] <= until, events[call.live_sent:]))
    call.live_sent += len(due)
    more = call.outcome is None and call.live_sent < len(events)
    payloads = [{"call_id": call.call_id, "message": message, "category": CALL_CATEGORY, "log_level": "info",
                 "timestamp": iso(wall(moment))} for moment, message in due]
    return payloads, more
