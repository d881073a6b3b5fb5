"""Writing the outbox: the only code that does, always inside the transaction of the change.

``outbox_record`` runs in ``calls.services``' transaction (through ``calls.events.call_writes``) for
every call change: one entry for the operations spreadsheet and, when the call's owner chose one, one
for the owner's spreadsheet. An entry already waiting for that call and sheet takes the new values (the
drain then writes only the latest state). ``outbox_record_many`` does the same for many calls saved at
once (a campaign's, through ``calls.events.calls_writes``), and ``outbox_backfill`` queues many calls for
one spreadsheet (a user's new spreadsheet, a forced resync); both in one statement per batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from config.db_bulk import execute_bound
from sheets_sync import layout
from sheets_sync.models import OutboxEntry
from users.services import SPREADSHEET_ID

if TYPE_CHECKING:
    from calls.models import Call

BACKFILL_CHUNK = 1_000


def outbox_targets(call: Call) -> list[str]:
    """The spreadsheets a call's row goes to: operations (if configured, and an id: the system check
    reports one that is not), then the owner's (if set)."""
    targets = []
    operations = settings.SHEETS_OPERATIONS_SPREADSHEET_ID
    if operations and SPREADSHEET_ID.fullmatch(operations):
        targets.append(operations)
    own = call.owner.sheets_spreadsheet_id
    if own and own not in targets:
        targets.append(own)
    return targets


def outbox_record(*, call: Call) -> list[str]:
    """Queue the call's current row for each of its spreadsheets; returns the spreadsheets when the change
    is critical (the caller kicks a drain after commit), else []."""
    return outbox_record_many(calls=[call])


def outbox_record_many(*, calls: Sequence[Call]) -> list[str]:
    """``outbox_record`` for many calls saved together (a campaign's): every entry queued by one statement.
    Returns the spreadsheets that got a critical entry (the caller kicks a drain after commit)."""
    entries = [_entry(call, spreadsheet_id) for call in calls for spreadsheet_id in outbox_targets(call)]
    _upsert_many(entries, now=timezone.now())
    return list(dict.fromkeys(entry.spreadsheet_id for entry in entries if entry.critical))


@dataclass(slots=True)
class _Entry:
    """What one outbox entry is to hold (a plain record: thousands are built at once)."""

    call_id: Any
    spreadsheet_id: str
    tab: str
    payload: list[Any]
    critical: bool


def _entry(call: Call, spreadsheet_id: str) -> _Entry:
    return _Entry(call.pk, spreadsheet_id, layout.tab_title(call.created_at), layout.row_values(call),
                  layout.is_critical(call))


_UPSERT = """
INSERT INTO {table} AS entry (call_id, spreadsheet_id, tab, payload, critical, version, created_at, updated_at,
                              attempts, last_error)
SELECT queued.call_id, queued.spreadsheet_id, queued.tab, queued.payload::jsonb, queued.critical, 1, %b, %b, 0, ''
FROM unnest(%b::uuid[], %b::varchar[], %b::varchar[], %b::text[], %b::boolean[])
     WITH ORDINALITY AS queued(call_id, spreadsheet_id, tab, payload, critical, position)
ORDER BY queued.position
ON CONFLICT (call_id, spreadsheet_id) DO UPDATE SET
    payload = EXCLUDED.payload, tab = EXCLUDED.tab, version = entry.version + 1, updated_at = EXCLUDED.updated_at,
    critical = entry.critical OR EXCLUDED.critical
"""


def _upsert_many(entries: Sequence[_Entry], *, now: datetime) -> None:
    """Queue each entry (one statement, in order, so ids follow it): a new one is created; one already
    waiting for that call and sheet takes the new values and tab, its version moves and it becomes critical
    if this change is (never less), keeping its ``created_at`` (the oldest change not written).

    Every writer holds the call's row lock, and ``ON CONFLICT`` settles a drain deleting the entry at the
    same moment: it either sees the new version (and keeps it) or deleted it first (and this inserts)."""
    latest: dict[tuple[Any, str], _Entry] = {}
    for entry in entries:  # one call written twice in one batch: its latest row, critical if either was
        key = (entry.call_id, entry.spreadsheet_id)
        if key in latest:
            entry.critical = entry.critical or latest.pop(key).critical
        latest[key] = entry
    if not latest:
        return
    rows = list(latest.values())
    if connection.vendor != "postgresql":  # the embedded SQLite default: a statement or two per entry
        for entry in rows:
            _upsert_one(entry, now=now)
        return
    execute_bound(_UPSERT.format(table=connection.ops.quote_name(OutboxEntry._meta.db_table)), [
        now, now, [entry.call_id for entry in rows], [entry.spreadsheet_id for entry in rows],
        [entry.tab for entry in rows], [json.dumps(entry.payload) for entry in rows],
        [entry.critical for entry in rows]])


def _upsert_one(entry: _Entry, *, now: datetime) -> None:
    changes: dict[str, Any] = {"payload": entry.payload, "tab": entry.tab, "version": F("version") + 1,
                               "updated_at": now}
    if entry.critical:
        changes["critical"] = True
    if not OutboxEntry.objects.filter(call_id=entry.call_id, spreadsheet_id=entry.spreadsheet_id).update(**changes):
        OutboxEntry.objects.create(call_id=entry.call_id, spreadsheet_id=entry.spreadsheet_id, tab=entry.tab,
                                   payload=entry.payload, critical=entry.critical, created_at=now, updated_at=now)


def _chunks(calls: Iterable[Call]) -> Iterator[list[Call]]:
    chunk: list[Call] = []
    for call in calls:
        chunk.append(call)
        if len(chunk) == BACKFILL_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def outbox_backfill(*, calls: QuerySet[Call], spreadsheet_id: str) -> int:
    """Queue the current row of every call in ``calls`` for ``spreadsheet_id`` (oldest calls first, so they
    are appended in order), a statement per ``BACKFILL_CHUNK`` calls. Returns how many."""
    count = 0
    now = timezone.now()
    ordered = calls.select_related("owner").order_by("created_at", "id").iterator(chunk_size=BACKFILL_CHUNK)
    for chunk in _chunks(ordered):
        _upsert_many([_entry(call, spreadsheet_id) for call in chunk], now=now)
        count += len(chunk)
    return count
