"""Application metrics for CloudWatch, behind one small interface every part of the service uses.

    from config import metrics
    metrics.put(metrics.POLLER_LAG_SECONDS, 12.5)
    metrics.put(metrics.MCP_TOOL_CALLS, 1, Tool="makePhoneCall")
    metrics.flush()            # end of a Lambda invocation or a management command; otherwise automatic

Every metric is declared once below (name, unit, dimensions) so that the names the code emits, the
Terraform alarms and dashboard, and deploy/README.md agree; ``put`` refuses an undeclared metric or
a dimension set other than the declared one (a typo would silently feed an alarm nothing).

Values are buffered per process and sent by one of three sinks, chosen by ``METRICS_BACKEND``:

- ``off`` (the default): nothing is sent; ``put`` costs a dictionary append.
- ``emf``: CloudWatch embedded metric format, one JSON line per metric group on stdout. CloudWatch
  Logs extracts the metrics from the log stream (Lambda, and ECS with the awslogs driver), so this
  needs no API call and no IAM permission. This is what the AWS deployment uses.
- ``cloudwatch``: ``PutMetricData`` through boto3 (for hosts whose stdout does not reach CloudWatch
  Logs); needs ``cloudwatch:PutMetricData``. ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_CLOUDWATCH``)
  points it elsewhere, e.g. a moto server in tests.

Buffered values are flushed every ``METRICS_FLUSH_SECONDS`` by a daemon thread, when the buffer
holds ``MAX_BUFFERED`` values, on ``flush()`` and at interpreter exit. A failing sink logs a warning
and drops that batch: metrics never break a request.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol

import orjson

logger = logging.getLogger(__name__)

NAMESPACE_DEFAULT = "callmcp"
MAX_BUFFERED = 2_000
EMF_MAX_VALUES = 100  # per metric in one EMF document (the specification's limit)
PUT_MAX_DATUMS = 1_000  # per PutMetricData request
PUT_MAX_VALUES = 150  # distinct values per datum


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # a CloudWatch StandardUnit
    dimensions: tuple[str, ...]
    description: str


CATALOGUE: dict[str, Metric] = {}


def _declare(name: str, unit: str, description: str, dimensions: tuple[str, ...] = ()) -> Metric:
    if name in CATALOGUE:
        raise ValueError(f"metric {name} declared twice")
    metric = Metric(name, unit, dimensions, description)
    CATALOGUE[name] = metric
    return metric


# --- The metrics (namespace METRICS_NAMESPACE, default "callmcp"). deploy/README.md lists them. -------
MCP_TOOL_CALLS = _declare("McpToolCalls", "Count", "MCP tools/call requests answered", ("Tool",))
MCP_TOOL_ERRORS = _declare("McpToolErrors", "Count", "MCP tools/call requests that failed", ("Tool",))
CALLS_PLACED = _declare("CallsPlaced", "Count", "calls placed with the provider")
CREDITS_SPENT = _declare("CreditsSpent", "None", "credits charged when calls settle (1 credit = 1 cent)")

SHEETS_REQUESTS = _declare("SheetsRequests", "Count", "Google Sheets API requests sent", ("Kind",))
SHEETS_QUOTA_USED_PERCENT = _declare(
    "SheetsQuotaUsedPercent", "Percent", "share of the per-minute Sheets quota used in the last minute", ("Kind",)
)
SHEETS_THROTTLED = _declare("SheetsThrottled", "Count", "Sheets requests answered 429 (quota)")
SHEETS_ROWS_SYNCED = _declare("SheetsRowsSynced", "Count", "call rows written to Google Sheets")
SHEETS_BACKLOG_ROWS = _declare("SheetsBacklogRows", "Count", "outbox rows waiting for Google Sheets")
SHEETS_BACKLOG_AGE_SECONDS = _declare("SheetsBacklogAgeSeconds", "Seconds", "age of the oldest waiting outbox row")
SHEETS_CELLS_USED_PERCENT = _declare(
    "SheetsCellsUsedPercent", "Percent", "a spreadsheet's cells as a share of Google's 10 million cap (on warning)")
SHEETS_BREAKER_OPEN = _declare("SheetsBreakerOpen", "Count", "1 while the Sheets circuit breaker is open, else 0")

POLLER_RUNS = _declare("PollerRuns", "Count", "poller passes that finished (the alarm fires when none do)")
POLLER_CALLS_PROCESSED = _declare("PollerCallsProcessed", "Count", "calls looked at by a poller pass")
POLLER_CALLS_CHANGED = _declare("PollerCallsChanged", "Count", "calls a poller pass changed")
POLLER_CALLS_FAILED = _declare("PollerCallsFailed", "Count", "calls a poller pass could not refresh")
POLLER_DEAD_LETTERS = _declare("PollerDeadLetters", "Count", "calls moved to the dead-letter store")
POLLER_PROVIDER_REQUESTS = _declare("PollerProviderRequests", "Count", "provider API requests of a poller pass")
POLLER_RUN_DURATION = _declare("PollerRunDuration", "Milliseconds", "duration of a poller pass")
POLLER_LAG_SECONDS = _declare("PollerLagSeconds", "Seconds", "age of the oldest non-final call after a pass")


# --- Sinks -----------------------------------------------------------------------------------------
Key = tuple[str, tuple[tuple[str, str], ...]]


class Sink(Protocol):
    def send(self, namespace: str, batch: Mapping[Key, list[float]], timestamp_ms: int) -> None: ...


class NullSink:
    def send(self, namespace: str, batch: Mapping[Key, list[float]], timestamp_ms: int) -> None:
        return None


class EmfSink:
    """One embedded-metric-format document per dimension set and metric, written as a single line."""

    def __init__(self, stream: Callable[[], IO[str]] | None = None) -> None:
        self._stream = stream or (lambda: sys.stdout)
        self._lock = threading.Lock()

    def send(self, namespace: str, batch: Mapping[Key, list[float]], timestamp_ms: int) -> None:
        lines = []
        for (name, dimensions), values in batch.items():
            metric = CATALOGUE[name]
            for start in range(0, len(values), EMF_MAX_VALUES):
                chunk = values[start:start + EMF_MAX_VALUES]
                document: dict[str, Any] = {
                    "_aws": {
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": namespace,
                            "Dimensions": [[key for key, _ in dimensions]],
                            "Metrics": [{"Name": name, "Unit": metric.unit}],
                        }],
                    },
                    name: chunk[0] if len(chunk) == 1 else chunk,
                    **dict(dimensions),
                }
                lines.append(orjson.dumps(document).decode())
        if lines:
            with self._lock:
                stream = self._stream()
                stream.write("\n".join(lines) + "\n")
                stream.flush()


class CloudWatchSink:
    """``PutMetricData``: values with their counts, up to 1,000 datums a request."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _get_client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "cloudwatch", config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3,
                                            read_timeout=5)
            )
        return self._client

    def send(self, namespace: str, batch: Mapping[Key, list[float]], timestamp_ms: int) -> None:
        datums = list(_datums(batch, timestamp_ms))
        for start in range(0, len(datums), PUT_MAX_DATUMS):
            self._get_client().put_metric_data(Namespace=namespace, MetricData=datums[start:start + PUT_MAX_DATUMS])


