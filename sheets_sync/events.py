"""What happens in the Sheets sync that other parts act on. ``breaker_closed`` is announced when the
circuit breaker closes again (Sheets answers after an outage), so the drain resyncs the backlog."""

from __future__ import annotations

from dataclasses import dataclass

from config.events import DomainEvent


@dataclass(frozen=True)
class BreakerClosed:
    closed_at: float  # epoch seconds


breaker_closed: DomainEvent[BreakerClosed] = DomainEvent("sheets_sync.breaker_closed")
