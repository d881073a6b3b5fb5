"""A call as Bland's wire shapes: the details object (also the webhook body) and its transcript items.

Every timestamp is put on the wall clock (``wall``, the clock's ``SimClock.wall``); durations stay simulated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from calls.providers.simulator.script import Line
from calls.providers.simulator.state import SimCall, iso

Wall = Callable[[datetime], datetime]


def _line_id(call: SimCall, line: Line, index: int) -> int:
    if line.role == "agent-action":
        return call.first_line_id + len(call.script) - 1
    return call.first_line_id + index


def transcript_items(call: SimCall, lines: Sequence[Line], wall: Wall, *, for_webhook: bool = False
                     ) -> list[dict[str, Any]]:
    items = []
    for index, line in enumerate(lines):
        item: dict[str, Any] = {
            "id": _line_id(call, line, index),
            "created_at": iso(wall(call.connect_at + timedelta(seconds=line.end))),
            "text": line.text,
            "user": line.role,
        }
        if not for_webhook:
            item |= {"c_id": call.call_id, "status": None}
        item["transcript_id"] = call.transcript_id
        items.append(item)
    return items


def concatenated(lines: Sequence[Line]) -> str:
    """Bland's ``concatenated_transcript``: ``"user: Hello? \\n assistant: Hi! \\n agent-action: Ended call \\n "``."""
    return "".join(f"{line.role}: {line.text} \n " for line in lines)


def variables(call: SimCall, now: datetime, wall: Wall) -> dict[str, Any]:
    request, now = call.request, wall(now)
    return {
        "now": now.strftime("%A, %B %d, %Y %I:%M:%S %p"),
        "now_utc": iso(now),
        "from": request.from_number,
        "to": request.to,
        "short_from": request.from_number[-10:],
        "short_to": request.national,
        "call_id": call.call_id,
        "phone_number": request.to,
        "country": request.region,
        "language": request.language,
        "timestamp": iso(wall(call.created_at)),
        "timezone": request.timezone,
        **request.request_data,
    }


def details(call: SimCall, now: datetime, wall: Wall, *, recording_url: str | None, for_webhook: bool = False
            ) -> dict[str, Any]:
    """The flat call object of ``GET /v1/calls/{id}`` (and, without c_id/status in transcripts, the webhook)."""
    request, outcome = call.request, call.outcome
    lines = call.visible_lines(now)
    started = call.started_at if call.was_dialled(now) else None
    if outcome is not None:
        end_at: datetime | None = outcome.ended_at if started else None
    else:
        end_at = started + timedelta(minutes=request.max_duration) if started else None
    return {
        "call_id": call.call_id,
        "c_id": call.call_id,
        "call_length": round(outcome.connected_seconds / 60, 4) if outcome else None,
        "corrected_duration": str(outcome.connected_seconds) if outcome else None,
        "batch_id": call.batch_id,
        "to": request.to,
        "from": request.from_number,
        "request_data": request.request_data,
        "completed": outcome is not None,
        "inbound": False,
        "created_at": iso(wall(call.created_at)),
        "started_at": iso(wall(started) if started else None),
        "end_at": iso(wall(end_at) if end_at else None),
        "queue_status": call.queue_status(now),
        "status": outcome.status if outcome else None,
        "error_message": outcome.error_message if outcome else None,
        "answered_by": call.answered_by(now),
        "endpoint_url": "api.prod.bland.ai",
        "max_duration": request.max_duration,
        "variables": variables(call, now, wall),
        "record": request.record,
        "recording_url": recording_url,
        "recording_expiration": None,
        "metadata": request.metadata,
        "summary": outcome.summary if outcome else None,
        "price": outcome.price if outcome else None,
        "local_dialing": False,
        "call_ended_by": outcome.ended_by if outcome else None,
        "disposition_tag": outcome.disposition if outcome else None,
        "pathway_id": request.pathway_id,
        "pathway_version": request.pathway_version,
        "pathway_logs": None,
        "analysis": None,
        "concatenated_transcript": concatenated(lines),
        "transcripts": transcript_items(call, lines, wall, for_webhook=for_webhook),
        "transferred_to": None,
        "transferred_at": None,
        "citations": [],
        "warm_transfer_call": None,
        "is_proxy_agent_call": False,
    }


def list_item(call: SimCall, now: datetime, wall: Wall) -> dict[str, Any]:
    outcome = call.outcome
    return {
        "call_id": call.call_id,
        "created_at": iso(wall(call.created_at)),
        "call_length": round(outcome.connected_seconds / 60, 4) if outcome else None,
        "to": call.request.to,
        "from": call.request.from_number,
        "completed": outcome is not None,
        "queue_status": call.queue_status(now),
        "error_message": outcome.error_message if outcome else None,
        "answered_by": call.answered_by(now),
        "batch_id": call.batch_id,
    }


def corrected(call: SimCall, lines: Sequence[Line], wall: Wall) -> dict[str, Any]:
    """``GET /v1/calls/{id}/correct``: the audio-aligned transcript of a recorded call."""
    speech = [line for line in lines if line.role != "agent-action"]
    return {
        "status": "success",
        "corrected": [
            {
                "start": line.start, "end": line.end, "text": f" {line.text}",
                "speaker": 1 if line.role == "user" else 2, "speaker_label": line.role,
                "confidence": round(0.95 - 0.03 * (index % 5), 3),
            }
            for index, line in enumerate(speech)
        ],
        "aligned": [
            {"start": line.start, "end": line.end, "text": line.text, "speaker": line.role, "similarity": 1.0}
            for line in speech
        ],
        "original": [
            {k: item[k] for k in ("id", "created_at", "text", "user", "c_id")}
            for item in transcript_items(call, lines, wall)
        ],
    }
