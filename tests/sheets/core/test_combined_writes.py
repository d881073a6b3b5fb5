"""New rows and known rows waiting together go in one request (a spreadsheets.batchUpdate of updateCells and
appendCells, whose answer says where the new rows landed), against the emulator with the real client: one
write of the quota instead of two, no duplicate row, and an ambiguous answer read back."""

from __future__ import annotations

from typing import Any

import pytest

from calls.models import Call
from sheets_sync import layout
from sheets_sync.client import reset_sheets_client
from sheets_sync.drain import drain_once
from sheets_sync.models import OutboxEntry, SheetRow
from tests.sheets.conftest import google_sheets
from tests.sheets.core.conftest import client, place, report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

STATUS = layout.HEADER.index("Status")


def _rows(sheets: Any, call: Call) -> list[list[Any]]:
    rows = sheets.values(sheets.ops)[layout.tab_title(call.created_at)]
    assert rows[0] == layout.HEADER
    return rows[1:]


def _writes(sheets: Any, since: int) -> list[str]:
    return [entry["method"] for entry in sheets.log(since) if entry["kind"] == "write"]


def _both_waiting(sheets: Any, provider: Any, user: Any, settings: Any) -> tuple[Call, Call, int]:
    """A call with a row whose end is waiting, and a new call waiting for its row (sync off meanwhile)."""
    known = place(provider, user)
    drain_once(client=client())  # its row, the tab and the header
    settings.SHEETS_CREDENTIALS = ""  # no kick: both wait for the same drain
    reset_sheets_client()
    report(known, queue_status="complete", status="completed", completed=True, duration_seconds=30,
           summary="Booked.")
    new = place(provider, user)
    settings.SHEETS_CREDENTIALS = sheets.key_json
    reset_sheets_client()
    return known, new, len(sheets.log())


def test_a_known_rows_update_and_a_new_row_share_one_write(sheets, provider, user, settings):
    known, new, since = _both_waiting(sheets, provider, user, settings)
    result = drain_once(client=client())
    assert result.stopped == "empty"
    assert (result.updated, result.appended, result.requests) == (1, 1, 1)
    assert _writes(sheets, since) == ["spreadsheets.batchUpdate"]  # one quota unit for both rows
    rows = _rows(sheets, known)
    assert [row[0] for row in rows] == [str(known.id), str(new.id)]
    assert rows[0][STATUS] == "completed"
    assert SheetRow.objects.get(call=new).row_number == 3
    assert not OutboxEntry.objects.exists()

    report(new, queue_status="complete", status="no_answer", completed=True)  # critical: written at once
    rows = _rows(sheets, known)
    assert [row[0] for row in rows] == [str(known.id), str(new.id)]  # its row, not a second one
    assert rows[1][STATUS] == "no_answer"


def test_an_ambiguous_combined_write_is_read_back_and_never_duplicated(sheets, provider, user, settings):
    known, new, _ = _both_waiting(sheets, provider, user, settings)
    sheets.faults(ambiguous_rate=1.0)  # the batch is applied, then the answer is a 500
    first = drain_once(client=client())
    assert first.failures == 1
    assert OutboxEntry.objects.count() == 2  # neither is taken as written
    sheets.faults(ambiguous_rate=0.0)

    second = drain_once(client=client())
    assert second.reconciled == 1  # the new call's row, found by reading the id column back
    assert second.stopped == "empty"
    rows = _rows(sheets, known)
    assert [row[0] for row in rows] == [str(known.id), str(new.id)]
    assert rows[0][STATUS] == "completed"
    assert SheetRow.objects.get(call=new).row_number == 3
    assert not OutboxEntry.objects.exists()


def test_rows_typed_below_the_table_are_kept_and_the_new_row_found(sheets, provider, user, settings, account):
    known, new, _ = _both_waiting(sheets, provider, user, settings)
    tab = layout.tab_title(known.created_at)
    google_sheets(sheets, account).spreadsheets().values().update(  # someone types a row below the table
        spreadsheetId=sheets.ops, range=f"'{tab}'!A3:B3", valueInputOption="RAW",
        body={"values": [["a note", "typed by hand"]]}).execute()
    result = drain_once(client=client())
    assert result.stopped == "empty"
    rows = _rows(sheets, known)
    assert rows[1][:2] == ["a note", "typed by hand"]
    assert [row[0] for row in rows] == [str(known.id), "a note", str(new.id)]
    assert SheetRow.objects.get(call=new).row_number == 4
