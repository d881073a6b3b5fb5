"""sheets_sync's subscriptions to the other apps' events (connected in ``SheetsSyncConfig.ready``).

They run inside the announcing transaction: a failure here fails the call change, so a change is never
committed without its outbox entry.
"""

from __future__ import annotations

from django.db import transaction

from calls.events import CallsWritten, CallWritten, call_writes, calls_writes
from sheets_sync import outbox, services
from users.events import SpreadsheetChanged, spreadsheet_changes


@call_writes.subscribe
def record_call(event: CallWritten) -> None:
    _kick_after_commit(outbox.outbox_record(call=event.call))


@calls_writes.subscribe
def record_calls(event: CallsWritten) -> None:
    _kick_after_commit(outbox.outbox_record_many(calls=event.calls))


def _kick_after_commit(critical_targets: list[str]) -> None:
    if critical_targets:
        transaction.on_commit(lambda: services.drain_kick(spreadsheet_ids=critical_targets))


@spreadsheet_changes.subscribe
def queue_for_new_spreadsheet(event: SpreadsheetChanged) -> None:
    services.user_spreadsheet_switch(user_id=event.user_id, spreadsheet_id=event.spreadsheet_id,
                                     previous_id=event.previous_id)
