"""Calls as the shapes of ``calls.shapes``: the one place that turns a ``Call`` into what clients see.

MCP tools return these, MCP resources and the REST API render them (``Shape.as_json``).
"""

from __future__ import annotations

import json
from typing import Any

from calls.analysis import CampaignAnalysisOutcome
from calls.models import Call, CallAnalysis, Campaign
from calls.recordings import recording_duration_seconds, recording_link
from calls.shapes import (
    CallAnalysisResult,
    CallDetails,
    CallSummary,
    CampaignAnalysis,
    CampaignCallAnswers,
    RecordingLink,
    Transcript,
    TranscriptFormat,
    TranscriptSegment,
)

SPEAKER_LABELS = {"agent": "Agent", "callee": "Callee", "action": "Action"}
NO_CORRECTED = "No corrected transcript (it needs record=true and a finished call); showing the live one."


def _summary_fields(call: Call) -> dict[str, Any]:
    return {
        "call_id": str(call.id),
        "to": call.to_number,
        "status": call.status,
        "answered_by": call.answered_by or None,
        "created_at": call.created_at,
        "duration_seconds": call.duration_seconds,
        "cost_credits": call.cost_credits,
    }


def call_summary(call: Call) -> CallSummary:
    return CallSummary(**_summary_fields(call))


def call_details(call: Call) -> CallDetails:
    """The details of ``call``: a full row, or one from ``selectors.call_details_get_for_user``, whose
    ``transcript_present`` and ``analyses_present`` flags stand in for the transcript and the analyses."""
    has_transcript = getattr(call, "transcript_present", None)
    analyses = call.analyses.all() if getattr(call, "analyses_present", True) else []
    return CallDetails(
        **_summary_fields(call),
        from_number=call.from_number or None,
        task=call.task or None,
        pathway_id=call.pathway_id or None,
        voice=call.voice or None,
        language=call.language or None,
        max_duration_minutes=call.max_duration,
        record=call.record,
        scheduled_for=call.start_time,
        queue_status=call.queue_status or None,
        started_at=call.started_at,
        ended_at=call.ended_at,
        reserved_credits=call.reserved_credits,
        summary=call.summary or None,
        error=call.error_message or None,
        ended_by=call.ended_by or None,
        disposition=call.disposition or None,
        has_transcript=bool(call.transcript if has_transcript is None else has_transcript),
        has_recording=bool(call.recording_file) or (call.record and bool(call.recording_url)),
        metadata=call.metadata,
        analyses=[call_analysis(analysis) for analysis in analyses],
    )


def campaign_analysis(campaign: Campaign, outcome: CampaignAnalysisOutcome, *, questions: list[str],
                      answer_schema: dict[str, Any] | None) -> CampaignAnalysis:
    rows = [
        CampaignCallAnswers(
            call_id=str(item.call.id), campaign_index=item.call.campaign_index, to=item.call.to_number,
            status=item.call.status, analysis_id=str(item.analysis.id) if item.analysis else None,
            answers=call_analysis(item.analysis).answers if item.analysis else None,
            error={"code": item.skipped.code, "message": item.skipped.message} if item.skipped else None)
        for item in outcome.calls
    ]
    analyzed = sum(1 for row in rows if row.analysis_id)
    return CampaignAnalysis(campaign_id=str(campaign.id), questions=questions, answer_schema=answer_schema,
                            analyzed=analyzed, skipped=len(rows) - analyzed, total_calls=outcome.total_calls,
                            calls=rows, next_offset=outcome.next_offset)


def call_analysis(analysis: CallAnalysis) -> CallAnalysisResult:
    credits, answers, keys = analysis.provider_credits, analysis.answers, analysis.answer_keys
    if isinstance(answers, dict) and keys:  # in the order of the questions, which a JSON column does not keep
        answers = {key: answers[key] for key in keys if key in answers}
    return CallAnalysisResult(
        analysis_id=str(analysis.id), call_id=str(analysis.call_id), goal=analysis.goal or None,
        questions=list(analysis.questions), answer_schema=analysis.answer_schema, answers=answers,
        provider_credits=float(credits) if credits is not None else None, created_at=analysis.created_at,
    )


def transcript_text(segments: list[dict[str, Any]]) -> str:
    return "\n".join(f"{SPEAKER_LABELS.get(s.get('speaker', ''), s.get('speaker', ''))}: {s.get('text', '')}"
                     for s in segments)


def _segments_within(segments: list[dict[str, Any]], max_chars: int) -> tuple[list[TranscriptSegment], bool]:
    """The segments whose JSON fits in ``max_chars``; when not even the first fits, it alone, its text cut
    so that it does. The flag says whether anything was left out or cut."""
    kept: list[TranscriptSegment] = []
    used = 0
    for segment in segments:
        shaped = TranscriptSegment(**segment)
        size = len(json.dumps(shaped.as_json()))
        if used + size > max_chars:
            if not kept:
                room = max(0, len(shaped.text) - (used + size - max_chars))
                kept.append(shaped.model_copy(update={"text": shaped.text[:room]}))
            return kept, True
        kept.append(shaped)
        used += size
    return kept, False


def call_transcript(call: Call, fmt: TranscriptFormat, *, max_chars: int | None = None) -> Transcript:
    """The transcript in ``fmt`` (text, segments or corrected), cut at ``max_chars`` when given, with a note
    when there is none yet or it was cut. ``corrected`` falls back to the live transcript when the provider
    has no corrected one."""
    segments = list(call.transcript)
    notes = []
    if fmt == "corrected":
        if call.corrected_transcript:
            segments = list(call.corrected_transcript)
        else:
            notes.append(NO_CORRECTED)
    if not segments:
        notes.append("The call has not produced a transcript yet." if not call.is_terminal
                     else "This call has no transcript (it was not answered).")
    truncated = False
    transcript: str | list[TranscriptSegment]
    if fmt == "text":
        transcript = transcript_text(segments)
        if max_chars is not None and len(transcript) > max_chars:
            transcript, truncated = transcript[:max_chars], True
    elif max_chars is not None:
        transcript, truncated = _segments_within(segments, max_chars)
    else:
        transcript = [TranscriptSegment(**segment) for segment in segments]
    if truncated:
        notes.append(f"Cut at max_chars={max_chars}; ask again with a larger max_chars for the rest.")
    return Transcript(call_id=str(call.id), status=call.status, format=fmt, transcript=transcript,
                      truncated=truncated, note=" ".join(notes) or None)


def call_recording(call: Call) -> RecordingLink:
    url, expires = recording_link(call)
    return RecordingLink(call_id=str(call.id), url=url, expires_at=expires, content_type=call.recording_content_type,
                         bytes=call.recording_bytes, duration_seconds=recording_duration_seconds(call))
