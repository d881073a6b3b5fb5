"""Each run's figures: one structured log line (JSON in the message, and the same fields as ``extra`` for
``LOG_FORMAT=json``), and the poller's metrics of ``config.metrics`` (CloudWatch, when ``METRICS_BACKEND``
sends them anywhere): PollerRuns, PollerCallsProcessed, PollerCallsChanged, PollerCallsFailed,
PollerDeadLetters, PollerProviderRequests, PollerRunDuration and PollerLagSeconds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from config import metrics

logger = logging.getLogger("calls.poller")

COUNTS = {
    metrics.POLLER_CALLS_PROCESSED: "processed", metrics.POLLER_CALLS_CHANGED: "changed",
    metrics.POLLER_CALLS_FAILED: "failed", metrics.POLLER_DEAD_LETTERS: "dead_lettered",
    metrics.POLLER_PROVIDER_REQUESTS: "provider_requests",
}


def publish_run_metrics(summary: dict[str, Any]) -> None:
    """Log the run as one line and record its metrics; flushed at once (a Lambda may be frozen next)."""
    logger.info("poll_calls run %s", json.dumps(summary, sort_keys=True, default=str),
                extra={"poller": summary})
    status = summary.get("status")
    if status in ("locked", "dry_run"):
        return  # another runner's pass, or one that changed nothing on purpose
    if status in ("succeeded", "partial"):
        metrics.put(metrics.POLLER_RUNS, 1)  # passes that did their work: its alarm fires when none do
    for metric, key in COUNTS.items():
        metrics.put(metric, float(summary.get(key) or 0))
    metrics.put(metrics.POLLER_RUN_DURATION, float(summary.get("duration_seconds") or 0) * 1000)
    metrics.put(metrics.POLLER_LAG_SECONDS, float(summary.get("lag_seconds") or 0))
    metrics.flush()
