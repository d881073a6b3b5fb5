"""What one poller pass does for calls whose webhooks never came: they reach their final state through
``calls.services`` (events, credits), each asked about once, and only when the provider's list shows
that something changed."""

from __future__ import annotations

from decimal import Decimal

from calls.models import Call, CallEvent, CallStatus, EventSource, PollRun, PollRunStatus
from tests.calls.poller.conftest import FINAL, place, run_pass, settled_once


def test_a_pass_brings_every_call_whose_webhook_was_lost_to_its_final_state_and_settles_it_once(sim, owner):
    placed = {scenario: place(owner, 4, scenario) for scenario in FINAL}
    sim.advance(120)

    summary = run_pass(sim)

    assert summary.status == PollRunStatus.SUCCEEDED
    assert (summary.counts.processed, summary.counts.changed, summary.counts.failed) == (20, 20, 0)
    assert (summary.counts.list_requests, summary.counts.detail_requests) == (1, 20)
    for scenario, calls in placed.items():
        for call in calls:
            call.refresh_from_db()
            assert call.status == FINAL[scenario], (scenario, call.status)
            assert call.poll_attempts == 1
            assert call.last_polled_at is not None
            assert settled_once(call)
            assert CallEvent.objects.filter(call=call, source=EventSource.POLLER, to_status=call.status).count() == 1
    human = placed["human"][0]
    assert human.duration_seconds == 45
    assert human.provider_price == Decimal("0.0675")  # 45 s at the enterprise plan's $0.09 a minute
    assert human.cost_credits == 7  # rounded up to cents
    assert human.transcript
    assert human.summary

    again = run_pass(sim)
    assert (again.counts.list_requests, again.counts.detail_requests, again.counts.processed) == (0, 0, 0)


def test_only_calls_whose_listed_state_changed_are_asked_about(sim, owner):
    short = place(owner, 5, "human")
    long = place(owner, 5, "long")  # ten-minute calls
    sim.advance(120)  # the short ones ended; the long ones are talking

    first = run_pass(sim)
    assert (first.counts.listed, first.counts.detail_requests) == (10, 10)
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in long])} == {CallStatus.IN_PROGRESS}

    second = run_pass(sim)  # nothing moved: the list says so, and no details are fetched
    assert second.counts.detail_requests == 0
    assert second.counts.confirmed == 5
    assert second.counts.list_requests == 1

    sim.advance(600)
    third = run_pass(sim)
    assert third.counts.detail_requests == 5
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in short + long])} == {CallStatus.COMPLETED}
    assert PollRun.objects.filter(status=PollRunStatus.SUCCEEDED).count() == 3


def test_without_the_list_every_call_in_flight_is_asked_about_one_by_one(sim, owner):
    calls = place(owner, 6, "long")
    sim.advance(30)

    first = run_pass(sim, use_list=False)
    second = run_pass(sim, use_list=False)

    assert (first.counts.list_requests, first.counts.detail_requests) == (0, 6)
    assert (second.counts.detail_requests, second.counts.changed) == (6, 0)
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls])} == {CallStatus.IN_PROGRESS}


def test_a_dry_run_reports_what_would_change_and_changes_nothing(sim, owner):
    calls = place(owner, 3, "human")
    sim.advance(120)

    summary = run_pass(sim, dry_run=True)

    assert summary.status == "dry_run"
    assert (summary.counts.detail_requests, summary.counts.changed) == (3, 3)
    assert not PollRun.objects.exists()
    for call in calls:
        call.refresh_from_db()
        assert (call.status, call.poll_attempts, call.last_polled_at) == (CallStatus.QUEUED, 0, None)
