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


call_changes: DomainEvent[CallChanged] = DomainEvent("calls.call_changed")
recordings_available: DomainEvent[RecordingAvailable] = DomainEvent("calls.recording_available")
campaign_changes: DomainEvent[CampaignChanged] = DomainEvent("calls.campaign_changed")


def call_changed(*, call_id: uuid.UUID | str, owner_id: int, created: bool = False,
                 campaign_id: uuid.UUID | str | None = None) -> None:
    """Announce, once the current transaction commits, that a call was created or changed."""
    call_changes.send_on_commit(CallChanged(call_id=str(call_id), owner_id=owner_id, created=created,
                                            campaign_id=str(campaign_id) if campaign_id else None))


def campaign_changed(*, campaign_id: uuid.UUID | str, owner_id: int, created: bool = False) -> None:
    """Announce, once the current transaction commits, that a campaign was placed or changed."""
    campaign_changes.send_on_commit(CampaignChanged(campaign_id=str(campaign_id), owner_id=owner_id, created=created))


def recording_available(*, call_id: uuid.UUID | str) -> None:
    recordings_available.send_on_commit(RecordingAvailable(call_id=str(call_id)))
