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


@dataclass(frozen=True)
class TranscriptSegment:
    speaker: str  # "agent" | "callee" | "action"
    text: str
    at: str | None = None  # ISO timestamp when known
    start: float | None = None  # seconds from the start (corrected transcripts)
    end: float | None = None
    confidence: float | None = None


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
class Recording:
    content: bytes
    content_type: str


class Provider(Protocol):
    name: str

    def place_call(self, request: PlaceCallRequest) -> str: ...
    def get_call(self, provider_call_id: str) -> ProviderCall: ...
    def stop_call(self, provider_call_id: str) -> None: ...
    def get_recording(self, provider_call_id: str) -> Recording: ...
    def get_corrected_transcript(self, provider_call_id: str) -> tuple[TranscriptSegment, ...]: ...
    def parse_call(self, payload: dict[str, Any]) -> ProviderCall: ...
