"""Each run's figures: one structured log line and, when ``POLLER_METRICS_NAMESPACE`` is set, CloudWatch:
inside a Lambda as EMF on stdout (CloudWatch reads it from the log, no API call), elsewhere with
put_metric_data.

Metric names (namespace ``POLLER_METRICS_NAMESPACE``, dimension ``Trigger``): Processed, Changed, Failed,
DeadLettered, Confirmed, ProviderRequests, ListRequests, DetailRequests, RateLimited (counts),
DurationSeconds and LagSeconds (seconds).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger("calls.poller")

COUNT_METRICS = {
    "Processed": "processed", "Changed": "changed", "Failed": "failed", "DeadLettered": "dead_lettered",
    "Confirmed": "confirmed", "ProviderRequests": "provider_requests", "ListRequests": "list_requests",
    "DetailRequests": "detail_requests", "RateLimited": "rate_limited",
}
SECOND_METRICS = {"DurationSeconds": "duration_seconds", "LagSeconds": "lag_seconds"}


def metric_data(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's figures as CloudWatch ``MetricData`` items."""
    dimensions = [{"Name": "Trigger", "Value": str(summary.get("trigger") or "command")}]
    items = [{"MetricName": name, "Value": float(summary.get(key) or 0), "Unit": "Count", "Dimensions": dimensions}
             for name, key in COUNT_METRICS.items()]
    items += [{"MetricName": name, "Value": float(summary.get(key) or 0), "Unit": "Seconds",
               "Dimensions": dimensions} for name, key in SECOND_METRICS.items()]
    return items


def emf_line(*, namespace: str, summary: dict[str, Any]) -> str:
    """The run's metrics in CloudWatch's embedded metric format: one JSON log line."""
    items = metric_data(summary)
    document: dict[str, Any] = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [["Trigger"]],
            "Metrics": [{"Name": item["MetricName"], "Unit": item["Unit"]} for item in items],
        }]},
        "Trigger": items[0]["Dimensions"][0]["Value"],
    }
    document.update({item["MetricName"]: item["Value"] for item in items})
    return json.dumps(document, separators=(",", ":"))


def publish_run_metrics(summary: dict[str, Any]) -> None:
    """Log the run as one JSON line; send its metrics to CloudWatch when configured. Never raises."""
    logger.info("poll_calls run %s", json.dumps(summary, sort_keys=True, default=str))
    namespace = settings.POLLER_METRICS_NAMESPACE
    if not namespace:
        return
    try:
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            sys.stdout.write(emf_line(namespace=namespace, summary=summary) + "\n")
            sys.stdout.flush()
        else:
            put_metric_data(namespace=namespace, metric_data=metric_data(summary))
    except Exception:  # noqa: BLE001 - metrics must never fail the run they describe
        logger.exception("could not send the poller's metrics to CloudWatch")


def put_metric_data(*, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    """The one seam to CloudWatch (put_metric_data through boto3)."""
    import boto3

    client = boto3.client("cloudwatch", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL or None)
    client.put_metric_data(Namespace=namespace, MetricData=metric_data)
