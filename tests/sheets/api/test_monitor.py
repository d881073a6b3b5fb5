"""The usage monitor: per-minute figures per account and project, the usage alert, the admin snapshot."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
import redis

from config import metrics
from sheets_sync.breaker import BreakerSettings, CircuitBreaker, MemoryBreakerStore
from sheets_sync.monitor import SheetsMonitor
from sheets_sync.quota import MemoryQuotaStore, QuotaGate, QuotaLimits, RedisQuotaStore
from tests.sheets.api.conftest import CLOSED_PORT_URL


@pytest.fixture
def emitted():
    """The metrics the code puts, as CloudWatch would get them (the EMF sink writing to a buffer)."""
    out = io.StringIO()
    previous = metrics.set_recorder(metrics.Recorder(metrics.EmfSink(lambda: out), background=False))

    def read() -> dict[str, list[float]]:
        metrics.flush()
        values: dict[str, list[float]] = {}
        for document in map(json.loads, out.getvalue().splitlines()):
            name = document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
            value = document[name]
            values.setdefault(name, []).extend(value if isinstance(value, list) else [value])
        return values

    yield read
    metrics.set_recorder(previous)


@pytest.fixture(params=["redis", "memory"])
def setup(request, clock, pool):
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        prefix = request.getfixturevalue("prefix")
        store = RedisQuotaStore(client, f"{prefix}:quota")
    else:
        client, prefix, store = None, f"memory-{uuid.uuid4().hex}", MemoryQuotaStore(clock)
    gate = QuotaGate(pool, store, limits=QuotaLimits(write_user=10, write_project=20), clock=clock)
    breaker = CircuitBreaker(MemoryBreakerStore(clock), BreakerSettings(failures=1), clock=clock)

    def monitor() -> SheetsMonitor:
        return SheetsMonitor(client, gate=gate, breaker=breaker, alert_ratio=0.8, clock=clock,
                             prefix=f"{prefix}:monitor")

    return gate, breaker, monitor


def test_the_snapshot_counts_requests_per_account_and_project_rows_and_429s(setup, pool):
    gate, _, make_monitor = setup
    monitor, other_process = make_monitor(), make_monitor()
    for number in range(3):
        grant = gate.take("write", pool[number % 2])
        (monitor if number else other_process).record_request(kind="write", account=grant.account.email,
                                                              outcome="ok", rows=100, grant=grant)
    grant = gate.take("read", pool[0])
    monitor.record_request(kind="read", account=grant.account.email, outcome="429", grant=grant)

    snapshot = monitor.snapshot()
    minute = snapshot["this_minute"]
    assert minute["requests"]["write"]["project"] == 3
    assert minute["requests"]["write"]["accounts"] == {pool[0].email: 2, pool[1].email: 1}
    assert minute["requests"]["read"]["outcomes"] == {"429": 1}
    assert minute["rows"] == 300
    assert minute["throttled"] == 1
    assert snapshot["breaker"] == "closed"
    quota = {(entry["kind"], entry["name"]): entry for entry in snapshot["quota"]}
    assert quota[("write", "project")]["used"] == 3
    assert quota[("write", "project")]["limit"] == 20
    assert quota[("write", pool[0].email)]["ratio"] == 0.2


def test_last_minute_is_kept_apart_from_this_one(setup, clock, pool):
    gate, _, make_monitor = setup
    monitor = make_monitor()
    monitor.record_request(kind="write", account=pool[0].email, outcome="ok", rows=5)
    clock.advance(60)
    monitor.record_request(kind="write", account=pool[0].email, outcome="ok", rows=7)
    snapshot = monitor.snapshot()
    assert snapshot["this_minute"]["rows"] == 7
    assert snapshot["last_minute"]["rows"] == 5
    assert len(snapshot["history"]) == 10


def test_usage_past_the_threshold_logs_a_warning_once_a_minute_and_puts_the_metric(setup, pool, caplog, emitted):
    gate, _, make_monitor = setup
    monitor = make_monitor()
    with caplog.at_level(logging.WARNING, logger="sheets_sync.monitor"):
        for _ in range(10):
            grant = gate.take("write", pool[0])
            monitor.record_request(kind="write", account=grant.account.email, outcome="ok", rows=1, grant=grant)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "write user requests at 80% of the limit (8 of 10 a minute)" in warnings[0]
    assert pool[0].email in warnings[0]
    assert [entry["name"] for entry in monitor.snapshot()["quota_alerts"]] == [pool[0].email]
    figures = emitted()
    assert figures["SheetsRequests"] == [1.0] * 10
    assert figures["SheetsRowsSynced"] == [1.0] * 10
    assert max(figures["SheetsQuotaUsedPercent"]) == 100.0


def test_permanent_errors_are_kept_as_alerts_naming_the_spreadsheet(setup, caplog):
    _, _, make_monitor = setup
    monitor = make_monitor()
    with caplog.at_level(logging.ERROR, logger="sheets_sync.monitor"):
        monitor.record_alert(spreadsheet_id="sheet-123", code="not_found", message="Requested entity was not found.")
    (alert,) = monitor.snapshot()["alerts"]
    assert alert["spreadsheet_id"] == "sheet-123"
    assert alert["code"] == "not_found"
    assert "sheet-123" in caplog.text


def test_with_redis_down_the_monitor_drops_counts_and_never_fails_a_request(pool):
    monitor = SheetsMonitor(redis.Redis.from_url(CLOSED_PORT_URL, socket_connect_timeout=1))
    monitor.record_request(kind="write", account=pool[0].email, outcome="ok", rows=3)
    monitor.record_alert(spreadsheet_id="s", code="not_found", message="x")
    assert monitor.snapshot()["this_minute"]["rows"] == 0


def test_the_gauges_are_published_for_the_alarms(setup, pool, emitted):
    gate, breaker, make_monitor = setup
    for _ in range(5):
        gate.take("write", pool[0])
    make_monitor().publish_metrics()
    breaker.failure()  # failures=1: open
    make_monitor().publish_metrics()
    figures = emitted()
    assert sorted(figures["SheetsQuotaUsedPercent"]) == [0.0, 0.0, 50.0, 50.0]  # read and write, twice
    assert figures["SheetsBreakerOpen"] == [0.0, 1.0, 1.0]  # the second publish, and the opening itself
