"""What happens to calls, announced by ``calls.services`` after commit. Interfaces subscribe:
``calls.mcp_resources`` (MCP notifications, caches) and ``calls.tasks`` (fetching recordings)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from config.events import DomainEvent


@dataclass(frozen=True)
class CallChanged:
    call_id: str
    owner_id: int
    created: bool = False
    transcript: bool = False  # its transcript changed too


@dataclass(frozen=True)
class RecordingAvailable:
    """The provider has a recording of a finished call that we have not stored yet."""

    call_id: str


call_changes: DomainEvent[CallChanged] = DomainEvent("calls.call_changed")
recordings_available: DomainEvent[RecordingAvailable] = DomainEvent("calls.recording_available")


def call_changed(*, call_id: uuid.UUID | str, owner_id: int, created: bool = False, transcript: bool = False) -> None:
    """Announce, once the current transaction commits, that a call was created or changed."""
    call_changes.send_on_commit(CallChanged(call_id=str(call_id), owner_id=owner_id, created=created,
                                            transcript=transcript))


def recording_available(*, call_id: uuid.UUID | str) -> None:
    recordings_available.send_on_commit(RecordingAvailable(call_id=str(call_id)))
