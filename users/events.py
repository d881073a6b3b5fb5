"""What happens to users' credits, announced by ``users.services`` after commit; ``users.mcp_resources``
subscribes (``credits://balance`` notifications and its cache)."""

from __future__ import annotations

from dataclasses import dataclass

from config.events import DomainEvent


@dataclass(frozen=True)
class BalanceChanged:
    user_id: int


balance_changes: DomainEvent[BalanceChanged] = DomainEvent("users.balance_changed")


def balance_changed(*, user_id: int) -> None:
    """Announce, once the current transaction commits, that the user's credit balance moved."""
    balance_changes.send_on_commit(BalanceChanged(user_id=user_id))
