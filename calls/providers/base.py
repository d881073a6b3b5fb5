"""What the calls domain needs from a phone provider, independent of Bland's wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class PlaceCallRequest:
    to_number: str
    task: str = ""
    pathway_id: str = ""
    from_number: str = ""
    voice: str = ""
    first_sentence: str = ""
    language: str = ""
    max_duration: int = 30
    record: bool = False
    wait_for_greeting: bool = False
    start_time: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    request_data: dict[str, Any] = field(default_factory=dict)
    webhook: str = ""
    webhook_events: tuple[str, ...] = ()  # live events the provider posts to ``webhook`` while the call runs


@dataclass(frozen=True)
class TranscriptSegment:
    speaker: str  # "agent" | "callee" | "action"
    text: str
    at: str | None = None  # ISO timestamp when known
    start: float | None = None  # seconds from the start (corrected transcripts)
    end: float | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class LiveEvent:
    """One live event of a running call (Bland's ``webhook_events``): what happened, and when."""

    provider_call_id: str
    kind: str  # "connected" | "speech" | "other"
    speaker: str  # "agent" | "callee" for speech, else ""
    text: str
    at: str | None  # the provider's timestamp, as it wrote it


@dataclass(frozen=True)
class ProviderCall:
    """A provider's view of one call, normalised. ``raw`` keeps the original for staff."""

    provider_call_id: str
    queue_status: str
    status: str  # provider's final status: completed|failed|busy|no-answer|canceled|unknown|""
    completed: bool
    answered_by: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    price: Decimal | None = None
    summary: str = ""
    transcript: tuple[TranscriptSegment, ...] = ()
    recording_url: str = ""
    from_number: str = ""
    error_message: str = ""
    ended_by: str = ""
    disposition: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListCallsQuery:
    """Filters of ``GET /v1/calls`` (bland_api.md section 4). Index paging: ``start`` inclusive, ``stop``
    exclusive, at most ``limit`` (Bland's maximum and default is 1,000) calls per request."""

    sort_by: str = "created_at"  # or "updated_at"
    ascending: bool = False
    update_start_date: datetime | None = None
    update_end_date: datetime | None = None
    completed: bool | None = None
    start: int | None = None
    stop: int | None = None
    limit: int = 1000
    batch_id: str | None = None


@dataclass(frozen=True)
class ListedCall:
    """One item of the call list: only what Bland puts there (no status, price or transcript)."""

    provider_call_id: str
    created_at: datetime | None
    completed: bool
    queue_status: str
    call_length_minutes: float | None = None
    answered_by: str = ""
    error_message: str = ""
    to_number: str = ""
    from_number: str = ""
    batch_id: str | None = None


@dataclass(frozen=True)
class CallPage:
    """One page of the call list and the number of calls matching the filters."""

    total_count: int
    calls: tuple[ListedCall, ...]


@dataclass(frozen=True)
class Recording:
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Analysis:
    """The answers of ``POST /v1/calls/{id}/analyze``: one per question, in order, as the provider gave them."""

    answers: tuple[Any, ...]
    credits_used: Decimal | None = None


@dataclass(frozen=True)
class BatchCall:
    """One call of a batch: its number and what differs from the batch's shared settings."""

    to_number: str
    request_data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    start_time: datetime | None = None


@dataclass(frozen=True)
class BatchRequest:
    """``POST /v2/batches/create``: one task (or pathway) and its settings, shared by every call."""

    calls: tuple[BatchCall, ...]
    task: str = ""
    pathway_id: str = ""
    voice: str = ""
    first_sentence: str = ""
    language: str = ""
    max_duration: int = 30
    record: bool = False
    wait_for_greeting: bool = False
    webhook: str = ""
    description: str = ""
    status_webhook: str = ""


@dataclass(frozen=True)
class ProviderBatch:
    """A provider's view of one batch, normalised. ``raw`` keeps the original for staff."""

    batch_id: str
    status: str  # validating|dispatching|in_progress|waiting_for_scheduled_calls|completed|completed_partial|failed
    description: str = ""
    call_count: int | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Voice:
    voice_id: str
    name: str
    description: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderAccount:
    """The provider account: its balance (USD), plan and plan caps (None = unlimited or not reported)."""

    status: str
    balance: Decimal | None
    refill_to: Decimal | None = None
    total_calls: int | None = None
    plan: str = ""
    calls_per_day: int | None = None
    calls_per_hour: int | None = None
    concurrency: int | None = None
    rate_per_minute: Decimal | None = None


class Provider(Protocol):
    name: str

    @property
    def endpoint(self) -> str: ...

    def place_call(self, request: PlaceCallRequest) -> str: ...
    def get_call(self, provider_call_id: str) -> ProviderCall: ...
    def list_calls(self, query: ListCallsQuery) -> CallPage: ...
    def stop_call(self, provider_call_id: str) -> None: ...
    def get_recording(self, provider_call_id: str) -> Recording: ...
    def get_corrected_transcript(self, provider_call_id: str) -> tuple[TranscriptSegment, ...]: ...
    def parse_call(self, payload: dict[str, Any]) -> ProviderCall: ...
    # Bland's v2 batches and its voices (campaigns)
    def create_batch(self, request: BatchRequest) -> str: ...
    def get_batch(self, batch_id: str) -> ProviderBatch: ...
    def list_batches(self, *, take: int = 100, skip: int = 0) -> tuple[ProviderBatch, ...]: ...
    def stop_batch(self, batch_id: str) -> None: ...
    def batch_logs(self, batch_id: str) -> tuple[dict[str, Any], ...]: ...
    def list_voices(self) -> tuple[Voice, ...]: ...
    # post-call analysis and the account
    def analyze_call(self, provider_call_id: str, *, goal: str, questions: list[tuple[str, str]]) -> Analysis: ...
    def get_account(self) -> ProviderAccount: ...