def _datums(batch: Mapping[Key, list[float]], timestamp_ms: int) -> Iterable[dict[str, Any]]:
    from datetime import UTC, datetime

    timestamp = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    for (name, dimensions), values in batch.items():
        counts: dict[float, int] = {}
        for value in values:
            counts[value] = counts.get(value, 0) + 1
        distinct = list(counts.items())
        for start in range(0, len(distinct), PUT_MAX_VALUES):
            chunk = distinct[start:start + PUT_MAX_VALUES]
            yield {
                "MetricName": name,
                "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
                "Timestamp": timestamp,
                "Values": [value for value, _ in chunk],
                "Counts": [float(count) for _, count in chunk],
                "Unit": CATALOGUE[name].unit,
            }


# --- The recorder ------------------------------------------------------------------------------------
class MetricError(ValueError):
    """A metric that is not declared, or put with the wrong dimensions or a non-finite value."""


class Recorder:
    """Buffers values per (metric, dimensions) and hands them to the sink in batches."""

    def __init__(self, sink: Sink, *, namespace: str = NAMESPACE_DEFAULT, flush_seconds: float = 15.0,
                 clock: Callable[[], float] = time.time, background: bool = True) -> None:
        self.sink = sink
        self.namespace = namespace
        self.flush_seconds = flush_seconds
        self._clock = clock
        self._background = background and not isinstance(sink, NullSink)
        self._lock = threading.Lock()
        self._buffer: dict[Key, list[float]] = {}
        self._count = 0
        self._thread_pid: int | None = None

    def put(self, metric: Metric, value: float, **dimensions: str) -> None:
        if CATALOGUE.get(metric.name) is not metric:
            raise MetricError(f"metric {metric.name!r} is not declared in config.metrics")
        if tuple(sorted(dimensions)) != tuple(sorted(metric.dimensions)):
            raise MetricError(
                f"metric {metric.name} takes dimensions {list(metric.dimensions)}, got {sorted(dimensions)}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise MetricError(f"metric {metric.name} got a non-finite value {value!r}")
        key: Key = (metric.name, tuple((name, str(dimensions[name])) for name in metric.dimensions))
        with self._lock:
            self._buffer.setdefault(key, []).append(number)
            self._count += 1
            full = self._count >= MAX_BUFFERED
        if full:
            self.flush()
        elif self._background and self._thread_pid != os.getpid():
            self._start_flusher()

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer, self._count = self._buffer, {}, 0
        if not batch:
            return
        try:
            self.sink.send(self.namespace, batch, int(self._clock() * 1000))
        except Exception:  # noqa: BLE001 - metrics never break the caller; the batch is dropped
            logger.warning("metrics: could not send %d metric series to %s", len(batch), type(self.sink).__name__,
                           exc_info=True)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()  # per process: a forked worker starts its own
        threading.Thread(target=self._flush_forever, name="metrics-flusher", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.flush_seconds)
            self.flush()


def recorder_from_settings() -> Recorder:
    from django.conf import settings

    backend = getattr(settings, "METRICS_BACKEND", "off")
    sinks: dict[str, Callable[[], Sink]] = {"off": NullSink, "emf": EmfSink, "cloudwatch": CloudWatchSink}
    if backend not in sinks:
        raise MetricError(f"METRICS_BACKEND must be one of {sorted(sinks)}, not {backend!r}")
    return Recorder(sinks[backend](), namespace=getattr(settings, "METRICS_NAMESPACE", NAMESPACE_DEFAULT),
                    flush_seconds=float(getattr(settings, "METRICS_FLUSH_SECONDS", 15)))


_recorder: Recorder | None = None
_recorder_lock = threading.Lock()


def get_recorder() -> Recorder:
    global _recorder
    if _recorder is None:
        with _recorder_lock:
            if _recorder is None:
                _recorder = recorder_from_settings()
                atexit.register(_recorder.flush)
    return _recorder


def set_recorder(recorder: Recorder | None) -> Recorder | None:
    """Install another recorder (a test's, or one built after a settings change); returns the old one."""
    global _recorder
    with _recorder_lock:
        previous, _recorder = _recorder, recorder
    if previous is not None:
        previous.flush()
    return previous


def put(metric: Metric, value: float, **dimensions: str) -> None:
    """Record one value. Raises ``MetricError`` for an undeclared metric or wrong dimensions."""
    get_recorder().put(metric, value, **dimensions)


def flush() -> None:
    """Send what is buffered now (the end of a Lambda invocation must call it: the process is frozen)."""
    if _recorder is not None:
        _recorder.flush()
