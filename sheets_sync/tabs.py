"""Month tabs and their header row, made when first needed, and the spreadsheet's size.

What the drain knows about a spreadsheet's tabs is kept in ``SpreadsheetStatus.tabs`` so the metadata
is read once per new month, not once per request. Google caps a spreadsheet at 10 million cells; when
one nears the cap (``SHEETS_CELL_WARNING_RATIO``) a WARNING is logged, the ``SheetsCellsUsedPercent``
metric is sent and the admin shows it.

Callers catch ``sheets_sync.errors.SheetsError``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from config import metrics
from sheets_sync import layout
from sheets_sync.client import SheetsClient
from sheets_sync.models import SpreadsheetStatus

logger = logging.getLogger(__name__)


def refresh_metadata(client: SheetsClient, status: SpreadsheetStatus) -> dict[str, Any]:
    """Read the spreadsheet's tabs (1 read) into ``status`` (saved); returns the metadata."""
    meta = client.metadata(status.spreadsheet_id)
    known = status.tabs or {}
    status.tabs = {sheet["title"]: {**known.get(sheet["title"], {}), "rows": sheet["rows"], "columns": sheet["columns"],
                                    "sheet_id": sheet["sheet_id"],
                                    "header": bool(known.get(sheet["title"], {}).get("header"))}
                   for sheet in meta["sheets"]}
    count_cells(status, sum(sheet["rows"] * sheet["columns"] for sheet in meta["sheets"]))
    status.save(update_fields=["tabs", "cell_count", "size_warning"])
    return meta


def ensure_tab(client: SheetsClient, status: SpreadsheetStatus, tab: str) -> int:
    """Make sure ``tab`` exists with its header row; returns the requests it took (0 when known)."""
    if (status.tabs or {}).get(tab, {}).get("header"):
        return 0
    cost = 0
    if tab not in (status.tabs or {}):
        refresh_metadata(client, status)
        cost += 1
    if tab not in status.tabs:
        sheet_id = client.add_sheet(status.spreadsheet_id, tab, layout.NEW_TAB_ROWS, layout.WIDTH)
        cost += 1
        status.tabs[tab] = {"rows": layout.NEW_TAB_ROWS, "columns": layout.WIDTH, "header": False,
                            **({"sheet_id": sheet_id} if sheet_id is not None else {})}
        count_cells(status, status.cell_count + layout.NEW_TAB_ROWS * layout.WIDTH)
        status.save(update_fields=["tabs", "cell_count", "size_warning"])
        first: list[list[str]] = []
    else:
        first = client.get_values(status.spreadsheet_id, layout.header_range(tab))
        cost += 1
    if not first or list(first[0]) != layout.HEADER:
        client.batch_update(status.spreadsheet_id, [(layout.header_range(tab), [list(layout.HEADER)])])
        cost += 1
    status.tabs[tab]["header"] = True
    status.save(update_fields=["tabs"])
    return cost


def sheet_ids(client: SheetsClient, status: SpreadsheetStatus, tabs: set[str]) -> tuple[dict[str, int], int]:
    """The sheet ids of ``tabs`` (cell requests name tabs by id), reading the metadata (1 read) when one is
    not known yet; returns them (those that exist) and the requests it took."""
    known = status.tabs or {}
    if all("sheet_id" in known.get(tab, {}) for tab in tabs):
        return {tab: int(known[tab]["sheet_id"]) for tab in tabs}, 0
    refresh_metadata(client, status)
    return {tab: int(status.tabs[tab]["sheet_id"]) for tab in tabs if tab in status.tabs}, 1


def last_row(status: SpreadsheetStatus, tab: str) -> int:
    """The last row the drain knows holds data in ``tab`` (1, the header, when none is known)."""
    return int((status.tabs or {}).get(tab, {}).get("last_row") or 1)


def wrote_through(status: SpreadsheetStatus, tab: str, row: int) -> None:
    """Rows up to ``row`` of ``tab`` hold data (not saved: as ``grow``)."""
    info = (status.tabs or {}).setdefault(tab, {"rows": 0, "columns": layout.WIDTH, "header": True})
    info["last_row"] = max(int(info.get("last_row") or 1), row)


def grow(status: SpreadsheetStatus, tab: str, rows: int) -> None:
    """Account for ``rows`` rows that append inserted (not saved: the caller saves ``tabs``, ``cell_count``,
    ``size_warning``)."""
    info = (status.tabs or {}).setdefault(tab, {"rows": 0, "columns": layout.WIDTH, "header": True})
    info["rows"] = int(info.get("rows", 0)) + rows
    count_cells(status, status.cell_count + rows * int(info.get("columns") or layout.WIDTH))


def count_cells(status: SpreadsheetStatus, cell_count: int) -> None:
    """Set the spreadsheet's cell count and warn, once per crossing, when it nears Google's cap."""
    status.cell_count = cell_count
    warning = layout.cells_warning(cell_count)
    if warning and not status.size_warning:
        logger.warning("spreadsheet %s: %s", status.spreadsheet_id, warning)
        metrics.put(metrics.SHEETS_CELLS_USED_PERCENT, round(100 * cell_count / layout.CELL_LIMIT, 1))
        status.size_warning_at = timezone.now()
    status.size_warning = warning or ""
