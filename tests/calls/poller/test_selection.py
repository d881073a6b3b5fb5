"""Which calls a pass takes up, and in what order: overdue and long-running calls first, just-placed
calls after the grace period, scheduled calls once they are due."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, EventSource
from tests.calls.poller.conftest import later, place, run_pass


def test_calls_asked_about_one_by_one_go_most_overdue_first(sim, owner):
    short, medium, long = (place(owner, 2, max_duration=minutes, area=area)[0:2]
                           for minutes, area in ((1, "212"), (5, "646"), (10, "718")))
    sim.advance(700)

    summary = run_pass(sim, use_list=False, concurrency=1, batch_size=1, clock=later(hours=1))

    assert summary.counts.processed == 6
    order = list(CallEvent.objects.filter(source=EventSource.POLLER).order_by("id").values_list("call_id", flat=True))
    assert order[:2] == [c.pk for c in short]  # due to end first: the most overdue an hour later
    assert set(order[2:4]) == {c.pk for c in medium}
    assert set(order[4:]) == {c.pk for c in long}


def test_just_placed_calls_wait_for_the_grace_period(sim, owner, settings):
    settings.POLLER_GRACE_SECONDS = 20
    calls = place(owner, 3)
    sim.advance(120)

    assert run_pass(sim).counts.detail_requests == 0
    assert run_pass(sim, use_list=False).counts.detail_requests == 0
    after_grace = run_pass(sim, clock=later(seconds=21))

    assert after_grace.counts.changed == 3
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls])} == {CallStatus.COMPLETED}


def test_a_scheduled_call_is_left_alone_until_it_is_due(sim, owner):
    (call,) = place(owner, 1, start_time=timezone.now() + timedelta(minutes=10))
    assert call.status == CallStatus.SCHEDULED

    assert run_pass(sim).counts.detail_requests == 0
    assert run_pass(sim, use_list=False).counts.detail_requests == 0
    sim.advance(15 * 60)
    due = run_pass(sim, use_list=False, clock=later(minutes=15))

    assert due.counts.changed == 1
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED


def test_an_overdue_call_the_list_keeps_quiet_about_is_asked_about_directly(sim, owner, settings):
    settings.POLLER_LIST_OVERLAP_SECONDS = 0
    (call,) = place(owner, 1, "long", max_duration=2)  # ten minutes planned, cut at two by max_duration
    sim.advance(30)
    assert run_pass(sim, clock=later(hours=1)).counts.changed == 1  # talking; the next list starts an hour on
    sim.advance(600)  # it ended, before the next pass's list window: the list will not show it again
    quiet = run_pass(sim, clock=later(hours=2))

    assert quiet.counts.list_requests == 1
    assert quiet.counts.listed == 0
    assert quiet.counts.detail_requests == 1
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED
