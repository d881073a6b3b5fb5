"""A1 notation: ``Calls!A2:F9``, ``'Calls 2026-12'!A:F``, ``Calls`` (a whole tab), ``A1:B2`` (the first tab)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sheets_sync.emulator.errors import invalid

_ENDPOINT = re.compile(r"^([A-Za-z]{0,3})([0-9]{0,7})$")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Bounds:
    """A block of cells, 0-based; ``None`` ends run to the edge of the grid (end indexes are exclusive)."""

    row0: int = 0
    col0: int = 0
    row1: int | None = None
    col1: int | None = None

    @property
    def single_cell(self) -> bool:
        return self.row1 == self.row0 + 1 and self.col1 == self.col0 + 1


@dataclass(frozen=True)
class Range:
    sheet: str | None  # None: the first tab
    bounds: Bounds


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_index(letters: str) -> int:
    value = 0
    for char in letters.upper():
        value = value * 26 + ord(char) - ord("A") + 1
    return value - 1


def quote_sheet(title: str) -> str:
    if _PLAIN_NAME.match(title) and not _ENDPOINT.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def format_range(title: str, row0: int, col0: int, row1: int, col1: int) -> str:
    """``Calls!A2:F3`` for rows [row0, row1) and columns [col0, col1)."""
    start = f"{column_letters(col0)}{row0 + 1}"
    end = f"{column_letters(col1 - 1)}{row1}"
    cells = start if (row1 - row0, col1 - col0) == (1, 1) else f"{start}:{end}"
    return f"{quote_sheet(title)}!{cells}"


def _split_sheet(text: str) -> tuple[str | None, str | None]:
    """(sheet name or None, cell part or None) of a range."""
    if text.startswith("'"):
        end, name = 1, []
        while end < len(text):
            if text[end] == "'":
                if text[end + 1:end + 2] == "'":
                    name.append("'")
                    end += 2
                    continue
                break
            name.append(text[end])
            end += 1
        rest = text[end + 1:]
        if end >= len(text) or (rest and not rest.startswith("!")):
            raise invalid(f"Unable to parse range: {text}")
        return "".join(name), (rest[1:] or None)
    if "!" in text:
        sheet, cells = text.rsplit("!", 1)
        return sheet, cells or None
    return None, text


def _endpoint(part: str, text: str) -> tuple[int | None, int | None]:
    match = _ENDPOINT.match(part)
    if not match or not part:
        raise invalid(f"Unable to parse range: {text}")
    letters, digits = match.groups()
    if digits and int(digits) == 0:
        raise invalid(f"Unable to parse range: {text}")
    return (int(digits) - 1 if digits else None), (column_index(letters) if letters else None)


def _bounds(cells: str, text: str) -> Bounds:
    first, _, second = cells.partition(":")
    r0, c0 = _endpoint(first, text)
    if not second:
        if r0 is None or c0 is None:
            raise invalid(f"Unable to parse range: {text}")
        return Bounds(r0, c0, r0 + 1, c0 + 1)
    r1, c1 = _endpoint(second, text)
    if (c0 is None) != (c1 is None) and (r0 is None or r1 is None):
        raise invalid(f"Unable to parse range: {text}")
    bounds = Bounds(r0 or 0, c0 or 0, None if r1 is None else r1 + 1, None if c1 is None else c1 + 1)
    if (bounds.row1 is not None and bounds.row1 <= bounds.row0) or (
            bounds.col1 is not None and bounds.col1 <= bounds.col0):
        raise invalid(f"Unable to parse range: {text}")
    return bounds


def parse_range(text: str, tab_titles: list[str]) -> Range:
    """Parse a range against a spreadsheet's tab titles; an unknown tab is Google's 400 ``Unable to parse range``."""
    text = text.strip()
    if not text:
        raise invalid("Unable to parse range: ")
    sheet, cells = _split_sheet(text)
    if sheet is None and cells in tab_titles:
        return Range(cells, Bounds())
    if sheet is not None and sheet not in tab_titles:
        raise invalid(f"Unable to parse range: {text}")
    return Range(sheet, Bounds() if cells is None else _bounds(cells, text))
