"""What a call looks like to clients: one pydantic model per shape, shared by every interface.

``calls.presenters`` builds these from the models; MCP tools return them (their outputSchema is generated
from them), MCP resources and the REST API render them, and the OpenAPI schema documents them. A field
added here appears everywhere the shape is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from calls.models import AnsweredBy, CallStatus

TRANSCRIPT_FORMATS = ("text", "segments", "corrected")
TranscriptFormat = Literal["text", "segments", "corrected"]


def one_of(values: Sequence[str]) -> AfterValidator:
    """Checks that a string is one of ``values`` (pair it with ``enum_schema`` for the JSON Schema)."""
    allowed = tuple(values)

    def check(value: str) -> str:
        if value not in allowed:
            shown = value if len(value) <= 40 else f"{value[:40]}..."
            raise ValueError(f"must be one of: {', '.join(allowed)} (got {shown!r})")
        return value

    return AfterValidator(check)


def enum_schema(values: Sequence[str]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


def _absent(value: Any) -> bool:
    return value is None


# An instant as ISO 8601 with its offset, as Python writes it (``2026-12-01T15:00:00.123456+00:00``).
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str),
                    WithJsonSchema({"type": "string", "format": "date-time"})]
CALL_STATUSES = tuple(CallStatus.values)  # named CallStatusEnum in the OpenAPI schema (SPECTACULAR_SETTINGS)
Status = Annotated[str, one_of(CALL_STATUSES), enum_schema(CALL_STATUSES)]
Answered = Annotated[str, one_of(AnsweredBy.values), enum_schema(AnsweredBy.values)]


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class CallSummary(Shape):
    """One row of a call history."""

    call_id: str = Field(description="The call's id (a UUID).")
    to: str = Field(description="The number called, E.164.")
    status: Status
    answered_by: Answered | None = Field(description="human, voicemail, no-answer or unknown, once known.")
    created_at: Instant | None
    duration_seconds: int | None = Field(description="Connected time, in seconds.")
    cost_credits: int | None = Field(description="What the call cost, in credits (cents), once it ended.")


class CallAnalysisResult(Shape):
    """Answers to questions about a call (analyzeCall), as stored with the call."""

    analysis_id: str
    call_id: str
    goal: str | None
    questions: list[str]
    answer_schema: dict[str, Any] | None = Field(description="The JSON Schema the answers satisfy, if one was given.")
    answers: list[Any] | dict[str, Any] = Field(
        description="One answer per question, in order: an array, or an object keyed like answer_schema's properties.")
    provider_credits: float | None = Field(description="What the provider charged for the analysis (its credits).")
    created_at: Instant


class CampaignCallAnswers(Shape):
    """One call of an analyzeCampaign answer: its answers, or the error that left it out."""

    call_id: str
    campaign_index: int | None = Field(description="Its row in the campaign.")
    to: str
    status: Status
    analysis_id: str | None
    answers: list[Any] | dict[str, Any] | None
    error: dict[str, str] | None = Field(description="Why it was not analyzed: {code, message} (e.g. call_not_ended).")


class CampaignAnalysis(Shape):
    """Answers to the same questions for a page of a campaign's calls, in row order."""

    campaign_id: str
    questions: list[str]
    answer_schema: dict[str, Any] | None
    analyzed: int = Field(description="Calls of this page that got answers (each stored with its call).")
    skipped: int = Field(description="Calls of this page left out (not ended, no conversation, provider error).")
    total_calls: int = Field(description="Calls in the campaign.")
    calls: list[CampaignCallAnswers]
    next_offset: int | None = Field(description="Pass as calls_offset for the next page; null on the last.")


class CallDetails(CallSummary):
    """Everything about one call."""

    from_number: str | None = Field(serialization_alias="from", description="The number the call came from.")
    task: str | None
    pathway_id: str | None
    voice: str | None
    language: str | None
    max_duration_minutes: int
    record: bool
    scheduled_for: Instant | None
    queue_status: str | None = Field(description="The provider's queue status, verbatim.")
    started_at: Instant | None
    ended_at: Instant | None
    reserved_credits: int = Field(description="Credits held while the call may still run.")
    summary: str | None
    error: str | None
    ended_by: str | None
    disposition: str | None
    has_transcript: bool
    has_recording: bool
    metadata: dict[str, Any]
    analyses: list[CallAnalysisResult] = Field(description="Answers of analyzeCall on this call, newest first.")


class PlacedCall(CallDetails):
    """A call as makePhoneCall answers it; a note says what to do when the wait ended before the call did."""

    note: str | None = Field(default=None, exclude_if=_absent)


class CallHistory(Shape):
    """A page of calls, newest first."""

    calls: list[CallSummary]
    total: int = Field(description="Every call matching the filters (as of the first page), not just this page.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


class CallListPage(Shape):
    """A page of calls over REST: the history page plus the next page's full URL."""

    results: list[CallSummary]
    total: int = Field(description="Every call matching the filters, not just this page.")
    next_cursor: str | None
    next: str | None = Field(description="The next page, as a full URL.")


class TranscriptSegment(Shape):
    """One turn of a conversation."""

    speaker: str = Field(description="agent, callee or action.")
    text: str
    at: str | None = Field(default=None, exclude_if=_absent, description="When it was said (ISO 8601).")
    start: float | None = Field(default=None, exclude_if=_absent, description="Seconds from the start.")
    end: float | None = Field(default=None, exclude_if=_absent)
    confidence: float | None = Field(default=None, exclude_if=_absent)


class Transcript(Shape):
    """What was said on a call, as text or segments."""

    call_id: str
    status: Status
    format: TranscriptFormat
    transcript: str | list[TranscriptSegment] = Field(
        description="'Agent: ...' lines for format=text, a list of segments otherwise.")
    truncated: bool = Field(description="True when the transcript was cut at max_chars.")
    note: str | None = Field(default=None, exclude_if=_absent)


class RecordingLink(Shape):
    """A time-limited link to a call's stored audio."""

    call_id: str
    url: str = Field(description="Signed download link; works without a token until expires_at.")
    expires_at: Instant
    content_type: str
    bytes: int | None
    duration_seconds: float | None


class VoiceInfo(Shape):
    """One voice the provider can speak with: pass its name as a call's ``voice``."""

    voice_id: str
    name: str
    description: str
    tags: list[str]


class VoiceList(Shape):
    """The provider's voices."""

    voices: list[VoiceInfo]
    total: int = Field(description="Voices matching the filter.")


class CreditsStatus(Shape):
    available: int = Field(description="Credits you can spend (cents).")
    reserved: int = Field(description="Credits held by calls that may still run.")
    total: int


class ProviderStatus(Shape):
    """The phone provider account behind the service (staff only): balance in USD and plan caps."""

    name: str
    status: str
    balance_usd: float | None
    refill_to_usd: float | None
    total_calls: int | None
    plan: str | None
    calls_per_day: int | None = Field(description="The plan's daily call cap; null when unlimited or unknown.")
    calls_per_hour: int | None
    concurrency: int | None = Field(description="Calls that may run at once.")
    rate_per_minute_usd: float | None


class AccountStatus(Shape):
    """Your credits and, for staff, the provider account's balance and plan limits."""

    credits: CreditsStatus
    provider: ProviderStatus | None = Field(description="Staff only; null for everyone else.")
    note: str | None = Field(default=None, exclude_if=_absent)
