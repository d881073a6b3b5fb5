"""When the provider fails: calls that keep failing back off, then go to the dead letters (table and SQS)
and can be retried from admin; a 429 slows every worker down without failing anyone; without the list
every call is asked about one by one."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import httpx
from django.utils import timezone

from calls.models import Call, CallStatus, DeadLetterStatus, PollDeadLetter, PollRun
from tests.aws.conftest import CREDENTIALS
from tests.calls.poller.conftest import control, later, place, run_pass


def test_calls_that_keep_failing_back_off_then_are_dead_lettered_to_sqs_and_retried_from_admin(
        sim, owner, aws, settings, admin_client):
    sqs = boto3.client("sqs", endpoint_url=aws, **CREDENTIALS)
    queue_url = sqs.create_queue(QueueName="poller-dead-letters")["QueueUrl"]
    settings.POLLER_DLQ_URL, settings.AWS_ENDPOINT_URL = queue_url, aws
    settings.POLLER_MAX_FAILURES, settings.POLLER_BACKOFF_SECONDS = 3, 30
    calls = place(owner, 6)
    broken = calls[:2]
    sim.advance(120)
    control(sim, "faults", {"fail_details": [c.provider_call_id for c in broken]})

    first = run_pass(sim)
    assert (first.counts.changed, first.counts.failed, first.counts.dead_lettered) == (4, 2, 0)
    call = Call.objects.get(pk=broken[0].pk)
    assert (call.status, call.poll_failures) == (CallStatus.QUEUED, 1)
    assert "provider_unavailable" in call.last_poll_error
    assert timezone.now() + timedelta(seconds=20) < call.next_poll_at <= timezone.now() + timedelta(seconds=30)

    backing_off = run_pass(sim)  # within the backoff: not asked about
    assert backing_off.counts.detail_requests == 0
    second = run_pass(sim, clock=later(seconds=31))
    assert (second.counts.detail_requests, second.counts.failed) == (2, 2)
    assert Call.objects.get(pk=broken[0].pk).poll_failures == 2
    assert run_pass(sim, clock=later(seconds=31 + 59)).counts.detail_requests == 0  # 60 s after the second
    third = run_pass(sim, clock=later(seconds=31 + 61))
    assert (third.counts.failed, third.counts.dead_lettered) == (2, 2)

    letters = PollDeadLetter.objects.filter(status=DeadLetterStatus.OPEN).order_by("call__to_number")
    assert [letter.call_id for letter in letters] == [c.pk for c in broken]
    assert all(letter.failures == 3 and "provider_unavailable" in letter.last_error for letter in letters)
    assert all(letter.sqs_message_id for letter in letters)
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = sorted((json.loads(m["Body"]) for m in received), key=lambda body: body["call_id"])
    assert [b["call_id"] for b in bodies] == sorted(str(c.pk) for c in broken)
    assert {b["type"] for b in bodies} == {"callmcp.poller.dead_letter"}
    assert {b["failures"] for b in bodies} == {3}
    assert run_pass(sim, clock=later(hours=3)).counts.detail_requests == 0  # dead letters wait for a person

    changelist = admin_client.get("/admin/calls/polldeadletter/")
    assert changelist.status_code == 200
    assert str(broken[0].pk) in changelist.content.decode()
    control(sim, "faults", {"fail_details": []})
    answer = admin_client.post("/admin/calls/polldeadletter/", {
        "action": "retry", "_selected_action": [letter.pk for letter in letters]}, follow=True)
    assert answer.status_code == 200
    assert "Retried 2 call(s)." in answer.content.decode()
    for call in Call.objects.filter(pk__in=[c.pk for c in broken]):
        assert (call.status, call.poll_failures) == (CallStatus.COMPLETED, 0)
    assert set(PollDeadLetter.objects.values_list("status", flat=True)) == {DeadLetterStatus.RESOLVED}


def test_a_retry_that_fails_again_says_so_and_leaves_the_call_to_the_next_pass(sim, owner, settings, admin_client):
    settings.POLLER_MAX_FAILURES, settings.POLLER_BACKOFF_SECONDS = 1, 30
    (call,) = place(owner, 1)
    sim.advance(120)
    control(sim, "faults", {"fail_details": [call.provider_call_id]})
    assert run_pass(sim).counts.dead_lettered == 1
    letter = PollDeadLetter.objects.get()

    answer = admin_client.post("/admin/calls/polldeadletter/", {"action": "retry", "_selected_action": [letter.pk]},
                               follow=True)

    assert "The poller tries it again on its next pass." in answer.content.decode()
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.RETRIED
    control(sim, "faults", {"fail_details": []})
    assert run_pass(sim).counts.changed == 1  # backoff and failures were reset: polled at once
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.RESOLVED
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED


def test_the_providers_429_slows_every_worker_down_and_fails_no_call(sim, owner):
    calls = place(owner, 12)
    sim.advance(120)
    control(sim, "faults", {"rate_limit_rps": 2, "retry_after": 1})  # far below what four workers ask

    summary = run_pass(sim, rate=100, concurrency=4)

    refused = httpx.get(f"{sim.url}/_sim/requests", timeout=10).json()["rate_limited"]
    assert summary.counts.rate_limited == refused > 0
    assert (summary.counts.processed, summary.counts.changed, summary.counts.failed) == (12, 12, 0)
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls])} == {CallStatus.COMPLETED}


def test_when_the_list_fails_every_call_in_flight_is_asked_about_and_the_run_says_why(sim, owner):
    calls = place(owner, 5) + place(owner, 3, "long")
    sim.advance(120)
    control(sim, "faults", {"list_disabled": True})

    summary = run_pass(sim)

    assert (summary.counts.list_requests, summary.counts.detail_requests, summary.counts.changed) == (1, 8, 8)
    run = PollRun.objects.get()
    assert run.cursor == {"phase": "direct", "list_ok": False}
    assert [error["where"] for error in run.errors] == ["list"]
    assert "provider_not_found" in run.errors[0]["error"]
    statuses = [c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls]).order_by("to_number")]
    assert statuses.count(CallStatus.COMPLETED) == 5
    assert statuses.count(CallStatus.IN_PROGRESS) == 3
