"""Writing the outbox: the only code that does, always inside the transaction of the change.

``outbox_record`` runs in ``calls.services``' transaction (through ``calls.events.call_writes``) for
every call change: one entry for the operations spreadsheet and, when the call's owner chose one, one
for the owner's spreadsheet. An entry already waiting for that call and sheet takes the new values (the
drain then writes only the latest state). ``outbox_backfill`` queues many calls at once (a user's new
spreadsheet, a forced resync).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

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
    targets = outbox_targets(call)
    if not targets:
        return []
    values, tab, critical = layout.row_values(call), layout.tab_title(call.created_at), layout.is_critical(call)
    now = timezone.now()
    for spreadsheet_id in targets:
        _upsert(call=call, spreadsheet_id=spreadsheet_id, tab=tab, values=values, critical=critical, now=now)
    return targets if critical else []


def _upsert(*, call: Call, spreadsheet_id: str, tab: str, values: list[Any], critical: bool, now: Any) -> None:
    """Under the call's row lock (every writer holds it), so two writers never race on one entry. A drain
    that deletes the entry at the same moment either sees the new version (and keeps it) or deleted it
    first (and the create below queues the new state)."""
    changes: dict[str, Any] = {"payload": values, "tab": tab, "version": F("version") + 1, "updated_at": now}
    if critical:
        changes["critical"] = True
    updated = OutboxEntry.objects.filter(call_id=call.pk, spreadsheet_id=spreadsheet_id).update(**changes)
    if not updated:
        OutboxEntry.objects.create(call_id=call.pk, spreadsheet_id=spreadsheet_id, tab=tab, payload=values,
                                   critical=critical, created_at=now, updated_at=now)


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
    are appended in order). Returns how many."""
    count = 0
    now = timezone.now()
    ordered = calls.select_related("owner").order_by("created_at", "id").iterator(chunk_size=BACKFILL_CHUNK)
    for chunk in _chunks(ordered):
        waiting = set(OutboxEntry.objects.filter(spreadsheet_id=spreadsheet_id, call_id__in=[c.pk for c in chunk])
                      .values_list("call_id", flat=True))
        fresh = []
        for call in chunk:
            values, tab, critical = layout.row_values(call), layout.tab_title(call.created_at), layout.is_critical(call)
            if call.pk in waiting:
                _upsert(call=call, spreadsheet_id=spreadsheet_id, tab=tab, values=values, critical=critical, now=now)
            else:
                fresh.append(OutboxEntry(call_id=call.pk, spreadsheet_id=spreadsheet_id, tab=tab, payload=values,
                                         critical=critical, created_at=now, updated_at=now))
        OutboxEntry.objects.bulk_create(fresh)
        count += len(chunk)
    return count
