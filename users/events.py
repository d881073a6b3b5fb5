"""What happens to users, announced by ``users.services``: credits after commit (``users.mcp_resources``
subscribes: ``credits://balance`` notifications and its cache); a new spreadsheet for the user's calls
inside the transaction (``sheets_sync`` subscribes: it queues the user's calls for that sheet)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from config.events import DomainEvent


@dataclass(frozen=True)
class BalanceChanged:
    user_id: int


@dataclass(frozen=True)
class SpreadsheetChanged:
    """The user chose another spreadsheet for their calls (``spreadsheet_id``, "" for none)."""

    user_id: int
    spreadsheet_id: str
    previous_id: str


balance_changes: DomainEvent[BalanceChanged] = DomainEvent("users.balance_changed")
spreadsheet_changes: DomainEvent[SpreadsheetChanged] = DomainEvent("users.spreadsheet_changed")


def balance_changed(*, user_id: int) -> None:
    """Announce, once the current transaction commits, that the user's credit balance moved."""
    balance_changes.send_on_commit(BalanceChanged(user_id=user_id))


def balances_changed(*, user_ids: Iterable[int]) -> None:
    """``balance_changed`` for several users at once (a batch settling many accounts)."""
    balance_changes.send_many_on_commit([BalanceChanged(user_id=user_id) for user_id in dict.fromkeys(user_ids)])


def spreadsheet_changed(*, user_id: int, spreadsheet_id: str, previous_id: str) -> None:
    """Announce, inside the current transaction, the user's new spreadsheet: its receivers (the Sheets
    outbox) queue the user's calls for it in the same transaction."""
    spreadsheet_changes.send_in_transaction(
        SpreadsheetChanged(user_id=user_id, spreadsheet_id=spreadsheet_id, previous_id=previous_id))
