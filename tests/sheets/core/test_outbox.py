"""The transactional outbox: every change of a call, whichever path made it, leaves the call's latest row
in the outbox, in the same transaction; nothing else writes it. Sync is off here (no credentials), so
the rows wait, as they do while Sheets is down or misconfigured."""

from __future__ import annotations

import httpx
import pytest
from django.db import transaction

from calls import services
from calls.models import Call, CallStatus
from calls.tasks import process_webhook
from sheets_sync import layout
from sheets_sync.models import OutboxEntry
from tests.calls.conftest import sim_details
from tests.sheets.core.conftest import OPS_ID, place, report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

STATUS = layout.HEADER.index("Status")
RECORDING = layout.HEADER.index("Recording")


class Boom(Exception):
    pass


def entry(call: Call, spreadsheet_id: str = OPS_ID) -> OutboxEntry:
    return OutboxEntry.objects.get(call=call, spreadsheet_id=spreadsheet_id)


def test_repeated_changes_of_a_call_leave_one_entry_holding_its_latest_row(no_sheets, provider, user):
    call = place(provider, user)
    first = entry(call)
    assert first.payload[0] == str(call.id)
    assert first.payload[STATUS] == "queued"
    assert not first.critical
    assert first.tab == f"Calls {call.created_at:%Y-%m}"

    report(call, queue_status="allocated")
    report(call, queue_status="started", answered_by="human")
    ended = report(call, queue_status="complete", status="completed", completed=True, duration_seconds=42,
                   summary="Confirmed for 7 pm.")

    latest = entry(call)
    assert OutboxEntry.objects.filter(call=call).count() == 1
    assert latest.pk == first.pk
    assert latest.version > first.version
    assert latest.payload == layout.row_values(ended)
    assert latest.payload[STATUS] == "completed"
    assert latest.critical
    assert latest.created_at == first.created_at  # the backlog's age is the oldest unwritten change


def test_a_rolled_back_call_change_leaves_no_outbox_row(no_sheets, provider, user):
    call = place(provider, user)
    OutboxEntry.objects.all().delete()  # as if drained

    def change_then_fail() -> None:
        with transaction.atomic():
            report(call, queue_status="complete", status="completed", completed=True, duration_seconds=30)
            assert OutboxEntry.objects.filter(call=call).exists()  # written inside the change's transaction
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()

    assert not OutboxEntry.objects.exists()
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED


def test_every_path_that_changes_a_call_reaches_the_outbox(no_sheets, sim, provider, user, calls_settings):
    # placing
    call = place(provider, user, record=True)
    assert entry(call).payload[STATUS] == "queued"

    # a webhook (the provider's call details, through the webhook task)
    OutboxEntry.objects.all().delete()
    httpx.post(f"{sim.url}/_sim/advance", json={"seconds": 600}, timeout=5).raise_for_status()
    process_webhook(sim_details(sim, call.provider_call_id))
    call.refresh_from_db()
    assert call.is_terminal
    assert entry(call).payload[STATUS] == call.status
    assert entry(call).critical

    # the recording, fetched after that commit (calls.tasks.fetch_recording), is linked from the row
    assert call.recording_file
    assert entry(call).payload[RECORDING].endswith(f"/api/v1/calls/{call.id}/recording/")
    # the corrected transcript
    OutboxEntry.objects.all().delete()
    call.refresh_from_db()
    services.call_store_corrected_transcript(provider=provider, call=call)
    assert OutboxEntry.objects.filter(call=call).exists() == bool(Call.objects.get(pk=call.pk).corrected_transcript)

    # cancelling, and the poller's refresh
    second = place(provider, user, max_duration=3)
    OutboxEntry.objects.all().delete()
    services.call_cancel(provider=provider, call=second)
    assert entry(second).payload[STATUS] == "canceled"
    assert entry(second).critical
    third = place(provider, user)
    OutboxEntry.objects.all().delete()
    httpx.post(f"{sim.url}/_sim/advance", json={"seconds": 5}, timeout=5).raise_for_status()
    refreshed = services.call_refresh(provider=provider, call=third)
    assert OutboxEntry.objects.filter(call=third).exists() == (refreshed.status != CallStatus.QUEUED)


def test_a_report_that_changes_nothing_writes_nothing(no_sheets, provider, user):
    call = place(provider, user)
    report(call, queue_status="started")
    OutboxEntry.objects.all().delete()
    report(call, queue_status="started")
    assert not OutboxEntry.objects.exists()


def test_an_owner_with_a_spreadsheet_gets_their_calls_there_and_nobody_elses(no_sheets, provider, make_user):
    from users.services import user_set_spreadsheet

    alice, bob = make_user("alice", credits=1_000), make_user("bob", credits=1_000)
    own = "AliceSheet0123456789abcdefghij"
    user_set_spreadsheet(user=alice, spreadsheet_id=own)
    mine, theirs = place(provider, alice), place(provider, bob)
    assert set(OutboxEntry.objects.filter(call=mine).values_list("spreadsheet_id", flat=True)) == {OPS_ID, own}
    assert set(OutboxEntry.objects.filter(call=theirs).values_list("spreadsheet_id", flat=True)) == {OPS_ID}
    assert set(OutboxEntry.objects.filter(spreadsheet_id=own).values_list("call__owner", flat=True)) == {alice.pk}


def test_without_an_operations_spreadsheet_only_owners_sheets_are_written(no_sheets, provider, user):
    no_sheets.SHEETS_OPERATIONS_SPREADSHEET_ID = ""
    call = place(provider, user)
    assert not OutboxEntry.objects.filter(call=call).exists()
