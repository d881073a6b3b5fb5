"""The outbox for many calls written at once (a campaign's calls, ``calls.events.calls_written``): exactly one
entry per call and spreadsheet, each holding that call's row as saved, in the transaction of the change;
entries already waiting are coalesced as one call's change would be. Sync is off (no credentials), so the
entries wait."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from calls import errors as call_errors
from calls.campaigns import services as campaigns
from calls.events import calls_written
from calls.models import Call, CallStatus, Campaign
from calls.providers.bland import BlandClient
from sheets_sync import layout
from sheets_sync.models import OutboxEntry
from tests.calls.conftest import sim_faults
from tests.sheets.core.conftest import OPS_ID, place, report
from users.models import User
from users.services import user_set_spreadsheet

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

STATUS = layout.HEADER.index("Status")
OWN_ID = "AliceSheet0123456789abcdefghij"


class Boom(Exception):
    pass


def place_campaign(provider: BlandClient, user: User, count: int) -> Campaign:
    rows: list[Any] = [{"phone_number": f"+1415555{index:04d}", "request_data": {"name": f"Customer {index}"}}
                       for index in range(count)]
    shared, good = campaigns.campaign_prepare(provider=provider, rows=rows, task="Confirm {{name}}'s order.",
                                              max_duration=1)
    return campaigns.campaign_place(provider=provider, user=user, shared=shared, rows=good)


def test_a_campaign_queues_exactly_one_row_per_call_for_each_spreadsheet(no_sheets, provider, make_user):
    alice, bob = make_user("alice", credits=1_000_000), make_user("bob", credits=1_000_000)
    user_set_spreadsheet(user=alice, spreadsheet_id=OWN_ID)
    bobs = place(provider, bob)
    OutboxEntry.objects.all().delete()

    campaign = place_campaign(provider, alice, 60)

    calls = list(Call.objects.filter(campaign=campaign).select_related("owner").order_by("campaign_index"))
    assert len(calls) == 60
    entries = list(OutboxEntry.objects.all())
    assert len(entries) == 2 * 60
    assert {(entry.call_id, entry.spreadsheet_id) for entry in entries} == {
        (call.pk, sheet) for call in calls for sheet in (OPS_ID, OWN_ID)}
    by_key = {(entry.call_id, entry.spreadsheet_id): entry for entry in entries}
    for call in calls:
        for sheet in (OPS_ID, OWN_ID):
            entry = by_key[(call.pk, sheet)]
            assert entry.payload == layout.row_values(call)  # the row as it is in the database
            assert entry.payload[STATUS] == CallStatus.QUEUED
            assert entry.tab == f"Calls {call.created_at:%Y-%m}"
            assert not entry.critical
            assert entry.version == 1
    assert not OutboxEntry.objects.filter(call=bobs).exists()  # nobody else's rows were touched
    # the drain takes them in row order, oldest first
    ops_order = list(OutboxEntry.objects.filter(spreadsheet_id=OPS_ID).order_by("created_at", "id")
                     .values_list("call_id", flat=True))
    assert ops_order == [call.pk for call in calls]


def test_a_campaign_the_provider_refuses_leaves_no_outbox_row(no_sheets, sim, provider, user):
    sim_faults(sim, outage=True)
    with pytest.raises(call_errors.ProviderError):
        place_campaign(provider, user, 5)
    sim_faults(sim, outage=False)
    assert not Call.objects.exists()
    assert not OutboxEntry.objects.exists()


def test_many_calls_written_at_once_coalesce_with_entries_already_waiting(no_sheets, provider, user):
    ended = report(place(provider, user), queue_status="complete", status="completed", completed=True,
                   duration_seconds=30)
    waiting = OutboxEntry.objects.get(call=ended)
    assert waiting.critical
    fresh = place(provider, user)
    OutboxEntry.objects.filter(call=fresh).delete()  # as if drained
    ended.summary = "Confirmed for 7 pm."

    with transaction.atomic():
        calls_written(calls=[ended, fresh, fresh])

    entry = OutboxEntry.objects.get(call=ended)
    assert entry.pk == waiting.pk
    assert entry.version == waiting.version + 1
    assert entry.critical  # a later write never makes a waiting entry less urgent
    assert entry.created_at == waiting.created_at  # the backlog's age is the oldest unwritten change
    assert entry.payload == layout.row_values(ended)
    assert OutboxEntry.objects.filter(call=fresh).count() == 1
    assert OutboxEntry.objects.get(call=fresh).payload == layout.row_values(fresh)


def test_many_calls_written_in_a_change_that_rolls_back_leave_no_entry(no_sheets, provider, user):
    calls = [place(provider, user), place(provider, user)]
    OutboxEntry.objects.all().delete()

    def write_then_fail() -> None:
        with transaction.atomic():
            calls_written(calls=calls)
            assert OutboxEntry.objects.count() == 2  # written inside the change's transaction
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert not OutboxEntry.objects.exists()


def test_calls_written_outside_a_transaction_is_refused(no_sheets, provider, user):
    call = place(provider, user)
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        calls_written(calls=[call])
