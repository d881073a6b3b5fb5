"""What a call's row looks like: the columns, the header, the month tabs, and the values of one call.

One row per call, the call id in column A (the drain reads that column back after an ambiguous append).
A call's row lives in the tab of the month it was created (``"Calls 2026-12"``), so no tab grows past
a month of calls; Google caps a spreadsheet at 10 million cells, and ``cells_warning`` says when one is
near the cap (``SHEETS_CELL_WARNING_RATIO``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from django.conf import settings

if TYPE_CHECKING:
    from calls.models import Call

CELL_LIMIT = 10_000_000  # Google's cap per spreadsheet, all tabs together
CELL_TEXT_LIMIT = 50_000  # characters in one cell
TAB_TITLE_MAX = 100
TAB_SUFFIX = " 2026-12"  # what tab_title adds to the prefix
FORBIDDEN_IN_TITLE = re.compile(r"[\[\]*?/\\:]")
NEW_TAB_ROWS = 1_000  # the grid of a new month tab; append grows it


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _recording(call: Call) -> str:
    if call.recording_file:
        return f"{settings.PUBLIC_BASE_URL}/api/v1/calls/{call.id}/recording/"
    return call.recording_url or ""


COLUMNS: tuple[tuple[str, Callable[[Call], Any]], ...] = (
    ("Call ID", lambda c: str(c.id)),
    ("Created (UTC)", lambda c: _iso(c.created_at)),
    ("Owner", lambda c: c.owner.username),
    ("To", lambda c: c.to_number),
    ("Status", lambda c: c.status),
    ("Answered by", lambda c: c.answered_by),
    ("Duration (s)", lambda c: c.duration_seconds if c.duration_seconds is not None else ""),
    ("Cost (credits)", lambda c: c.cost_credits if c.cost_credits is not None else ""),
    ("Summary", lambda c: (c.summary or "")[:CELL_TEXT_LIMIT]),
    ("Recording", _recording),
    ("Started (UTC)", lambda c: _iso(c.started_at)),
    ("Ended (UTC)", lambda c: _iso(c.ended_at)),
    ("Updated (UTC)", lambda c: _iso(c.updated_at)),
)
HEADER: list[str] = [title for title, _ in COLUMNS]
WIDTH = len(COLUMNS)
LAST_COLUMN = chr(ord("A") + WIDTH - 1)


def row_values(call: Call) -> list[Any]:
    return [value(call) for _, value in COLUMNS]


def is_critical(call: Call) -> bool:
    """The call ended (completed, failed, busy, no answer, cancelled) or was charged: written before progress."""
    return call.is_terminal or call.cost_credits is not None


def tab_title(created_at: datetime, prefix: str | None = None) -> str:
    """The month tab of a call created at ``created_at`` (UTC)."""
    return f"{settings.SHEETS_TAB_PREFIX if prefix is None else prefix} {created_at:%Y-%m}"


def tab_prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot start a tab title, or None when it can."""
    if not prefix.strip():
        return "it is empty"
    if len(prefix) + len(TAB_SUFFIX) > TAB_TITLE_MAX:
        return f"it is longer than {TAB_TITLE_MAX - len(TAB_SUFFIX)} characters"
    if bad := sorted(set(FORBIDDEN_IN_TITLE.findall(prefix))):
        return f"it contains {' '.join(bad)} (not allowed in a sheet name)"
    if prefix.startswith("'") or prefix != prefix.strip():
        return "it starts with a quote or space, or ends with a space"
    return None


def quoted(tab: str) -> str:
    """The tab as A1 notation needs it: in single quotes, quotes inside doubled."""
    return "'" + tab.replace("'", "''") + "'"


def row_range(tab: str, row: int) -> str:
    return f"{quoted(tab)}!A{row}:{LAST_COLUMN}{row}"


def table_range(tab: str) -> str:
    """Where append looks for the table (header in row 1, then one row per call)."""
    return f"{quoted(tab)}!A:{LAST_COLUMN}"


def header_range(tab: str) -> str:
    return row_range(tab, 1)


def id_column_range(tab: str) -> str:
    return f"{quoted(tab)}!A:A"


def row_bytes(range_: str, values: list[Any]) -> int:
    """About what one row adds to a request's JSON body (the range, the values, the punctuation)."""
    return len(orjson.dumps(values)) + len(range_) + 32


def cells_warning(cell_count: int) -> str | None:
    """A warning when a spreadsheet nears Google's cell cap, else None."""
    threshold = settings.SHEETS_CELL_WARNING_RATIO * CELL_LIMIT
    if cell_count < threshold:
        return None
    return (f"{cell_count:,} cells of Google's {CELL_LIMIT:,} per spreadsheet "
            f"({cell_count / CELL_LIMIT:.0%}): move old month tabs to another spreadsheet or use a new one")
