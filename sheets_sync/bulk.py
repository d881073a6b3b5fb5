"""The drain's database work, one statement per step whatever the batch size.

A turn may carry thousands of rows (as many as fit under ``SHEETS_MAX_BATCH_BYTES``); doing its
bookkeeping row by row, or through the ORM's ``pk__in`` lists (each value adapted on its own), made the
database work, not the Sheets quota, the limit of a backlog drain. Here the batch is read in one query
(each entry with the row its call already has), and what a written batch leaves behind (locks, the
entries written at their version deleted, the row numbers an append returned) is one statement each,
the ids passed as one array literal.

Callers run ``batch_written`` inside ``transaction.atomic``: the entries leave the outbox and the rows are
recorded together, or not at all (then the next turn writes the same values again, to the same rows
after a read-back; see ``sheets_sync.drain``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import connection
from django.db.models import F

from sheets_sync.models import OutboxEntry, SheetRow

OUTBOX = OutboxEntry._meta.db_table
SHEET_ROW = SheetRow._meta.db_table


@dataclass(frozen=True)
class Pending:
    """An outbox entry waiting to be written, with where its call's row already is (``row``: tab and
    row number) or None for a call not yet in the spreadsheet."""

    id: int
    call_id: uuid.UUID
    tab: str
    payload: list[Any]
    version: int
    critical: bool = False
    row: tuple[str, int] | None = None


def array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of ids (integers or UUIDs: nothing in them needs quoting)."""
    return "{" + ",".join(str(value) for value in values) + "}"


def _postgres() -> bool:
    """The statements here are PostgreSQL's; other databases (the embedded SQLite default) take the ORM
    path, a statement per row, which is plenty for one process."""
    return connection.vendor == "postgresql"


def _pending_orm(spreadsheet_id: str, *, oldest_first: bool, critical_only: bool, limit: int) -> list[Pending]:
    entries = OutboxEntry.objects.filter(spreadsheet_id=spreadsheet_id)
    if critical_only:
        entries = entries.filter(critical=True)
    order = ("created_at", "id") if oldest_first else ("-critical", "created_at", "id")
    chosen = list(entries.order_by(*order)[:limit])
    rows = {row.call_id: (row.tab, row.row_number) for row in SheetRow.objects.filter(
        spreadsheet_id=spreadsheet_id, call_id__in=[entry.call_id for entry in chosen])}
    return [Pending(id=entry.id, call_id=entry.call_id, tab=entry.tab, payload=entry.payload, version=entry.version,
                    critical=entry.critical, row=rows.get(entry.call_id)) for entry in chosen]


def pending(spreadsheet_id: str, *, oldest_first: bool, critical_only: bool, limit: int) -> list[Pending]:
    """The spreadsheet's waiting entries in drain order (critical first, then oldest; or oldest first),
    at most ``limit``, each with its call's row if it has one."""
    if not _postgres():
        return _pending_orm(spreadsheet_id, oldest_first=oldest_first, critical_only=critical_only, limit=limit)
    order = "o.created_at, o.id" if oldest_first else "o.critical DESC, o.created_at, o.id"
    only = "AND o.critical" if critical_only else ""
    sql = (f"SELECT o.id, o.call_id, o.tab, o.payload::text, o.version, o.critical, r.tab, r.row_number "  # noqa: S608 - names and order are ours
           f"FROM {OUTBOX} o LEFT JOIN {SHEET_ROW} r ON r.call_id = o.call_id AND r.spreadsheet_id = o.spreadsheet_id "
           f"WHERE o.spreadsheet_id = %s {only} ORDER BY {order} LIMIT %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [spreadsheet_id, limit])
        rows = cursor.fetchall()
    return [Pending(id=id_, call_id=call_id if isinstance(call_id, uuid.UUID) else uuid.UUID(str(call_id)), tab=tab,
                    payload=orjson.loads(payload), version=version, critical=critical,
                    row=(row_tab, row_number) if row_number is not None else None)
            for id_, call_id, tab, payload, version, critical, row_tab, row_number in rows]


def batch_written(entries: Sequence[Pending], *, spreadsheet_id: str, appended_tab: str | None = None,
                  first_row: int = 0, now: datetime) -> int:
    """Record a request that succeeded (inside the caller's transaction): the entries written at their
    latest version leave the outbox; after an append (``appended_tab``), each call's row is recorded
    (``first_row`` onwards, in the batch's order). Returns the entries deleted.

    The calls are locked first, in one order: a call change (``calls.services``) locks its call and then
    updates its outbox entry; deleting entries first and then inserting rows (which key-share lock their
    calls) would deadlock with it."""
    if not entries:
        return 0
    if not _postgres():
        return _batch_written_orm(entries, spreadsheet_id=spreadsheet_id, appended_tab=appended_tab,
                                  first_row=first_row, now=now)
    from calls.models import Call

    calls = array(sorted({str(entry.call_id) for entry in entries}))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Call._meta.db_table} WHERE id = ANY(%s::uuid[]) "  # noqa: S608 - names are ours
                       "ORDER BY id FOR NO KEY UPDATE", [calls])
        cursor.execute(
            f"DELETE FROM {OUTBOX} o USING unnest(%s::bigint[], %s::bigint[]) AS v(id, version) "  # noqa: S608 - names are ours
            "WHERE o.id = v.id AND o.version = v.version",
            [array(entry.id for entry in entries), array(entry.version for entry in entries)])
        deleted = cursor.rowcount
        if appended_tab is not None:
            cursor.execute(
                f"INSERT INTO {SHEET_ROW} (call_id, spreadsheet_id, tab, row_number, written_at) "  # noqa: S608 - names are ours
                "SELECT c.call_id, %s, %s, %s + c.n - 1, %s FROM unnest(%s::uuid[]) WITH ORDINALITY AS c(call_id, n) "
                "ON CONFLICT (call_id, spreadsheet_id) DO UPDATE SET tab = EXCLUDED.tab, "
                "row_number = EXCLUDED.row_number, written_at = EXCLUDED.written_at",
                [spreadsheet_id, appended_tab, first_row, now, array(entry.call_id for entry in entries)])
    return deleted


