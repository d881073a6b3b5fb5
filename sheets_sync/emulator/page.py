"""``GET /``: every spreadsheet and each of its tabs as an HTML table (the live call log of ``make run``)."""

from __future__ import annotations

from html import escape

from sheets_sync.emulator.grid import render
from sheets_sync.emulator.state import Emulator

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.1rem; margin-top: 2rem; } h3 { font-size: 1rem; color: #555; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { border: 1px solid #ccc; padding: 2px 6px; white-space: nowrap; max-width: 28rem; overflow: hidden;
         text-overflow: ellipsis; }
th { background: #f3f3f3; color: #666; font-weight: normal; } tr:first-child td { font-weight: 600; }
.meta { color: #777; }
"""


def _table(rows: list[tuple[int, list[object]]]) -> str:
    """Numbered rows (as the sheet numbers them) as one table."""
    width = max((len(row) for _, row in rows), default=0)
    lines = []
    for number, row in rows:
        cells = "".join(f"<td>{escape(render('' if c is None else c, 'FORMATTED_VALUE'))}</td>" for c in row)
        cells += "<td></td>" * (width - len(row))
        lines.append(f"<tr><th>{number}</th>{cells}</tr>")
    return "<table>" + "".join(lines) + "</table>"


def render_page(emulator: Emulator, *, max_rows: int = 200, refresh_seconds: int = 5) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' "
             f"content='{refresh_seconds}'><title>Sheets emulator</title><style>{STYLE}</style></head><body>",
             "<h1>Sheets emulator</h1>",
             f"<p class='meta'>Sheets API v4 at {escape(emulator.base_url)}/v4/ &middot; quotas "
             f"{escape(str(emulator.quotas.limits.as_dict()))} &middot; faults "
             f"{escape(str(emulator.faults.as_dict()))} &middot; refreshes every {refresh_seconds} s</p>"]
    if not emulator.store.spreadsheets:
        parts.append("<p>No spreadsheets yet.</p>")
    for book in emulator.store.spreadsheets.values():
        shared = book.shared_with if isinstance(book.shared_with, str) else ", ".join(sorted(book.shared_with))
        parts.append(f"<h2 id='{escape(book.spreadsheet_id)}'>{escape(book.title)}</h2><p class='meta'>id "
                     f"{escape(book.spreadsheet_id)} &middot; shared with {escape(shared)}</p>")
        for sheet in book.sheets:
            rows = list(sheet.values)
            while rows and not any(cell not in (None, "") for cell in rows[-1]):
                rows.pop()
            hidden = max(0, len(rows) - 1 - max_rows)
            numbered = list(enumerate(rows, start=1))
            shown = numbered[:1] + numbered[1 + hidden:]
            note = f"; the last {max_rows} shown" if hidden else ""
            parts.append(f"<h3>{escape(sheet.title)} <span class='meta'>({len(rows)} rows of {sheet.rows}{note})"
                         "</span></h3>")
            parts.append(_table(shown))
    parts.append("</body></html>")
    return "".join(parts)
