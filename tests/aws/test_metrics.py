"""Application metrics (config.metrics): the embedded metric format CloudWatch Logs extracts, and
PutMetricData against CloudWatch (moto server), through the one interface the service uses."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import metrics
from tests.aws.conftest import client

WINDOW = {"Period": 60, "Statistics": ["Sum", "SampleCount", "Maximum"]}


def _statistics(endpoint: str, name: str, dimensions: list[dict[str, str]] | None = None) -> dict:
    now = datetime.now(tz=UTC)
    answer = client("cloudwatch", endpoint).get_metric_statistics(
        Namespace="callmcp", MetricName=name, Dimensions=dimensions or [],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), **WINDOW,
    )
    points = answer["Datapoints"]
    return {
        "Sum": sum(point["Sum"] for point in points),
        "SampleCount": sum(point["SampleCount"] for point in points),
        "Maximum": max((point["Maximum"] for point in points), default=None),
    }


def test_emf_lines_declare_namespace_dimensions_and_units_as_cloudwatch_expects():
    out = io.StringIO()
    recorder = metrics.Recorder(metrics.EmfSink(lambda: out), clock=lambda: 1_700_000_000.5, background=False)
    recorder.put(metrics.MCP_TOOL_CALLS, 1, Tool="makePhoneCall")
    recorder.put(metrics.MCP_TOOL_CALLS, 1, Tool="makePhoneCall")
    recorder.put(metrics.MCP_TOOL_CALLS, 1, Tool="getCallDetails")
    recorder.put(metrics.POLLER_LAG_SECONDS, 42.5)
    assert out.getvalue() == ""  # buffered until flushed
    recorder.flush()

    documents = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(documents) == 3
    for document in documents:
        assert document["_aws"]["Timestamp"] == 1_700_000_000_500
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "callmcp"
        for dimension_set in directive["Dimensions"]:
            assert all(name in document for name in dimension_set)  # every dimension is a member
        for metric in directive["Metrics"]:
            assert metric["Name"] in document
    by_key = {(d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], d.get("Tool")): d for d in documents}
    assert by_key[("McpToolCalls", "makePhoneCall")]["McpToolCalls"] == [1.0, 1.0]
    assert by_key[("McpToolCalls", "getCallDetails")]["McpToolCalls"] == 1.0
    lag = by_key[("PollerLagSeconds", None)]
    assert lag["PollerLagSeconds"] == 42.5
    assert lag["_aws"]["CloudWatchMetrics"][0] == {
        "Namespace": "callmcp", "Dimensions": [[]], "Metrics": [{"Name": "PollerLagSeconds", "Unit": "Seconds"}],
    }
    recorder.flush()
    assert len(out.getvalue().splitlines()) == 3  # a flush sends each value once


def test_emf_splits_more_than_a_hundred_values_into_several_documents():
    out = io.StringIO()
    recorder = metrics.Recorder(metrics.EmfSink(lambda: out), background=False)
    for value in range(250):
        recorder.put(metrics.SHEETS_ROWS_SYNCED, value)
    recorder.flush()
    documents = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [len(document["SheetsRowsSynced"]) for document in documents] == [100, 100, 50]


@pytest.mark.parametrize(
    ("metric", "value", "dimensions", "error"),
    [
        (metrics.Metric("NoSuchMetric", "Count", (), ""), 1, {}, "not declared"),
        (metrics.MCP_TOOL_CALLS, 1, {}, "takes dimensions ['Tool']"),
        (metrics.POLLER_LAG_SECONDS, 1, {"Tool": "x"}, "takes dimensions []"),
        (metrics.POLLER_LAG_SECONDS, float("nan"), {}, "non-finite"),
    ],
)
def test_an_undeclared_metric_or_wrong_dimensions_are_refused(metric, value, dimensions, error):
    recorder = metrics.Recorder(metrics.NullSink(), background=False)
    with pytest.raises(metrics.MetricError, match=re.escape(error)):
        recorder.put(metric, value, **dimensions)


def test_put_metric_data_reaches_cloudwatch_with_sums_counts_and_dimensions(aws):
    recorder = metrics.Recorder(metrics.CloudWatchSink(), background=False)
    for _ in range(3):
        recorder.put(metrics.MCP_TOOL_CALLS, 1, Tool="makePhoneCall")
    for value in (5, 5, 9):
        recorder.put(metrics.SHEETS_BACKLOG_ROWS, value)
    recorder.flush()

    assert _statistics(aws, "McpToolCalls", [{"Name": "Tool", "Value": "makePhoneCall"}])["Sum"] == 3
    backlog = _statistics(aws, "SheetsBacklogRows")
    assert backlog == {"Sum": 19, "SampleCount": 3, "Maximum": 9}
    listed = client("cloudwatch", aws).list_metrics(Namespace="callmcp")["Metrics"]
    assert {metric["MetricName"] for metric in listed} == {"McpToolCalls", "SheetsBacklogRows"}


def test_the_settings_choose_the_backend_and_the_flusher_sends_without_an_explicit_flush(aws, settings):
    settings.METRICS_BACKEND = "cloudwatch"
    settings.METRICS_FLUSH_SECONDS = 1
    previous = metrics.set_recorder(metrics.recorder_from_settings())
    try:
        metrics.put(metrics.POLLER_RUNS, 1)
        deadline = time.monotonic() + 30
        while _statistics(aws, "PollerRuns")["Sum"] != 1:
            assert time.monotonic() < deadline, "the background flusher never sent the metric"
            time.sleep(0.2)
    finally:
        metrics.set_recorder(previous)


def test_an_unreachable_cloudwatch_drops_the_batch_with_a_warning_and_never_raises(monkeypatch, caplog):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    recorder = metrics.Recorder(metrics.CloudWatchSink(), background=False)
    recorder.put(metrics.CALLS_PLACED, 1)
    recorder.flush()
    assert "metrics: could not send 1 metric series to CloudWatchSink" in caplog.text


def test_an_unknown_backend_is_refused_at_startup_naming_it(settings):
    settings.METRICS_BACKEND = "statsd"
    with pytest.raises(metrics.MetricError, match="METRICS_BACKEND must be one of"):
        metrics.recorder_from_settings()


def test_a_placed_and_settled_call_counts_one_placement_and_its_credit_spend(transactional_db, make_user):
    from calls import services
    from calls.models import CallStatus
    from calls.providers.bland import BlandClient
    from calls.providers.simulator import BackgroundSimulator

    out = io.StringIO()
    previous = metrics.set_recorder(metrics.Recorder(metrics.EmfSink(lambda: out), background=False))
    try:
        with BackgroundSimulator(time_scale=0, public_url="http://127.0.0.1:9") as sim:
            provider = BlandClient(base_url=sim.url, api_key="sim-key", retries=0)
            user = make_user(credits=1_000)
            call = services.call_place(provider=provider, user=user, to_number="+12125550100",
                                       task="Confirm the delivery", max_duration=3)
            sim.advance(120)
            call = services.call_refresh(provider=provider, call=call)
            provider.close()
        assert call.status == CallStatus.COMPLETED
        metrics.flush()
    finally:
        metrics.set_recorder(previous)
    totals: dict[str, float] = {}
    for document in map(json.loads, out.getvalue().splitlines()):
        name = document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
        values = document[name] if isinstance(document[name], list) else [document[name]]
        totals[name] = totals.get(name, 0) + sum(values)
    assert totals["CallsPlaced"] == 1
    assert totals["CreditsSpent"] == call.cost_credits > 0


def test_every_declared_metric_is_documented_for_operators():
    readme = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text()
    for metric in metrics.CATALOGUE.values():
        row = f"| `{metric.name}` | {metric.unit} | {', '.join(metric.dimensions) or '-'} |"
        assert row in readme, f"deploy/README.md does not list {metric.name} as {row}"
