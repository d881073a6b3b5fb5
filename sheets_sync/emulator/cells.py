"""spreadsheets.batchUpdate's cell requests, ``appendCells`` and ``updateCells``, and the grid data a
batchUpdate's response carries for ``responseRanges`` (``includeSpreadsheetInResponse`` with
``responseIncludeGridData``), as Google answers them.

Only cell values are kept (``fields`` must name ``userEnteredValue``, or be ``*``); formulas are refused.
Each request is checked whole before the batch changes anything; an action returns its reply and the
rows it wrote (for the change feed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sheets_sync.emulator.a1 import Bounds, parse_range
from sheets_sync.emulator.errors import invalid
from sheets_sync.emulator.grid import Cell, Sheet, render

if TYPE_CHECKING:
    from sheets_sync.emulator.store import Spreadsheet

Written = list[tuple["Spreadsheet", Sheet, int]]
Action = Callable[[], tuple[dict[str, Any], Written]]
VALUE_KINDS: dict[str, type | tuple[type, ...]] = {"stringValue": str, "numberValue": (int, float), "boolValue": bool}


def _where(index: int, kind: str) -> str:
    return f"Invalid requests[{index}].{kind}"


def _sheet(book: Spreadsheet, sheet_id: Any, where: str) -> Sheet:
    sheet = next((s for s in book.sheets if s.sheet_id == sheet_id), None) if isinstance(sheet_id, int) else None
    if sheet is None:
        raise invalid(f"{where}: No grid with id: {sheet_id}")
    return sheet


def _value(cell: Any, where: str) -> Cell:
    if not isinstance(cell, dict):
        raise invalid(f"{where}: each cell must be a CellData object")
    entered = cell.get("userEnteredValue")
    if entered is None:
        return ""  # 'fields' names userEnteredValue: a cell without one is cleared
    if not isinstance(entered, dict) or len(entered) != 1:
        raise invalid(f"{where}: userEnteredValue must hold exactly one of {', '.join(VALUE_KINDS)}")
    (kind, value), = entered.items()
    expected = VALUE_KINDS.get(kind)
    if expected is None:
        raise invalid(f"{where}: the emulator supports {', '.join(VALUE_KINDS)} (not {kind})")
    if not isinstance(value, expected) or (kind == "numberValue" and isinstance(value, bool)):
        raise invalid(f"{where}: {kind} has the wrong type")
    return value


def _block(spec: Mapping[str, Any], where: str) -> list[list[Cell]]:
    fields = spec.get("fields")
    if not isinstance(fields, str) or not fields.strip():
        raise invalid(f"{where}: At least one field must be updated, but 'fields' is empty.")
    if fields.strip() != "*" and "userEnteredValue" not in fields:
        raise invalid(f"{where}: the emulator keeps values only: 'fields' must name userEnteredValue")
    rows = spec.get("rows")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise invalid(f"{where}: rows must be a list of RowData")
    block = []
    for row in rows:
        values = row.get("values") or []
        if not isinstance(values, list):
            raise invalid(f"{where}: RowData.values must be a list")
        block.append([_value(cell, where) for cell in values])
    return block


def _fits(sheet: Sheet, block: list[list[Cell]], col0: int, where: str) -> None:
    width = max((len(row) for row in block), default=0)
    if col0 + width > sheet.columns:
        raise invalid(f"{where}: the rows are {width} cells wide, more than the grid's {sheet.columns} columns")


def _written(book: Spreadsheet, sheet: Sheet, row0: int, block: list[list[Cell]]) -> Written:
    return [(book, sheet, row) for row in range(row0, row0 + len(block))]


def append_cells(book: Spreadsheet, index: int, spec: Any) -> tuple[int, Action]:
    """After the last row with data in the sheet, inserting rows when the grid is full."""
    where = _where(index, "appendCells")
    if not isinstance(spec, dict):
        raise invalid(f"{where}: expected an object")
    sheet = _sheet(book, spec.get("sheetId"), where)
    block = _block(spec, where)
    _fits(sheet, block, 0, where)

    def apply() -> tuple[dict[str, Any], Written]:
        start = sheet.last_row(Bounds(0, 0, None, None))
        if start + len(block) > sheet.rows:
            sheet.insert_rows(sheet.rows, start + len(block) - sheet.rows)
        sheet.write(start, 0, block)
        return {}, _written(book, sheet, start, block)

    return len(block) * sheet.columns, apply


def update_cells(book: Spreadsheet, index: int, spec: Any) -> tuple[int, Action]:
    """The rows written from ``start`` (sheetId, rowIndex, columnIndex: zero-based) within the grid."""
    where = _where(index, "updateCells")
    if not isinstance(spec, dict) or not isinstance(spec.get("start"), dict):
        raise invalid(f"{where}: the emulator needs 'start' (a GridCoordinate)")
    start = spec["start"]
    sheet = _sheet(book, start.get("sheetId", 0), where)
    row0, col0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
    if not all(isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in (row0, col0)):
        raise invalid(f"{where}: rowIndex and columnIndex must be integers from 0")
    block = _block(spec, where)
    _fits(sheet, block, col0, where)
    if row0 + len(block) > sheet.rows:
        raise invalid(f"{where}: the rows reach row {row0 + len(block)}, past the grid's {sheet.rows}")

    def apply() -> tuple[dict[str, Any], Written]:
        sheet.write(row0, col0, block)
        return {}, _written(book, sheet, row0, block)

    return 0, apply


def _cell_data(value: Cell) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    kind = ("boolValue" if isinstance(value, bool) else "numberValue" if isinstance(value, int | float)
            else "stringValue")
    return {"userEnteredValue": {kind: value}, "effectiveValue": {kind: value}, "formattedValue": render(value, "")}


def grid_data(book: Spreadsheet, ranges: Any) -> dict[int, list[dict[str, Any]]]:
    """Per sheet id, the GridData of each of ``ranges`` (A1) in that sheet, as the response's spreadsheet
    carries them: start row and column (zero-based), then the rows with their cells' values."""
    if not isinstance(ranges, list) or not all(isinstance(text, str) for text in ranges):
        raise invalid("Invalid responseRanges: expected a list of A1 ranges.")
    found: dict[int, list[dict[str, Any]]] = {}
    for text in ranges:
        parsed = parse_range(text, book.titles())
        sheet = book.sheet(parsed.sheet)
        row0, col0, row1, col1 = sheet.clip(parsed.bounds)
        rows = [{"values": [_cell_data(cell) for cell in row[col0:col1]]} for row in sheet.values[row0:row1]]
        while rows and not any(rows[-1]["values"]):
            rows.pop()
        found.setdefault(sheet.sheet_id, []).append({"startRow": row0, "startColumn": col0, "rowData": rows})
    return found
