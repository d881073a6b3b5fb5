"""Spreadsheets in memory (optionally persisted to a JSON file) and the value operations on them."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheets_sync.emulator.a1 import Bounds, format_range, parse_range
from sheets_sync.emulator.errors import ApiError, invalid
from sheets_sync.emulator.grid import DEFAULT_COLUMNS, DEFAULT_ROWS, Cell, Sheet, user_entered

CELL_LIMIT = 10_000_000  # Google's cap per spreadsheet, all tabs together
INPUT_OPTIONS = ("RAW", "USER_ENTERED")
RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
ANYONE = "*"


def _new_id() -> str:
    return secrets.token_urlsafe(33)[:44]


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    shared_with: set[str] | str = ANYONE  # emails, or "*" for anyone
    sheets: list[Sheet] = field(default_factory=list)
    next_sheet_id: int = 0

    def shared(self, user: str) -> bool:
        return self.shared_with == ANYONE or user in self.shared_with

    def titles(self) -> list[str]:
        return [sheet.title for sheet in self.sheets]

    def cells(self) -> int:
        return sum(sheet.cells for sheet in self.sheets)

    def sheet(self, title: str | None) -> Sheet:
        if title is None:
            return self.sheets[0]
        return next(sheet for sheet in self.sheets if sheet.title == title)

    def resolve(self, text: str) -> tuple[Sheet, Bounds]:
        parsed = parse_range(text, self.titles())
        return self.sheet(parsed.sheet), parsed.bounds

    def check_growth(self, extra_cells: int) -> None:
        if self.cells() + extra_cells > CELL_LIMIT:
            raise invalid(f"This action would increase the number of cells in the workbook above the limit of "
                          f"{CELL_LIMIT} cells.")

    def add_sheet(self, title: str | None = None, rows: int = DEFAULT_ROWS, columns: int = DEFAULT_COLUMNS) -> Sheet:
        title = title or f"Sheet{len(self.sheets) + 1}"
        if title in self.titles():
            raise invalid(f'A sheet with the name "{title}" already exists. Please enter another name.')
        if rows < 1 or columns < 1:
            raise invalid("A sheet needs at least one row and one column.")
        self.check_growth(rows * columns)
        sheet = Sheet(self.next_sheet_id, title, rows, columns)
        self.next_sheet_id += 1
        self.sheets.append(sheet)
        return sheet

    def metadata(self, base_url: str) -> dict[str, Any]:
        return {
            "spreadsheetId": self.spreadsheet_id,
            "properties": {"title": self.title, "locale": "en_US", "autoRecalc": "ON_CHANGE", "timeZone": "Etc/GMT"},
            "sheets": [{"properties": sheet.properties(index)} for index, sheet in enumerate(self.sheets)],
            "spreadsheetUrl": f"{base_url}/#{self.spreadsheet_id}",
        }

    def as_dict(self) -> dict[str, Any]:
        shared = self.shared_with if isinstance(self.shared_with, str) else sorted(self.shared_with)
        return {"id": self.spreadsheet_id, "title": self.title, "shared_with": shared,
                "next_sheet_id": self.next_sheet_id, "sheets": [sheet.as_dict() for sheet in self.sheets]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spreadsheet:
        shared = data["shared_with"]
        return cls(data["id"], data["title"], shared if isinstance(shared, str) else set(shared),
                   [Sheet.from_dict(sheet) for sheet in data["sheets"]], data["next_sheet_id"])


def _rows(body_values: Any, major: str, option: str) -> list[list[Cell]]:
    if body_values is None:
        return []
    if not isinstance(body_values, list) or not all(isinstance(row, list) for row in body_values):
        raise invalid("Invalid values: expected a list of rows (lists of cells).")
    for row in body_values:
        for cell in row:
            if cell is not None and not isinstance(cell, str | int | float | bool):
                raise invalid(f"Invalid value at cell: {json.dumps(cell)[:80]}")
    block = [list(row) for row in body_values]
    if major == "COLUMNS":
        height = max((len(col) for col in block), default=0)
        block = [[col[i] if i < len(col) else None for col in block] for i in range(height)]
    elif major not in ("ROWS", "", None):
        raise invalid(f"Invalid value at 'data.major_dimension' ({major})")
    if option == "USER_ENTERED":
        block = [[user_entered(cell) for cell in row] for row in block]
    return block


def value_input(option: str | None) -> str:
    if not option:
        raise invalid("'valueInputOption' is required but not specified")
    if option not in INPUT_OPTIONS:
        raise invalid(f"Invalid value at 'value_input_option' ({option})")
    return option


def read_values(book: Spreadsheet, text: str, render_option: str, major: str = "ROWS") -> dict[str, Any]:
    if render_option not in RENDER_OPTIONS:
        raise invalid(f"Invalid value at 'value_render_option' ({render_option})")
    sheet, bounds = book.resolve(text)
    clipped, block = sheet.read(bounds, render_option)
    if major == "COLUMNS":
        width = max((len(row) for row in block), default=0)
        block = [[row[i] if i < len(row) else "" for row in block] for i in range(width)]
    result: dict[str, Any] = {"range": clipped, "majorDimension": major or "ROWS"}
    if block:
        result["values"] = block
    return result


def prepare_update(book: Spreadsheet, item: Any, option: str) -> tuple[Sheet, Bounds, list[list[Cell]]]:
    """Check one ValueRange of an update before anything is written (Sheets requests are atomic)."""
    if not isinstance(item, dict) or not isinstance(item.get("range"), str):
        raise invalid("Invalid data: each ValueRange needs a range.")
    sheet, bounds = book.resolve(item["range"])
    block = _rows(item.get("values"), item.get("majorDimension", "ROWS"), option)
    sheet.check_write(bounds, block, item["range"])
    return sheet, bounds, block


def append_values(book: Spreadsheet, text: str, body: Any, option: str, insert: str) -> dict[str, Any]:
    """values.append: find the table in the range, write the rows after its last row (growing the grid)."""
    if insert not in ("INSERT_ROWS", "OVERWRITE"):
        raise invalid(f"Invalid value at 'insert_data_option' ({insert})")
    sheet, bounds = book.resolve(text)
    block = _rows(body.get("values") if isinstance(body, dict) else None,
                  body.get("majorDimension", "ROWS") if isinstance(body, dict) else "ROWS", option)
    width = max((len(row) for row in block), default=0)
    if bounds.col0 + width > sheet.columns:
        raise invalid(f"Range ({text}) exceeds grid limits. Max rows: {sheet.rows}, max columns: {sheet.columns}")
    start = sheet.last_row(bounds)
    table_start = bounds.row0
    grow = len(block) if insert == "INSERT_ROWS" else max(0, start + len(block) - sheet.rows)
    book.check_growth(grow * sheet.columns)
    if insert == "INSERT_ROWS":
        sheet.insert_rows(start, len(block))
    else:
        sheet.rows += grow
    updates = sheet.write(start, bounds.col0, block)
    result: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id,
                              "updates": {"spreadsheetId": book.spreadsheet_id, **updates}}
    if start > table_start:
        col1 = bounds.col1 if bounds.col1 is not None else max(bounds.col0 + max(width, 1), 1)
        result["tableRange"] = format_range(sheet.title, table_start, bounds.col0, start, min(col1, sheet.columns))
    return result


class Store:
    """Every spreadsheet of the emulator, by id; ``save()`` writes them to ``path`` when one is set."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.dirty = False

    def create(self, *, spreadsheet_id: str | None = None, title: str | None = None,
               shared_with: set[str] | str = ANYONE, tabs: list[str] | None = None) -> Spreadsheet:
        spreadsheet_id = spreadsheet_id or _new_id()
        if spreadsheet_id in self.spreadsheets:
            raise ApiError(409, f"Spreadsheet {spreadsheet_id} already exists.")
        book = Spreadsheet(spreadsheet_id, title or "Untitled spreadsheet", shared_with)
        for tab in tabs or ["Sheet1"]:
            book.add_sheet(tab)
        self.spreadsheets[spreadsheet_id] = book
        self.dirty = True
        return book

    def get(self, spreadsheet_id: str, user: str) -> Spreadsheet:
        """The spreadsheet, or 404 NOT_FOUND when there is none, 403 PERMISSION_DENIED when not shared with user."""
        book = self.spreadsheets.get(spreadsheet_id)
        if book is None:
            raise ApiError(404)
        if not book.shared(user):
            raise ApiError(403)
        return book

    def clear(self) -> None:
        self.spreadsheets.clear()
        self.dirty = True

    def snapshot(self) -> dict[str, Any]:
        return {"spreadsheets": [book.as_dict() for book in self.spreadsheets.values()]}

    def restore(self, data: dict[str, Any]) -> None:
        self.spreadsheets = {item["id"]: Spreadsheet.from_dict(item) for item in data.get("spreadsheets", [])}

    def save(self, extra: dict[str, Any]) -> None:
        """Write everything to the file atomically (a temporary file renamed over it)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump({**self.snapshot(), **extra}, handle)
        os.replace(tmp, self.path)
        self.dirty = False

    def load(self) -> dict[str, Any]:
        """Read the file if there is one; returns the whole document (the caller restores accounts from it)."""
        if self.path is None or not self.path.exists():
            return {}
        data = json.loads(self.path.read_text())
        self.restore(data)
        return data
