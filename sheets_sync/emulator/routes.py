"""Which Sheets v4 method a request is: the REST paths google-api-python-client sends (from its discovery
document), with the id and range taken from the raw, still percent-encoded path."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

PREFIX = "/v4/spreadsheets"


@dataclass(frozen=True)
class Route:
    method: str  # Google's method name, e.g. spreadsheets.values.append
    kind: str  # "read" or "write": the quota it counts against
    spreadsheet: str | None = None
    range: str | None = None


def _values_route(http_method: str, spreadsheet: str, tail: str) -> Route | None:
    if tail == ":batchUpdate" and http_method == "POST":
        return Route("spreadsheets.values.batchUpdate", "write", spreadsheet)
    if tail == ":batchGet" and http_method == "GET":
        return Route("spreadsheets.values.batchGet", "read", spreadsheet)
    if not tail.startswith("/") or len(tail) < 2:
        return None
    range_text = tail[1:]
    if range_text.endswith(":append") and http_method == "POST":
        return Route("spreadsheets.values.append", "write", spreadsheet, unquote(range_text[:-len(":append")]))
    if range_text.endswith(":clear") and http_method == "POST":
        return Route("spreadsheets.values.clear", "write", spreadsheet, unquote(range_text[:-len(":clear")]))
    if "/" in range_text:
        return None
    if http_method == "GET":
        return Route("spreadsheets.values.get", "read", spreadsheet, unquote(range_text))
    if http_method == "PUT":
        return Route("spreadsheets.values.update", "write", spreadsheet, unquote(range_text))
    return None


def route(http_method: str, raw_path: str) -> Route | None:
    """The method for ``http_method raw_path`` or None (an unknown path: 404)."""
    path = raw_path.split("?", 1)[0]
    if path in (PREFIX, PREFIX + "/"):
        return Route("spreadsheets.create", "write") if http_method == "POST" else None
    if not path.startswith(PREFIX + "/"):
        return None
    rest = path[len(PREFIX) + 1:]
    head, slash, tail = rest.partition("/")
    if slash:
        spreadsheet = unquote(head)
        if tail.startswith("values"):
            return _values_route(http_method, spreadsheet, tail[len("values"):])
        return None
    if head.endswith(":batchUpdate") and http_method == "POST":
        return Route("spreadsheets.batchUpdate", "write", unquote(head[:-len(":batchUpdate")]))
    if ":" not in head and http_method == "GET":
        return Route("spreadsheets.get", "read", unquote(head))
    return None
