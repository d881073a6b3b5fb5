"""Calls as plain JSON-ready dicts, shared by MCP tools and resources (the REST API has serializers)."""

from __future__ import annotations

from typing import Any

from calls.models import Call

SPEAKER_LABELS = {"agent": "Agent", "callee": "Callee", "action": "Action"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def call_summary(call: Call) -> dict[str, Any]:
    return {
        "call_id": str(call.id),
        "to": call.to_number,
        "status": call.status,
        "answered_by": call.answered_by or None,
        "created_at": _iso(call.created_at),
        "duration_seconds": call.duration_seconds,
        "cost_credits": call.cost_credits,
    }


def call_details(call: Call) -> dict[str, Any]:
    return {
        **call_summary(call),
        "from": call.from_number or None,
        "task": call.task or None,
        "pathway_id": call.pathway_id or None,
        "voice": call.voice or None,
        "language": call.language or None,
        "max_duration_minutes": call.max_duration,
        "record": call.record,
        "scheduled_for": _iso(call.start_time),
        "queue_status": call.queue_status or None,
        "started_at": _iso(call.started_at),
        "ended_at": _iso(call.ended_at),
        "reserved_credits": call.reserved_credits,
        "summary": call.summary or None,
        "error": call.error_message or None,
        "ended_by": call.ended_by or None,
        "disposition": call.disposition or None,
        "has_transcript": bool(call.transcript),
        "has_recording": bool(call.recording_file) or (call.record and bool(call.recording_url)),
        "metadata": call.metadata,
    }


def transcript_text(segments: list[dict[str, Any]]) -> str:
    return "\n".join(f"{SPEAKER_LABELS.get(s.get('speaker', ''), s.get('speaker', ''))}: {s.get('text', '')}"
                     for s in segments)


def call_transcript(call: Call, fmt: str) -> dict[str, Any]:
    """The transcript in ``fmt`` (text, segments or corrected), with a note when there is none yet.

    ``corrected`` falls back to the live transcript when the provider has no corrected one.
    """
    segments = list(call.transcript)
    notes = []
    if fmt == "corrected":
        if call.corrected_transcript:
            segments = list(call.corrected_transcript)
        else:
            notes.append("No corrected transcript (it needs record=true and a finished call); showing the live one.")
    if not segments:
        notes.append("The call has not produced a transcript yet." if not call.is_terminal
                     else "This call has no transcript (it was not answered).")
    result: dict[str, Any] = {
        "call_id": str(call.id), "status": call.status, "format": fmt,
        "transcript": transcript_text(segments) if fmt == "text" else segments,
    }
    if notes:
        result["note"] = " ".join(notes)
    return result
