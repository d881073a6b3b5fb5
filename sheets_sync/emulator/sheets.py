"""The Sheets v4 methods on the store. Each takes the caller, the route, the query and the JSON body and
returns (response body, rows written as (spreadsheet, sheet, row index)). Every request is checked whole
before anything is written: a bad sub-request fails the request and changes nothing, as on Google."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sheets_sync.emulator import cells
from sheets_sync.emulator.a1 import parse_range
from sheets_sync.emulator.errors import ApiError, invalid
from sheets_sync.emulator.grid import DEFAULT_COLUMNS, DEFAULT_ROWS, Sheet
from sheets_sync.emulator.routes import Route
from sheets_sync.emulator.store import (
    Spreadsheet,
    Store,
    append_values,
    prepare_update,
    read_values,
    value_input,
)

Written = list[tuple[Spreadsheet, Sheet, int]]
Result = tuple[dict[str, Any], Written]
Query = Mapping[str, list[str]]


def _one(query: Query, name: str, default: str = "") -> str:
    values = query.get(name)
    return values[-1] if values else default


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    return body


def _rows_of(book: Spreadsheet, sheet: Sheet, response: Mapping[str, Any]) -> Written:
    if not response.get("updatedRows"):
        return []
    bounds = parse_range(response["updatedRange"], book.titles()).bounds
    return [(book, sheet, row) for row in range(bounds.row0, bounds.row0 + response["updatedRows"])]


def _grid(properties: Mapping[str, Any]) -> tuple[int, int]:
    grid = properties.get("gridProperties") or {}
    rows, columns = grid.get("rowCount", DEFAULT_ROWS), grid.get("columnCount", DEFAULT_COLUMNS)
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (rows, columns)):
        raise invalid("gridProperties rowCount and columnCount must be integers.")
    return rows, columns


class SheetsApi:
    def __init__(self, store: Store, base_url: Callable[[], str]) -> None:
        self.store = store
        self.base_url = base_url

    def call(self, route: Route, user: str, query: Query, body: Any) -> Result:
        handler = getattr(self, route.method.replace("spreadsheets.", "").replace(".", "_"))
        if route.method == "spreadsheets.create":
            result: Result = handler(user, _object(body))
            return result
        book = self.store.get(route.spreadsheet or "", user)
        result = handler(book, route, query, body)
        return result

    def create(self, user: str, body: dict[str, Any]) -> Result:
        properties = body.get("properties") or {}
        tabs = [(sheet.get("properties") or {}) for sheet in body.get("sheets") or []]
        titles = [tab.get("title") or f"Sheet{index + 1}" for index, tab in enumerate(tabs)] or ["Sheet1"]
        if len(set(titles)) != len(titles):
            raise invalid("Two sheets of the new spreadsheet have the same name.")
        book = self.store.create(title=properties.get("title"), shared_with={user}, tabs=titles)
        for sheet, tab in zip(book.sheets, tabs, strict=False):
            sheet.rows, sheet.columns = _grid(tab)
        return book.metadata(self.base_url()), []

    def get(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:
        return book.metadata(self.base_url()), []

    def batchUpdate(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:  # noqa: N802
        body = _object(body)
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise invalid("Must specify at least one request.")
        titles, extra_cells = book.titles(), 0
        plan: list[cells.Action] = []
        for index, request in enumerate(requests):
            action = self._plan_request(book, index, request, titles)
            extra_cells += action[0]
            plan.append(action[1])
        book.check_growth(extra_cells)
        ranges = body.get("responseRanges") or []
        if ranges:
            cells.grid_data(book, ranges)  # a bad range fails the request before anything is written
        replies, written = [], []
        for apply in plan:
            reply, rows = apply()
            replies.append(reply)
            written.extend(rows)
        response: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id, "replies": replies}
        if body.get("includeSpreadsheetInResponse"):
            response["updatedSpreadsheet"] = self._updated(book, ranges, bool(body.get("responseIncludeGridData")))
        return response, written

    def _updated(self, book: Spreadsheet, ranges: list[str], grid: bool) -> dict[str, Any]:
        """The spreadsheet after the batch, its sheets limited to ``ranges`` when given, with their grid data."""
        updated = book.metadata(self.base_url())
        if not ranges:
            return updated
        data = cells.grid_data(book, ranges)
        updated["sheets"] = [{**entry, **({"data": data[book.sheets[index].sheet_id]} if grid else {})}
                             for index, entry in enumerate(updated["sheets"]) if book.sheets[index].sheet_id in data]
        return updated

    def _plan_request(self, book: Spreadsheet, index: int, request: Any,
                      titles: list[str]) -> tuple[int, cells.Action]:
        """(cells added, the change to make) for one sub-request, checked against the titles so far."""
        kind = next(iter(request), None) if isinstance(request, dict) and len(request) == 1 else None
        if kind == "appendCells":
            return cells.append_cells(book, index, request[kind])
        if kind == "updateCells":
            return cells.update_cells(book, index, request[kind])
        if kind == "addSheet":
            properties = request["addSheet"].get("properties") or {}
            title = properties.get("title") or f"Sheet{len(titles) + 1}"
            if title in titles:
                raise invalid(f'Invalid requests[{index}].addSheet: A sheet with the name "{title}" already exists. '
                              "Please enter another name.")
            rows, columns = _grid(properties)
            titles.append(title)

            def add() -> tuple[dict[str, Any], Written]:
                sheet = book.add_sheet(title, rows, columns)
                return {"addSheet": {"properties": sheet.properties(len(book.sheets) - 1)}}, []

            return rows * columns, add
        if kind == "appendDimension":
            spec = request["appendDimension"]
            sheet = next((s for s in book.sheets if s.sheet_id == spec.get("sheetId")), None)
            length = spec.get("length")
            if sheet is None or spec.get("dimension") not in ("ROWS", "COLUMNS") or not isinstance(length, int) \
                    or length < 1:
                raise invalid(f"Invalid requests[{index}].appendDimension: needs a sheetId, ROWS|COLUMNS, length.")

            def grow() -> tuple[dict[str, Any], Written]:
                if spec["dimension"] == "ROWS":
                    sheet.rows += length
                else:
                    sheet.columns += length
                return {}, []

            return length * (sheet.columns if spec["dimension"] == "ROWS" else sheet.rows), grow
        raise invalid(f"Invalid requests[{index}]: the emulator supports addSheet, appendDimension, appendCells "
                      "and updateCells.")

    def values_get(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:
        render_option = _one(query, "valueRenderOption", "FORMATTED_VALUE")
        return read_values(book, route.range or "", render_option, _one(query, "majorDimension", "ROWS")), []

    def values_batchGet(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:  # noqa: N802
        render_option = _one(query, "valueRenderOption", "FORMATTED_VALUE")
        major = _one(query, "majorDimension", "ROWS")
        ranges = query.get("ranges") or []
        value_ranges = [read_values(book, text, render_option, major) for text in ranges]
        return {"spreadsheetId": book.spreadsheet_id, "valueRanges": value_ranges}, []

    def values_update(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:
        option = value_input(_one(query, "valueInputOption"))
        item = {**_object(body), "range": route.range}
        sheet, bounds, block = prepare_update(book, item, option)
        response = {"spreadsheetId": book.spreadsheet_id, **sheet.write(bounds.row0, bounds.col0, block)}
        return response, _rows_of(book, sheet, response)

    def values_batchUpdate(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:  # noqa: N802
        body = _object(body)
        option = value_input(body.get("valueInputOption"))
        data = body.get("data")
        if not isinstance(data, list):
            raise invalid("Invalid value at 'data': expected a list of ValueRange.")
        prepared = [prepare_update(book, item, option) for item in data]
        responses, written = [], []
        for sheet, bounds, block in prepared:
            response = {"spreadsheetId": book.spreadsheet_id, **sheet.write(bounds.row0, bounds.col0, block)}
            responses.append(response)
            written.extend(_rows_of(book, sheet, response))
        totals = {
            "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
            "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
            "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
            "totalUpdatedSheets": len({id(sheet) for sheet, _, _ in prepared}),
        }
        return {"spreadsheetId": book.spreadsheet_id, **totals, "responses": responses}, written

    def values_append(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:
        option = value_input(_one(query, "valueInputOption"))
        result = append_values(book, route.range or "", _object(body), option,
                               _one(query, "insertDataOption", "OVERWRITE"))
        sheet, _ = book.resolve(route.range or "")
        return result, _rows_of(book, sheet, result["updates"])

    def values_clear(self, book: Spreadsheet, route: Route, query: Query, body: Any) -> Result:
        sheet, bounds = book.resolve(route.range or "")
        row0, col0, row1, col1 = sheet.clip(bounds)
        for row in sheet.values[row0:row1]:
            for col in range(col0, min(col1, len(row))):
                row[col] = ""
        cleared, _ = sheet.read(bounds)
        return {"spreadsheetId": book.spreadsheet_id, "clearedRange": cleared}, []


__all__ = ["ApiError", "SheetsApi"]
