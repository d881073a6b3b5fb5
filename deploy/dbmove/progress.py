"""Progress bars (tqdm: rows, rows/s, ETA, on stderr when it is a terminal) and the tables printed at
the end of each step."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from tqdm import tqdm


class Bar(Protocol):
    def update(self, n: int) -> object: ...


class _NoBar:
    def update(self, n: int) -> None:
        return None


class Progress:
    """``enabled=None``: bars only when stderr is a terminal (never in logs or tests)."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        self.enabled = enabled

    @contextmanager
    def bar(self, label: str, *, total: int, initial: int = 0) -> Iterator[Bar]:
        if self.enabled is False:
            yield _NoBar()
            return
        with tqdm(total=total, initial=initial, desc=label, unit=" rows", unit_scale=True, dynamic_ncols=True,
                  smoothing=0.1, disable=None if self.enabled is None else not self.enabled) as bar:
            yield bar


def table_text(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain, aligned text table: numbers right-aligned with thousands separators."""

    def cell(value: object) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.1f}"
        return "-" if value is None else str(value)

    cells = [[cell(value) for value in row] for row in rows]
    numeric = [all(isinstance(row[index], int | float) and not isinstance(row[index], bool) for row in rows)
               for index in range(len(headers))]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.rjust(width) if numeric[index] and rows else value.ljust(width)
                         for index, (value, width) in enumerate(zip(values, widths, strict=True))).rstrip()

    return "\n".join([line(list(headers)), line(["-" * width for width in widths]), *(line(row) for row in cells)])