def _batch_written_orm(entries: Sequence[Pending], *, spreadsheet_id: str, appended_tab: str | None,
                       first_row: int, now: datetime) -> int:
    deleted = 0
    for entry in entries:
        deleted += OutboxEntry.objects.filter(id=entry.id, version=entry.version).delete()[0]
    if appended_tab is not None:
        for offset, entry in enumerate(entries):
            SheetRow.objects.update_or_create(call_id=entry.call_id, spreadsheet_id=spreadsheet_id, defaults={
                "tab": appended_tab, "row_number": first_row + offset, "written_at": now})
    return deleted


def rows_found(found: dict[uuid.UUID, int], *, spreadsheet_id: str, tab: str, now: datetime) -> int:
    """Record the rows a read-back found (call id -> row number) for calls that exist and have no row in
    the spreadsheet yet; returns how many were recorded."""
    if not found:
        return 0
    from calls.models import Call

    if not _postgres():
        known = set(Call.objects.filter(pk__in=list(found)).values_list("pk", flat=True))
        have = set(SheetRow.objects.filter(spreadsheet_id=spreadsheet_id, call_id__in=list(found))
                   .values_list("call_id", flat=True))
        new = [SheetRow(call_id=call_id, spreadsheet_id=spreadsheet_id, tab=tab, row_number=row_number, written_at=now)
               for call_id, row_number in found.items() if call_id in known and call_id not in have]
        SheetRow.objects.bulk_create(new)
        return len(new)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SHEET_ROW} (call_id, spreadsheet_id, tab, row_number, written_at) "  # noqa: S608 - names are ours
            "SELECT v.call_id, %s, %s, v.row_number, %s "
            "FROM unnest(%s::uuid[], %s::integer[]) AS v(call_id, row_number) "
            f"JOIN {Call._meta.db_table} c ON c.id = v.call_id ON CONFLICT (call_id, spreadsheet_id) DO NOTHING",
            [spreadsheet_id, tab, now, array(found), array(found.values())])
        return cursor.rowcount


def attempted(entries: Sequence[Pending], error: str) -> None:
    """A request that carried these entries failed: count it on each (they stay in the outbox)."""
    if not entries:
        return
    if not _postgres():
        OutboxEntry.objects.filter(id__in=[entry.id for entry in entries]).update(
            attempts=F("attempts") + 1, last_error=error[:1000])
        return
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {OUTBOX} SET attempts = attempts + 1, last_error = %s "  # noqa: S608 - names are ours
                       "WHERE id = ANY(%s::bigint[])", [error[:1000], array(entry.id for entry in entries)])
