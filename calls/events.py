"""What happens to calls, announced by ``calls.services`` after commit. Interfaces subscribe:
``calls.mcp_resources`` (MCP notifications, caches) and ``calls.tasks`` (fetching recordings).

``call_writes`` is announced inside the transaction of every change, with the call as saved: its
receivers (the Sheets outbox, ``sheets_sync.outbox``) write in that transaction, so their rows commit or
roll back with the change. ``calls_writes`` is the same for many calls saved at once (a campaign's calls):
its receivers write every call's rows together, as one statement rather than one per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.events import DomainEvent

if TYPE_CHECKING:
    from calls.models import Call


@dataclass(frozen=True)
class CallChanged:
    call_id: str
    owner_id: int
    created: bool = False
    transcript: bool = False  # its transcript changed too
    campaign_id: str | None = None  # the campaign the call belongs to, if any


@dataclass(frozen=True)
class CampaignChanged:
    """A campaign was placed, stopped or finished (each change of one of its calls is a ``CallChanged``)."""

    campaign_id: str
    owner_id: int
    created: bool = False


@dataclass(frozen=True)
class RecordingAvailable:
    """The provider has a recording of a finished call that we have not stored yet."""

    call_id: str


@dataclass(frozen=True)
class CallWritten:
    """The call row as it was just saved, in the open transaction (its owner loaded)."""

    call: Call
    created: bool = False


@dataclass(frozen=True)
class CallsWritten:
    """Many call rows as they were just saved, in the open transaction (their owners loaded)."""

    calls: tuple[Call, ...]
    created: bool = False


call_changes: DomainEvent[CallChanged] = DomainEvent("calls.call_changed")
call_writes: DomainEvent[CallWritten] = DomainEvent("calls.call_written")
calls_writes: DomainEvent[CallsWritten] = DomainEvent("calls.calls_written")
recordings_available: DomainEvent[RecordingAvailable] = DomainEvent("calls.recording_available")
campaign_changes: DomainEvent[CampaignChanged] = DomainEvent("calls.campaign_changed")


def call_changed(*, call_id: uuid.UUID | str, owner_id: int, created: bool = False, transcript: bool = False,
                 campaign_id: uuid.UUID | str | None = None) -> None:
    """Announce, once the current transaction commits, that a call was created or changed."""
    call_changes.send_on_commit(CallChanged(call_id=str(call_id), owner_id=owner_id, created=created,
                                            transcript=transcript,
                                            campaign_id=str(campaign_id) if campaign_id else None))


def calls_changed(changes: Sequence[CallChanged]) -> None:
    """``call_changed`` for many calls changed together (a poller batch): announced as one, after commit."""
    call_changes.send_many_on_commit(changes)


def campaign_changed(*, campaign_id: uuid.UUID | str, owner_id: int, created: bool = False) -> None:
    """Announce, once the current transaction commits, that a campaign was placed or changed."""
    campaign_changes.send_on_commit(CampaignChanged(campaign_id=str(campaign_id), owner_id=owner_id, created=created))


def recording_available(*, call_id: uuid.UUID | str) -> None:
    recordings_available.send_on_commit(RecordingAvailable(call_id=str(call_id)))


def call_written(*, call: Call, created: bool = False) -> None:
    """Announce, inside the current transaction, the call as just saved. A receiver that fails fails the change."""
    call_writes.send_in_transaction(CallWritten(call=call, created=created))


def calls_written(*, calls: Sequence[Call], created: bool = False) -> None:
    """``call_written`` for many calls saved together: receivers handle them at once. Nothing when empty."""
    if calls:
        calls_writes.send_in_transaction(CallsWritten(calls=tuple(calls), created=created))
