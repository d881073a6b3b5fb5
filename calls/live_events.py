"""Live events of a running call (Bland's ``webhook_events``): the call's state and transcript as they happen.

Part of the one write path (``calls.services``): the row is locked, changed, and ``call_changed`` is announced
after commit, so subscribers of ``calls://{id}`` and ``calls://{id}/transcript`` hear of each line. Idempotent
per event: a line already in the transcript (same speaker, text and time) is not added again, and "Call
connected" never moves a call backwards. A call that ended is left to its post-call report, which carries the
whole transcript.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from calls.events import call_changed
from calls.models import Call, CallEvent, CallStatus
from calls.provider_updates import PROGRESS_RANK
from calls.providers.base import LiveEvent


def _moment(at: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(at))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_order(lines: list[dict[str, Any]], line: dict[str, Any]) -> list[dict[str, Any]]:
    """``line`` added after every line said before or at the same time (events may arrive out of order)."""
    when = _moment(line.get("at"))
    position = len(lines)
    if when is not None:
        while position and (earlier := _moment(lines[position - 1].get("at"))) is not None and earlier > when:
            position -= 1
    return [*lines[:position], line, *lines[position:]]


def _connected(call: Call, event: LiveEvent, changed: set[str]) -> None:
    if PROGRESS_RANK.get(call.status, 0) < PROGRESS_RANK[CallStatus.IN_PROGRESS]:
        CallEvent.objects.create(call=call, source="webhook", from_status=call.status, to_status=CallStatus.IN_PROGRESS,
                                 detail="call connected (live event)")
        call.status = CallStatus.IN_PROGRESS
        changed.add("status")
    if call.started_at is None and (started := _moment(event.at)) is not None:
        call.started_at = started
        changed.add("started_at")


def call_apply_live_event(*, event: LiveEvent) -> Call | None:
    """Apply one live event; the call (None when we do not know it). Events other than the call connecting and
    speech change nothing."""
    if event.kind not in ("connected", "speech"):
        return None
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(provider_call_id=event.provider_call_id).first()
        if call is None or call.is_terminal:
            return call
        changed: set[str] = set()
        if event.kind == "connected":
            _connected(call, event, changed)
        else:
            line = {"speaker": event.speaker, "text": event.text, "at": event.at}
            if line not in call.transcript:
                call.transcript = _in_order(list(call.transcript), line)
                changed.add("transcript")
        if changed:
            call.save(update_fields=[*sorted(changed), "updated_at"])
            call_changed(call_id=call.id, owner_id=call.owner_id, transcript="transcript" in changed)
    return call
