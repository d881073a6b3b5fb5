"""Celery tasks of the Sheets call log, on their own queue (SHEETS_QUEUE, by CELERY_TASK_ROUTES): thin,
named, ids in. Beat runs ``sheets_sync.drain`` every SHEETS_DRAIN_SECONDS (a critical change kicks one
after commit; the breaker closing asks for the backlog oldest-first) and ``sheets_sync.publish_metrics``
every SHEETS_METRICS_SECONDS, so the quota, breaker and backlog gauges reach CloudWatch even while
nothing is sent."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from sheets_sync import services
from sheets_sync.events import BreakerClosed, breaker_closed


@shared_task(name="sheets_sync.drain", ignore_result=True)
def drain_task(spreadsheet_ids: list[str] | None = None, oldest_first: bool = False,
               critical_only: bool = False) -> dict[str, Any]:
    if critical_only:
        services.kick_started()
    return services.drain_run(spreadsheet_ids=spreadsheet_ids, oldest_first=oldest_first,
                              critical_only=critical_only).as_dict()


@shared_task(name="sheets_sync.publish_metrics", ignore_result=True)
def publish_metrics_task() -> None:
    services.metrics_publish()


@shared_task(name="sheets_sync.check_access", ignore_result=True)
def check_access_task(spreadsheet_id: str) -> str | None:
    return services.spreadsheet_check_access(spreadsheet_id=spreadsheet_id)


@breaker_closed.subscribe
def resync_when_closed(event: BreakerClosed) -> None:
    """Sheets answers again: the backlog goes oldest-first. In-process (no broker) the running drain
    switches order itself; with workers a drain is queued."""
    services.resync_requested()
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        drain_task.apply_async(kwargs={"oldest_first": True})
