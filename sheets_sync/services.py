"""What the tasks, the admin and the other apps' events ask of the Sheets call log.

Callers catch nothing: Sheets failures are recorded (status, alerts) and the rows wait in the outbox.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from config import metrics
from sheets_sync import drain, outbox, turns
from sheets_sync.client import SheetsClient, sheets_client
from sheets_sync.errors import Permanent, SheetsError
from sheets_sync.models import OutboxEntry, SpreadsheetStatus
from sheets_sync.scheduler import status_for

logger = logging.getLogger(__name__)

KICK_KEY = "sheets_sync:kick-pending"


def sync_enabled() -> bool:
    """Whether rows are sent at all (credentials configured and readable)."""
    try:
        return sheets_client().enabled
    except Exception:  # noqa: BLE001 - malformed credentials: the system check says so; rows wait
        return False


def drain_run(*, spreadsheet_ids: Iterable[str] | None = None, oldest_first: bool = False,
              critical_only: bool = False, max_seconds: float | None = None, max_requests: int | None = None,
              client: SheetsClient | None = None) -> drain.DrainReport:
    """One drain with the process's client; in-process (no broker) it never waits for a quota token, so a
    web request that kicked it is not held up."""
    if client is None:
        try:
            client = sheets_client()
        except Exception as exc:  # noqa: BLE001 - malformed credentials: the system check says so; rows wait
            logger.warning("Sheets sync is off: %s", exc)
            return drain.DrainReport(stopped="disabled", errors=[str(exc)])
        if settings.CELERY_TASK_ALWAYS_EAGER:
            client = copy.copy(client)
            client.token_timeout = 0.0
    report = drain.drain_once(client=client, spreadsheet_ids=spreadsheet_ids, oldest_first=oldest_first,
                              critical_only=critical_only, max_requests=max_requests,
                              max_seconds=settings.SHEETS_DRAIN_MAX_SECONDS if max_seconds is None else max_seconds)
    backlog_metrics()
    return report


def drain_kick(*, spreadsheet_ids: Iterable[str]) -> None:
    """After the commit of a critical change: drain the critical rows now rather than at the next beat.
    One kick waits at a time (it drains every spreadsheet's critical rows)."""
    if not sync_enabled() or not cache.add(KICK_KEY, 1, timeout=settings.SHEETS_DRAIN_SECONDS):
        return
    from sheets_sync.tasks import drain_task

    try:
        drain_task.apply_async(kwargs={"critical_only": True})
    except Exception:  # noqa: BLE001 - the broker is down: beat drains the rows later; the change stands
        cache.delete(KICK_KEY)
        logger.exception("Sheets drain kick not sent; the periodic drain will write the rows")


def kick_started() -> None:
    cache.delete(KICK_KEY)


def resync_requested() -> None:
    """The breaker closed (Sheets answers again): the backlog goes oldest-first until it is empty."""
    cache.set(drain.RESYNC_KEY, 1, timeout=3600)


def user_spreadsheet_switch(*, user_id: int, spreadsheet_id: str, previous_id: str) -> int:
    """In the transaction that set the user's spreadsheet: their calls are queued for the new one, and
    what waited for the old one (theirs alone) is dropped. Returns the calls queued."""
    from calls.models import Call

    if previous_id and previous_id != settings.SHEETS_OPERATIONS_SPREADSHEET_ID:
        OutboxEntry.objects.filter(spreadsheet_id=previous_id, call__owner_id=user_id).delete()
    if not spreadsheet_id:
        return 0
    status_for(spreadsheet_id)
    return outbox.outbox_backfill(calls=Call.objects.filter(owner_id=user_id), spreadsheet_id=spreadsheet_id)


def spreadsheet_calls(spreadsheet_id: str) -> Any:
    """Every call whose row belongs in ``spreadsheet_id``."""
    from calls.models import Call

    if spreadsheet_id == settings.SHEETS_OPERATIONS_SPREADSHEET_ID:
        return Call.objects.all()
    return Call.objects.filter(owner__sheets_spreadsheet_id=spreadsheet_id)


def spreadsheet_resync(*, spreadsheet_id: str) -> int:
    """Write every call's row to the spreadsheet again from the database (after someone edited or cleared
    it), and try it at once even if Sheets refused it recently. Returns the rows queued."""
    with transaction.atomic():
        count = outbox.outbox_backfill(calls=spreadsheet_calls(spreadsheet_id), spreadsheet_id=spreadsheet_id)
        SpreadsheetStatus.objects.filter(spreadsheet_id=spreadsheet_id).update(blocked_until=None, tabs={})
    return count


def spreadsheet_check_access(*, spreadsheet_id: str, client: SheetsClient | None = None) -> str | None:
    """Ask Sheets for the spreadsheet's tabs (1 read). Records the answer; returns the problem or None.
    A spreadsheet that answers is tried again at once."""
    status = status_for(spreadsheet_id)
    now = timezone.now()
    try:
        from sheets_sync.tabs import refresh_metadata

        refresh_metadata(client or sheets_client(), status)
    except Permanent as exc:
        turns.alert_spreadsheet(status, exc)
        status.access_checked_at = now
        status.save(update_fields=["alert", "alert_at", "access_ok", "access_error", "blocked_until", "tabs",
                                   "access_checked_at"])
        return status.alert
    except (SheetsError, Exception) as exc:  # noqa: BLE001 - Sheets down, quota, bad key: reported, not raised
        status.access_checked_at, status.access_error = now, f"could not check: {exc}"
        status.save(update_fields=["access_checked_at", "access_error"])
        return status.access_error
    status.access_ok, status.access_error, status.alert, status.blocked_until = True, "", "", None
    status.access_checked_at = now
    status.save(update_fields=["access_ok", "access_error", "alert", "blocked_until", "access_checked_at"])
    return None


def backlog(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Waiting rows per spreadsheet: how many, how many critical, the oldest's age in seconds."""
    now = now or timezone.now()
    rows = OutboxEntry.objects.values("spreadsheet_id").annotate(
        waiting=Count("id"), critical=Count("id", filter=Q(critical=True)), oldest=Min("created_at")
    ).order_by("spreadsheet_id")
    return [{**row, "age_seconds": round((now - row["oldest"]).total_seconds(), 1),
             "alert": (now - row["oldest"]).total_seconds() >= settings.SHEETS_BACKLOG_ALERT_SECONDS}
            for row in rows]


def backlog_metrics() -> None:
    """The backlog's size and age as metrics, and a WARNING when it is older than SHEETS_BACKLOG_ALERT_SECONDS."""
    figures = backlog()
    waiting = sum(row["waiting"] for row in figures)
    oldest = max((row["age_seconds"] for row in figures), default=0.0)
    metrics.put(metrics.SHEETS_BACKLOG_ROWS, waiting)
    metrics.put(metrics.SHEETS_BACKLOG_AGE_SECONDS, oldest)
    for row in figures:
        if row["alert"]:
            logger.warning("Sheets backlog: %d rows have waited up to %.0f s for spreadsheet %s",
                           row["waiting"], row["age_seconds"], row["spreadsheet_id"])


def metrics_publish() -> None:
    """The gauges of this moment (quota used per kind, breaker open or not, backlog size and age) for the
    alarms, which need figures while nothing is sent too."""
    from sheets_sync.monitor import monitor_from_settings

    try:
        client = sheets_client()
        monitor = client.monitor or monitor_from_settings(gate=client.gate, breaker=client.breaker)
    except Exception as exc:  # noqa: BLE001 - malformed credentials: the system check says so; the rest is published
        logger.warning("Sheets quota figures unavailable: %s", exc)
        from sheets_sync.breaker import breaker_from_settings

        monitor = monitor_from_settings(breaker=breaker_from_settings())
    monitor.publish_metrics()
    backlog_metrics()


def drain_kick_all(*, spreadsheet_ids: list[str] | None = None) -> None:
    """Start a drain of everything waiting (staff asked for it)."""
    from sheets_sync.tasks import drain_task

    try:
        drain_task.apply_async(kwargs={"spreadsheet_ids": spreadsheet_ids})
    except Exception:  # noqa: BLE001 - the broker is down: beat drains later
        logger.exception("Sheets drain not started; the periodic drain will write the rows")


def monitor_page() -> dict[str, Any]:
    """The monitor figures, the configuration problems and the backlog, for the admin page."""
    from sheets_sync.checks import configuration_problems
    from sheets_sync.monitor import monitor_from_settings

    problems, accounts = configuration_problems()
    snapshot: dict[str, Any] = {}
    try:
        client = sheets_client()
        monitor = client.monitor or monitor_from_settings(gate=client.gate, breaker=client.breaker)
        snapshot = monitor.snapshot()
    except Exception as exc:  # noqa: BLE001 - a broken configuration is listed in problems; the page still renders
        logger.warning("Sheets monitor figures unavailable: %s", exc)
        snapshot = monitor_from_settings().snapshot()
    return {"problems": problems, "accounts": accounts, "enabled": bool(accounts),
            "operations": settings.SHEETS_OPERATIONS_SPREADSHEET_ID, "snapshot": snapshot, "backlog": backlog()}
