"""The drain against the Sheets emulator over HTTP, with the real client: append once, then batchUpdate;
coalescing; batches under the byte limit; no duplicate after an ambiguous append; critical first; month
tabs; per-user spreadsheets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calls.models import Call
from sheets_sync import layout
from sheets_sync.client import reset_sheets_client
from sheets_sync.drain import drain_once
from sheets_sync.models import OutboxEntry, SheetRow
from tests.sheets.core.conftest import client, place, report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

STATUS = layout.HEADER.index("Status")


def month_tab(call: Call) -> str:
    return layout.tab_title(call.created_at)


def data_rows(emulator, spreadsheet_id: str, tab: str) -> list[list]:  # noqa: ANN001
    rows = emulator.values(spreadsheet_id).get(tab, [])
    assert rows[0] == layout.HEADER  # the header row is made with the tab
    return rows[1:]


def writes(emulator, method: str) -> list[dict]:  # noqa: ANN001
    return [entry for entry in emulator.log() if entry["kind"] == "write" and method in entry["method"]]


def test_a_call_is_appended_once_and_its_later_states_update_its_row(sheets, provider, user):
    call = place(provider, user)
    result = drain_once(client=client())
    assert result.stopped == "empty"
    assert result.appended == 1
    rows = data_rows(sheets, sheets.ops, month_tab(call))
    assert [row[0] for row in rows] == [str(call.id)]
    assert rows[0][STATUS] == "queued"
    assert SheetRow.objects.get(call=call).row_number == 2

    ended = report(call, queue_status="complete", status="completed", completed=True, duration_seconds=42,
                   summary="Confirmed.")  # critical: the kick after commit writes it at once
    assert not OutboxEntry.objects.exists()
    rows = data_rows(sheets, sheets.ops, month_tab(call))
    assert rows == [[str(v) if isinstance(v, str) else v for v in layout.row_values(ended)]]
    assert len(writes(sheets, "append")) == 1
    assert len(writes(sheets, "values.batchUpdate")) >= 2  # the header, then the new state


def test_repeated_changes_before_a_drain_are_written_once_in_their_latest_state(sheets, provider, user):
    call = place(provider, user)
    for queue_status in ("allocated", "started"):
        report(call, queue_status=queue_status, answered_by="human")
    result = drain_once(client=client())
    assert result.rows_written == 1
    assert [row[STATUS] for row in data_rows(sheets, sheets.ops, month_tab(call))] == ["in_progress"]


def test_many_rows_share_a_request_up_to_the_byte_limit(sheets, provider, user, settings):
    calls = [place(provider, user) for _ in range(9)]
    one_row = layout.row_bytes(layout.table_range(month_tab(calls[0])), OutboxEntry.objects.first().payload)
    settings.SHEETS_MAX_BATCH_BYTES = 1_024 + 4 * one_row + 50  # four rows a request
    result = drain_once(client=client())
    assert result.appended == 9
    appends = writes(sheets, "append")
    assert len(appends) == 3
    ids = [row[0] for row in data_rows(sheets, sheets.ops, month_tab(calls[0]))]
    assert ids == [str(c.id) for c in calls]  # oldest first, each once


def test_an_ambiguous_append_is_read_back_and_never_duplicated(sheets, provider, user):
    calls = [place(provider, user)]
    drain_once(client=client())  # the month tab exists
    calls += [place(provider, user) for _ in range(3)]
    sheets.faults(ambiguous_rate=1.0)  # the rows are written, then the answer is a 500
    first = drain_once(client=client())
    assert first.failures == 1
    assert first.stopped == "failing"  # that spreadsheet waits for the next drain
    assert OutboxEntry.objects.count() == 3  # the rows stay in the outbox
    sheets.faults(ambiguous_rate=0.0)

    second = drain_once(client=client())
    assert second.reconciled == 3
    assert second.stopped == "empty"
    ids = [row[0] for row in data_rows(sheets, sheets.ops, month_tab(calls[0]))]
    assert sorted(ids) == sorted(str(c.id) for c in calls)  # one row each: no second append
    assert not OutboxEntry.objects.exists()
    assert any(entry["kind"] == "read" for entry in sheets.log())


def test_critical_rows_are_written_before_progress(sheets, provider, user, settings):
    settings.SHEETS_CREDENTIALS = ""  # sync off while the backlog builds (no kick)
    progress = [place(provider, user) for _ in range(3)]
    ended = place(provider, user)
    report(ended, queue_status="complete", status="failed", completed=True, error_message="busy line")
    settings.SHEETS_CREDENTIALS = sheets.key_json
    reset_sheets_client()
    settings.SHEETS_MAX_BATCH_BYTES = 1_100  # one row a request
    drain_once(client=client(), max_requests=4)  # metadata, new tab, header, then one row
    ids = [row[0] for row in data_rows(sheets, sheets.ops, month_tab(ended))]
    assert ids == [str(ended.id)]
    drain_once(client=client())
    ids = [row[0] for row in data_rows(sheets, sheets.ops, month_tab(ended))]
    assert ids == [str(ended.id), *(str(c.id) for c in progress)]


def test_each_month_gets_its_own_tab(sheets, provider, user):
    november = place(provider, user)
    Call.objects.filter(pk=november.pk).update(created_at=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    report(november, queue_status="started")
    december = place(provider, user)
    drain_once(client=client())
    assert [r[0] for r in data_rows(sheets, sheets.ops, "Calls 2026-11")] == [str(november.id)]
    assert [r[0] for r in data_rows(sheets, sheets.ops, month_tab(december))] == [str(december.id)]


def test_a_users_spreadsheet_receives_only_their_calls(sheets, provider, make_user, account):
    from users.services import user_set_spreadsheet

    alice, bob = make_user("alice", credits=1_000), make_user("bob", credits=1_000)
    earlier = place(provider, alice)  # before she connects her sheet: queued for it when she does
    own = sheets.new_spreadsheet(shared_with=[account["client_email"]])
    user_set_spreadsheet(user=alice, spreadsheet_id=own)
    hers, his = place(provider, alice), place(provider, bob)
    drain_once(client=client())
    tab = month_tab(hers)
    assert sorted(r[0] for r in data_rows(sheets, own, tab)) == sorted([str(earlier.id), str(hers.id)])
    assert sorted(r[0] for r in data_rows(sheets, sheets.ops, tab)) == sorted(
        str(c.id) for c in (earlier, hers, his))
