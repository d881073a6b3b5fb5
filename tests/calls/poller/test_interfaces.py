"""The poller's interfaces: the Lambda handler (in-process with a context object, and under the real
Runtime Interface Emulator), the Celery task, ``poll_calls --health``, ``/readyz`` and the run's metrics
in CloudWatch (moto server)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace

import boto3
import httpx
import pytest
from django.core.management import call_command

from calls.models import Call, CallStatus, PollRun, PollRunStatus
from calls.tasks import poll_calls_task
from config import metrics
from tests.aws.conftest import CREDENTIALS
from tests.calls.poller.conftest import ROOT, later, place, run_pass, runner_env
from tests.servers import free_port

HANDLER = ROOT / "deploy" / "lambda" / "handler.py"
RIE = Path(os.environ.get("CALLMCP_RIE", Path.home() / ".cache" / "callmcp-rie" / "aws-lambda-rie-x86_64"))


def lambda_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("poller_lambda_handler", HANDLER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context(remaining_ms: int) -> SimpleNamespace:
    return SimpleNamespace(aws_request_id="request-1", get_remaining_time_in_millis=lambda: remaining_ms)


# --- Lambda -----------------------------------------------------------------------------------------------------


def test_the_lambda_handler_runs_a_pass_within_the_invocations_time_and_returns_its_summary(sim, owner):
    calls = place(owner, 4)
    sim.advance(120)
    handler = lambda_handler()

    answer = handler.handler({"options": {"batch_size": 2}}, context(15 * 60 * 1000))

    assert answer["ok"] is True
    assert (answer["status"], answer["trigger"]) == ("succeeded", "lambda")
    assert (answer["processed"], answer["changed"]) == (4, 4)
    assert answer["budget_seconds"] == 300  # five of the fifteen minutes
    assert answer["request_id"] == "request-1"
    assert PollRun.objects.get().trigger == "lambda"
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls])} == {CallStatus.COMPLETED}


def test_the_lambda_budget_keeps_a_safety_margin_and_bad_events_get_a_clear_answer(sim, owner):
    handler = lambda_handler()

    short = handler.handler({}, context(45_000))
    too_late = handler.handler({}, context(20_000))
    bad = handler.handler({"options": {"batch_size": "many"}}, context(900_000))
    scheduled = handler.handler({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events"},
                                context(900_000))

    assert (short["ok"], short["budget_seconds"]) == (True, 15)
    assert too_late == {"ok": False, "status": "no_time",
                        "error": "the invocation has too little time left for a pass"}
    assert bad == {"ok": False, "status": "invalid_event", "error": "options.batch_size must be a positive number"}
    assert (scheduled["ok"], scheduled["status"]) == (True, "succeeded")


@pytest.mark.postgres
def test_the_lambda_handler_answers_under_the_runtime_interface_emulator(sim, owner):
    assert RIE.exists(), f"the Lambda Runtime Interface Emulator is missing at {RIE}: run tests/lambda/rie.sh"
    calls = place(owner, 3)
    sim.advance(120)
    port, api_port = free_port(), free_port()
    env = runner_env(sim, AWS_LAMBDA_FUNCTION_TIMEOUT="60", PYTHONPATH=str(ROOT))
    emulator = subprocess.Popen(  # noqa: S603 - the emulator from the aws-sam-cli wheel, on loopback only
        [shutil.which("timeout") or "/usr/bin/timeout", "120", str(RIE),
         "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address", f"127.0.0.1:{api_port}",
         sys.executable, "-m", "awslambdaric", "handler.handler"],
        cwd=HANDLER.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None:
            try:
                answer = httpx.post(url, json={"options": {"batch_size": 2}}, timeout=60)
            except httpx.TransportError:
                assert emulator.poll() is None, "the emulator exited"
                assert time.monotonic() < deadline, "the emulator did not start in time"
                time.sleep(0.2)
        summary = answer.json()
    finally:
        emulator.terminate()
        output = emulator.communicate(timeout=30)[0]

    assert answer.status_code == 200, output
    assert (summary["ok"], summary["status"], summary["processed"]) == (True, "succeeded", 3), output
    assert summary["budget_seconds"] <= 30  # a 60 s function timeout, less the 30 s margin
    assert "START RequestId" in output
    assert "END RequestId" in output
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls])} == {CallStatus.COMPLETED}


# --- Celery ---------------------------------------------------------------------------------------------------


def test_the_celery_task_runs_the_same_pass(sim, owner):
    (call,) = place(owner, 1)
    sim.advance(120)

    # (another test module may have started an in-process worker, which makes Celery refuse get() by default)
    summary = poll_calls_task.delay().get(timeout=60, disable_sync_subtasks=False)

    assert (summary["status"], summary["trigger"], summary["changed"]) == ("succeeded", "celery", 1)
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED


def test_beat_runs_the_poller_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["poll-calls"]
    assert (entry["task"], entry["schedule"]) == ("calls.poll_calls", 60.0)
    assert entry["options"]["expires"] < 60


@pytest.mark.postgres
def test_without_a_broker_celery_beat_runs_the_poller_itself_and_a_call_whose_webhook_was_lost_ends(
        sim, owner, tmp_path):
    (call,) = place(owner, 1)
    sim.advance(120)
    env = runner_env(sim, CELERY_TASK_ALWAYS_EAGER="true", POLLER_BEAT_SECONDS="1")
    beat = subprocess.Popen(  # noqa: S603 - Celery beat as make run starts it on the embedded defaults
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--schedule",
         str(tmp_path / "schedule")], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not PollRun.objects.filter(trigger="celery", status=PollRunStatus.SUCCEEDED, changed=1).exists():
            assert beat.poll() is None, "beat exited"
            assert time.monotonic() < deadline, "beat did not run the poller"
            time.sleep(0.2)
    finally:
        beat.terminate()
        output = beat.communicate(timeout=30)[0]
    assert "Sending due task poll-calls (calls.poll_calls)" in output
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED


# --- health ---------------------------------------------------------------------------------------------------


def _health(capsys) -> tuple[int, dict]:  # noqa: ANN001
    try:
        call_command("poll_calls", "--health")
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, json.loads(capsys.readouterr().out)


def test_health_fails_without_a_recent_successful_run_or_with_an_overdue_call(sim, owner, settings, capsys):
    assert _health(capsys)[0] == 0  # nothing in flight: nothing to keep up with
    place(owner, 2, "long", max_duration=1)
    code, report = _health(capsys)
    assert code == 2
    assert report["problems"] == ["no run has succeeded yet (limit 900 s) with 2 call(s) in flight"]

    run_pass(sim)
    code, report = _health(capsys)
    assert (code, report["healthy"], report["in_flight"]) == (0, True, 2)

    settings.POLLER_HEALTH_MAX_LAG_SECONDS = 0
    Call.objects.update(created_at=datetime.now(UTC) - timedelta(minutes=3))  # a one-minute call, 2 min overdue
    code, report = _health(capsys)
    assert code == 2
    assert report["problems"][0].startswith("the most overdue call in flight is 1")
    assert 110 < report["lag_seconds"] < 200

    PollRun.objects.update(finished_at=datetime.now(UTC) - timedelta(hours=1))
    settings.POLLER_HEALTH_MAX_LAG_SECONDS = 3600
    code, report = _health(capsys)
    assert code == 2
    assert report["problems"][0].startswith("the last successful run was 36")


def test_readyz_includes_the_poller_when_asked(sim, owner, settings, client):
    assert "poller" not in client.get("/readyz").json()["checks"]
    settings.READYZ_INCLUDE_POLLER = True
    place(owner, 1)
    refused = client.get("/readyz")
    assert refused.status_code == 503
    assert refused.json()["checks"]["poller"] == "failed"
    assert "no run has succeeded yet" in refused.json()["errors"]["poller"]
    run_pass(sim)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["poller"] == "ok"


# --- metrics --------------------------------------------------------------------------------------------------


def _sum(endpoint: str, name: str) -> float:
    now = datetime.now(tz=UTC)
    points = boto3.client("cloudwatch", endpoint_url=endpoint, **CREDENTIALS).get_metric_statistics(
        Namespace="callmcp", MetricName=name, StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1),
        Period=60, Statistics=["Sum"])["Datapoints"]
    return sum(point["Sum"] for point in points)


def test_each_run_logs_one_structured_line_and_sends_its_metrics_to_cloudwatch(sim, owner, aws, caplog):
    previous = metrics.set_recorder(metrics.Recorder(metrics.CloudWatchSink(), background=False))
    try:
        place(owner, 3)
        place(owner, 2, "busy")
        sim.advance(120)
        with caplog.at_level("INFO", logger="calls.poller"):
            summary = run_pass(sim, clock=later(seconds=0))
    finally:
        metrics.set_recorder(previous)

    lines = [r for r in caplog.records if r.name == "calls.poller" and r.getMessage().startswith("poll_calls run ")]
    assert len(lines) == 1
    logged = json.loads(lines[0].getMessage().removeprefix("poll_calls run "))
    assert logged == summary.as_dict()
    assert lines[0].poller["processed"] == 5
    assert {key: _sum(aws, key) for key in ("PollerRuns", "PollerCallsProcessed", "PollerCallsChanged",
                                              "PollerCallsFailed", "PollerProviderRequests")} == {
        "PollerRuns": 1, "PollerCallsProcessed": 5, "PollerCallsChanged": 5, "PollerCallsFailed": 0,
        "PollerProviderRequests": 6}
    assert _sum(aws, "PollerRunDuration") > 0
    assert PollRun.objects.get().status == PollRunStatus.SUCCEEDED
