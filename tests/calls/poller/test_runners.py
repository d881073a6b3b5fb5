"""Runner processes (``manage.py poll_calls``): one at a time across hosts, resumable after kill -9, and
within their time budget. The provider is slowed down (simulator latency) so a pass takes seconds."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, EventSource, PollRun, PollRunStatus
from tests.calls.poller.conftest import WAIT, control, place, runner_env, settled_once, start_runner, wait_until

LOCKED_LINE = "another runner holds the poller lock"


def _output(process) -> str:  # noqa: ANN001
    out, _ = process.communicate(timeout=WAIT)
    return out


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("lock", ["postgres", "postgres_xact", "redis"])
def test_two_runners_started_together_one_polls_the_other_exits_at_once_and_no_call_is_polled_twice(
        sim, owner, lock):
    calls = place(owner, 40)
    sim.advance(120)
    control(sim, "faults", {"latency_ms": 100})  # 40 calls, 2 at a time: about two seconds of work
    env = runner_env(sim, POLLER_LOCK=lock, POLLER_CONCURRENCY="2", POLLER_BATCH_SIZE="10")

    first, second = start_runner(env, "--once"), start_runner(env, "--once")
    outputs = [_output(first), _output(second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    locked = [out for out in outputs if LOCKED_LINE in out]
    assert len(locked) == 1, outputs
    assert f"({lock})" in locked[0]
    assert PollRun.objects.count() == 1
    run = PollRun.objects.get()
    assert (run.status, run.processed, run.detail_requests) == (PollRunStatus.SUCCEEDED, 40, 40)
    for call in Call.objects.filter(pk__in=[c.pk for c in calls]):
        assert call.status == CallStatus.COMPLETED
        assert call.poll_attempts == 1
        assert CallEvent.objects.filter(call=call, source=EventSource.POLLER).count() == 1
    asked = httpx.get(f"{sim.url}/_sim/requests", timeout=10).json()
    assert (asked["details"], asked["details_calls"], asked["details_repeated"]) == (40, 40, 0)


@pytest.mark.postgres
def test_a_runner_killed_mid_pass_is_resumed_from_its_checkpoint_and_every_call_settles_exactly_once(sim, owner):
    calls = place(owner, 60) + place(owner, 20, "busy")
    sim.advance(120)
    control(sim, "faults", {"latency_ms": 150})
    env = runner_env(sim, POLLER_CONCURRENCY="2", POLLER_BATCH_SIZE="10")

    doomed = start_runner(env, "--once")
    wait_until(lambda: PollRun.objects.filter(processed__gte=20).exists(),
               message="the first runner saved no checkpoint")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=WAIT)
    killed = PollRun.objects.get()
    assert killed.status == PollRunStatus.RUNNING
    assert killed.cursor.get("phase") == "list"
    done_before = Call.objects.filter(pk__in=[c.pk for c in calls], status__in=[CallStatus.COMPLETED,
                                                                                 CallStatus.BUSY]).count()
    assert 20 <= done_before < 80

    control(sim, "faults", {"latency_ms": 0})
    survivor = start_runner(env, "--once")
    output = _output(survivor)

    assert survivor.returncode == 0, output
    killed.refresh_from_db()
    resumed = PollRun.objects.exclude(pk=killed.pk).get()
    assert killed.status == PollRunStatus.INTERRUPTED
    assert (resumed.status, resumed.resumed_from_id, resumed.pass_id) == (PollRunStatus.SUCCEEDED, killed.pk,
                                                                          killed.pass_id)
    # Only what the killed runner had not finished: a call it had applied but not yet marked done (at most one
    # per worker) is asked about once more, which changes nothing.
    assert 80 - done_before <= resumed.processed <= 80 - done_before + 2
    for call in Call.objects.filter(pk__in=[c.pk for c in calls]):
        assert call.status in (CallStatus.COMPLETED, CallStatus.BUSY)
        assert settled_once(call)
        assert CallEvent.objects.filter(call=call, source=EventSource.POLLER).count() == 1


def test_a_run_with_a_five_second_budget_over_more_work_stops_in_time_and_the_next_run_resumes(
        sim, owner, capsys, settings):
    settings.POLLER_CONCURRENCY = 2
    calls = place(owner, 80)
    sim.advance(120)
    control(sim, "faults", {"latency_ms": 250})  # 80 calls, 2 at a time: ten seconds of work

    began = time.monotonic()
    call_command("poll_calls", "--once", "--max-seconds", "5", "--batch-size", "10")
    elapsed = time.monotonic() - began
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    run = PollRun.objects.get(pk=first["run_id"])
    assert run.status == PollRunStatus.PARTIAL
    assert first["status"] == "partial"
    assert 0 < run.processed < 80
    assert run.cursor == {"phase": "list", "position": 0}
    assert run.finished_at is not None
    assert run.checkpoint_at is not None
    # No request started after the budget; what was in flight finished and the record was written. The bound
    # is loose because the machine may be slow; the work itself would have needed twice the budget.
    assert first["duration_seconds"] < 5 + 10, f"the pass took {first['duration_seconds']:.1f} s for a 5 s budget"
    assert elapsed < 5 + 20
    assert Call.objects.filter(pk__in=[c.pk for c in calls], status=CallStatus.COMPLETED).count() == run.processed

    control(sim, "faults", {"latency_ms": 0})
    call_command("poll_calls", "--once", "--max-seconds", "60")
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (second["status"], second["resumed"], second["processed"]) == ("succeeded", True, 80 - run.processed)
    assert Call.objects.filter(pk__in=[c.pk for c in calls], status=CallStatus.COMPLETED).count() == 80


def test_without_once_passes_repeat_at_the_interval_until_the_budget_is_spent(sim, owner, capsys):
    place(owner, 2)
    sim.advance(120)

    call_command("poll_calls", "--max-seconds", "4", "--interval", "1")

    summaries = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(summaries) >= 2
    assert {s["status"] for s in summaries} == {"succeeded"}
    assert summaries[0]["changed"] == 2
    assert all(s["changed"] == 0 for s in summaries[1:])


def test_run_records_older_than_a_week_are_deleted(sim, settings):
    old = PollRun.objects.create(started_at=timezone.now() - timedelta(days=9), pass_started_at=timezone.now(),
                                 finished_at=timezone.now() - timedelta(days=8), status=PollRunStatus.SUCCEEDED)
    call_command("poll_calls", "--once")
    assert not PollRun.objects.filter(pk=old.pk).exists()
    assert PollRun.objects.count() == 1
