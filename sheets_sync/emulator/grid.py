"""One tab: a grid of ``rows x columns`` cells holding values, read and written by A1 bounds as Sheets does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sheets_sync.emulator.a1 import Bounds, column_letters, format_range
from sheets_sync.emulator.errors import invalid

DEFAULT_ROWS = 1000
DEFAULT_COLUMNS = 26
Cell = Any  # str | int | float | bool


def _is_empty(value: Cell) -> bool:
    return value is None or value == ""


def render(value: Cell, option: str) -> Cell:
    """A stored value as ``valueRenderOption`` asks: FORMATTED_VALUE (the default) gives strings."""
    if option in ("UNFORMATTED_VALUE", "FORMULA"):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def user_entered(value: Cell) -> Cell:
    """What USER_ENTERED makes of a typed string: numbers, booleans; a leading ' keeps it text."""
    if not isinstance(value, str):
        return value
    if value.startswith("'"):
        return value[1:]
    if value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    try:
        number = float(value.replace(",", "")) if value.strip() else None
    except ValueError:
        return value
    if number is None:
        return value
    return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number


@dataclass
class Sheet:
    sheet_id: int
    title: str
    rows: int = DEFAULT_ROWS
    columns: int = DEFAULT_COLUMNS
    values: list[list[Cell]] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return self.rows * self.columns

    def properties(self, index: int) -> dict[str, Any]:
        return {"sheetId": self.sheet_id, "title": self.title, "index": index, "sheetType": "GRID",
                "gridProperties": {"rowCount": self.rows, "columnCount": self.columns}}

    def clip(self, bounds: Bounds) -> tuple[int, int, int, int]:
        row1 = self.rows if bounds.row1 is None else min(bounds.row1, self.rows)
        col1 = self.columns if bounds.col1 is None else min(bounds.col1, self.columns)
        return bounds.row0, bounds.col0, max(row1, bounds.row0 + 1), max(col1, bounds.col0 + 1)

    def read(self, bounds: Bounds, render_option: str = "FORMATTED_VALUE") -> tuple[str, list[list[Cell]]]:
        """The A1 range read (clipped to the grid) and its values, trailing empty cells and rows left out."""
        row0, col0, row1, col1 = self.clip(bounds)
        block: list[list[Cell]] = []
        for row in self.values[row0:row1]:
            cells = row[col0:col1]
            while cells and _is_empty(cells[-1]):
                cells.pop()
            block.append([render("" if cell is None else cell, render_option) for cell in cells])
        while block and not block[-1]:
            block.pop()
        return format_range(self.title, row0, col0, row1, col1), block

    def check_write(self, bounds: Bounds, block: list[list[Cell]], text: str) -> None:
        """Google's 400s for a block that overflows its range or the grid."""
        open_ended = bounds.single_cell
        height, width = len(block), max((len(row) for row in block), default=0)
        if not open_ended and bounds.row1 is not None and bounds.row0 + height > bounds.row1:
            raise invalid(f"Requested writing within range [{text}], but tried writing to row [{bounds.row1 + 1}]")
        if not open_ended and bounds.col1 is not None and bounds.col0 + width > bounds.col1:
            raise invalid(f"Requested writing within range [{text}], but tried writing to column "
                          f"[{column_letters(bounds.col1)}]")
        if bounds.row0 + height > self.rows or bounds.col0 + width > self.columns:
            raise invalid(f"Range ({text}) exceeds grid limits. Max rows: {self.rows}, max columns: {self.columns}")

    def write(self, row0: int, col0: int, block: list[list[Cell]]) -> dict[str, Any]:
        """Write a block at (row0, col0); a None cell is left as it is. Returns Google's UpdateValuesResponse."""
        width = max((len(row) for row in block), default=0)
        while len(self.values) < row0 + len(block):
            self.values.append([])
        for offset, row in enumerate(block):
            target = self.values[row0 + offset]
            if len(target) < col0 + len(row):
                target.extend([None] * (col0 + len(row) - len(target)))
            for col, value in enumerate(row):
                if value is not None:
                    target[col0 + col] = value
        cells = sum(len(row) for row in block)
        response: dict[str, Any] = {"updatedRows": len(block), "updatedColumns": width, "updatedCells": cells}
        if block and width:
            response["updatedRange"] = format_range(self.title, row0, col0, row0 + len(block), col0 + width)
        else:
            response["updatedRange"] = format_range(self.title, row0, col0, row0 + 1, col0 + 1)
        return response

    def last_row(self, bounds: Bounds) -> int:
        """The index after the last row holding a value within the bounds' columns (the end of the table)."""
        col1 = self.columns if bounds.col1 is None else bounds.col1
        for index in range(len(self.values) - 1, bounds.row0 - 1, -1):
            if any(not _is_empty(cell) for cell in self.values[index][bounds.col0:col1]):
                return index + 1
        return bounds.row0

    def insert_rows(self, at: int, count: int) -> None:
        if at < len(self.values):
            self.values[at:at] = [[] for _ in range(count)]
        self.rows += count

    def as_dict(self) -> dict[str, Any]:
        return {"sheet_id": self.sheet_id, "title": self.title, "rows": self.rows, "columns": self.columns,
                "values": self.values}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sheet:
        return cls(data["sheet_id"], data["title"], data["rows"], data["columns"], data["values"])
