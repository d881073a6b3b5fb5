"""The inputs and outputs of the call tools, as pydantic models: their inputSchema and outputSchema are
generated from these (``mcp_gateway.tool_models``), handlers receive and return instances, and every
default lives here once. Outputs are the shapes of ``calls.shapes``, which the REST API shows too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from django.conf import settings
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from calls.models import AnsweredBy, CallStatus
from calls.selectors import MAX_PAGE_SIZE
from calls.shapes import (
    AccountStatus,
    CallAnalysisResult,
    CallDetails,
    CallHistory,
    CampaignAnalysis,
    PlacedCall,
    RecordingLink,
    Transcript,
    TranscriptFormat,
    VoiceList,
    enum_schema,
    one_of,
)
from calls.validation import LANGUAGES

__all__ = [
    "AccountStatus", "AnalyzeCallInput", "AnalyzeCampaignInput", "CallAnalysisResult", "CallDetails", "CallHistory",
    "CallRef", "CampaignAnalysis", "GetAccountStatusInput", "GetCallHistoryInput", "GetCallTranscriptInput",
    "ListVoicesInput", "MakePhoneCallInput", "PlacedCall", "RecordingLink", "Transcript", "VoiceList",
]

ISO_EXAMPLE = "2026-12-01T15:00:00+00:00"


def _iso(value: Any) -> Any:
    """ISO 8601 only (never a bare number read as a Unix time), so the message can say what to send."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 date-time, e.g. {ISO_EXAMPLE}") from None
    return value


def _utc_if_naive(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _as_list(value: Any) -> Any:
    return value.split(",") if isinstance(value, str) and "," in value else value


DateTime = Annotated[datetime, BeforeValidator(_iso), WithJsonSchema({"type": "string", "format": "date-time"})]
Status = Annotated[str, one_of(CallStatus.values), enum_schema(CallStatus.values)]
Answered = Annotated[str, one_of(AnsweredBy.values), enum_schema(AnsweredBy.values)]
CALL_ID = Field(description="The call_id returned by makePhoneCall.", json_schema_extra={"format": "uuid"})


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MakePhoneCallInput(Arguments):
    phone_number: str = Field(max_length=32, description="Who to call, in E.164 format: +14155550123.")
    task: str = Field("", max_length=2000, description="What the AI agent should do and say, in plain language.")
    pathway_id: str = Field("", max_length=64, description="A Bland conversational pathway instead of a task.")
    voice: str = Field("", max_length=64, description="Voice name, e.g. 'maya' or 'josh' (listVoices has them all).")
    first_sentence: str = Field("", max_length=500, description="The agent's opening line.")
    language: Annotated[str, enum_schema(LANGUAGES)] | None = Field(
        None, description="Language code, e.g. 'en-US', 'es', 'fr' (Bland's codes; default babel-en).")
    max_duration: int | None = Field(
        None, ge=1, le=720,
        description=f"Longest the call may last, in minutes (default {settings.CALL_DEFAULT_MAX_DURATION_MINUTES}).")
    record: bool = Field(False, description="Record the audio (needed for getCallRecording).")
    wait_for_greeting: bool = Field(False, description="Let the callee speak first.")
    start_time: DateTime | None = Field(
        None, description="Schedule the call (at least 5 minutes ahead), with a UTC offset.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Your own data, returned with the call.")
    request_data: dict[str, Any] = Field(default_factory=dict,
                                         description="Variables the agent can use in the task.")
    idempotency_key: str | None = Field(None, max_length=100,
                                        description="Same key, same call: retries never place a second call.")
    confirm_spend: bool = Field(
        False, description="The user has agreed to this call's cost. Only needed when a call reserves more credits "
                           "than their confirmation threshold and your client cannot show them a confirmation "
                           "(no elicitation): ask them first, then send true.")
    wait_for_completion: bool = Field(False, description="Wait until the call ends, sending progress notifications.")
    max_wait_seconds: int = Field(300, ge=5, le=600,
                                  description="Longest to wait when wait_for_completion is true (default 300).")


class CallRef(Arguments):
    """The input of a tool about one call."""

    call_id: str = CALL_ID


class GetCallHistoryInput(Arguments):
    status: Annotated[Status | list[Status] | None, BeforeValidator(_as_list)] = Field(
        None, description="One status or a list of them.")
    answered_by: Annotated[Answered | list[Answered] | None, BeforeValidator(_as_list)] = Field(
        None, description="human, voicemail, no-answer or unknown; one or a list.")
    number: str = Field("", max_length=32, description="Only calls to or from this E.164 number.")
    since: DateTime | None = Field(None, description="Created at or after (no offset: UTC).")
    until: DateTime | None = Field(None, description="Created before (no offset: UTC).")
    min_duration: int | None = Field(None, ge=0, description="Seconds.")
    max_duration: int | None = Field(None, ge=0, description="Seconds.")
    cursor: str | None = Field(None, description="next_cursor from the previous page.")
    limit: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description="Page size (default 20).")

    def statuses(self) -> tuple[str, ...]:
        return _many(self.status)

    def answered(self) -> tuple[str, ...]:
        return _many(self.answered_by)

    def window(self) -> tuple[datetime | None, datetime | None]:
        return _utc_if_naive(self.since), _utc_if_naive(self.until)


def _many(value: str | list[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


class GetCallTranscriptInput(CallRef):
    format: TranscriptFormat = Field("text", description="text, segments or corrected.")
    max_chars: int = Field(20000, ge=100, le=200000, description="Cut the transcript at this many characters.")


QUESTIONS = Field(
    min_length=1, max_length=20,
    description="Questions about the call in plain language, e.g. 'Who answered?', 'Was the table booked?'.")
ANSWER_SCHEMA = Field(
    None, json_schema_extra={"type": "object"},
    description=("Optional JSON Schema the answers must satisfy: an object schema with one property per question, in "
                 "the order of the questions (answers come back as that object), or an array schema with one item "
                 "per question (prefixItems, or one items schema for all). Without it, answers are an array."))
GOAL = Field("", max_length=500, description="What the call was for, to guide the answers (optional).")


class AnalysisQuestions(Arguments):
    questions: list[Annotated[str, Field(min_length=1, max_length=500)]] = QUESTIONS
    answer_schema: dict[str, Any] | None = ANSWER_SCHEMA
    goal: str = GOAL


class AnalyzeCallInput(AnalysisQuestions):
    call_id: str = CALL_ID


class AnalyzeCampaignInput(AnalysisQuestions):
    campaign_id: str = Field(description="The campaign_id returned by makeCallCampaign.",
                             json_schema_extra={"format": "uuid"})
    calls_offset: int = Field(0, ge=0, le=1000, description="First row of the campaign to analyze (default 0).")
    calls_limit: int = Field(50, ge=1, le=100, description=(
        "How many of its calls, in row order (default 50); next_offset in the answer continues."))


class ListVoicesInput(Arguments):
    query: str = Field("", max_length=100, description=(
        "Only voices whose name, description or tags contain these words, e.g. 'german male'."))
    limit: int = Field(100, ge=1, le=500, description="At most this many voices (default 100).")


class GetAccountStatusInput(Arguments):
    """No arguments."""
