"""What the emulator answered: the request log (every Sheets API request) and, when switched on, the change
feed (every row written, with its values and the time it became visible)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 2_000_000


class Journal:
    """An append-only list read by offset: ``since(n)`` gives entries n.. and the next offset."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self.entries: list[dict[str, Any]] = []
        self.dropped = 0  # entries forgotten from the front once over the limit

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            cut = len(self.entries) // 10
            del self.entries[:cut]
            self.dropped += cut

    def since(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        start = max(0, offset - self.dropped)
        return self.entries[start:], self.dropped + len(self.entries)

    def clear(self) -> None:
        self.entries.clear()
        self.dropped = 0


class RequestLog:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.requests = Journal()
        self.changes = Journal()
        self.record_changes = False

    def request(self, *, user: str, kind: str, method: str, spreadsheet: str | None, status: int,
                rows: int = 0) -> None:
        self.requests.add({"t": self.clock(), "user": user, "kind": kind, "method": method,
                           "spreadsheet": spreadsheet, "status": status, "rows": rows})

    def change(self, *, spreadsheet: str, tab: str, row: int, values: list[Any]) -> None:
        if self.record_changes:
            self.changes.add({"t": self.clock(), "spreadsheet": spreadsheet, "tab": tab, "row": row,
                              "values": list(values)})

    def clear(self) -> None:
        self.requests.clear()
        self.changes.clear()
