"""``config.db_bulk.update_rows``: many rows' own values in one statement, every column type a call has."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from calls.models import Call, CallEvent, CallStatus
from config.db_bulk import insert_rows, update_rows

FIELDS = ["status", "duration_seconds", "provider_price", "transcript", "provider_payload", "ended_at", "summary"]


def test_each_row_gets_its_own_values_in_one_statement_and_other_rows_are_untouched(make_user) -> None:
    owner = make_user()
    calls = [Call.objects.create(owner=owner, to_number=f"+1212555010{n}", max_duration=5) for n in range(3)]
    first, second, untouched = calls
    first.status, first.duration_seconds, first.provider_price = CallStatus.COMPLETED, 61, Decimal("0.1234")
    first.transcript = [{"speaker": "user", "text": "It's me, \"Ann\"", "at": 1.5}]
    first.provider_payload = {"nested": {"list": [1, None, "x"]}}
    first.ended_at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    first.summary = "O'Brien said yes"
    second.status, second.duration_seconds, second.provider_price = CallStatus.FAILED, None, None
    second.ended_at, second.summary = None, ""
    assert update_rows([first, second], FIELDS) == 2
    stored = {call.pk: call for call in Call.objects.filter(pk__in=[c.pk for c in calls])}
    assert [getattr(stored[first.pk], name) for name in FIELDS] == [getattr(first, name) for name in FIELDS]
    assert [getattr(stored[second.pk], name) for name in FIELDS] == [
        CallStatus.FAILED, None, None, [], {}, None, ""]
    assert stored[untouched.pk].status == CallStatus.PENDING
    assert update_rows([], FIELDS) == 0


def test_inserted_rows_get_their_generated_keys_timestamps_and_values(make_user) -> None:
    owner = make_user()
    calls = [Call(owner=owner, to_number=f"+1212555020{n}", max_duration=5, metadata={"row": n, "q": "it's"},
                  provider_price=Decimal("0.0500") if n else None) for n in range(3)]
    insert_rows(calls)
    events = [CallEvent(call=call, source="poller", from_status="pending", to_status="queued", payload={"n": n})
              for n, call in enumerate(calls)]
    insert_rows(events)
    assert all(event.pk is not None for event in events)
    stored = {event.pk: event for event in CallEvent.objects.filter(pk__in=[event.pk for event in events])}
    assert [(stored[event.pk].call_id, stored[event.pk].payload) for event in events] == [
        (call.pk, {"n": n}) for n, call in enumerate(calls)]
    assert all(stored[event.pk].created_at is not None for event in events)
    again = {call.pk: call for call in Call.objects.filter(pk__in=[call.pk for call in calls])}
    assert [(again[call.pk].metadata, again[call.pk].provider_price, again[call.pk].status) for call in calls] == [
        ({"row": 0, "q": "it's"}, None, CallStatus.PENDING), ({"row": 1, "q": "it's"}, Decimal("0.0500"), "pending"),
        ({"row": 2, "q": "it's"}, Decimal("0.0500"), "pending")]
    assert all(again[call.pk].created_at is not None and again[call.pk].updated_at is not None for call in calls)
