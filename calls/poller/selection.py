"""Which calls a pass asks the provider about, and in what order (reads only).

A pass learns what changed from the provider's call list, so it asks for details only about calls whose
listed state differs from ours. Calls the list cannot show are asked about one by one: calls older than
the list's horizon, scheduled calls that are due, overdue calls the list has kept quiet about for
``POLLER_RECHECK_SECONDS``, and calls retried after a failure. Without the list (it failed, or it is
switched off) every call in flight is asked about one by one. Either way: overdue and long-running calls
first, just-placed calls only after a grace period (their webhook may still come), never a call twice in
one pass, and never a call that is backing off after failures or waiting in the dead letters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, F, Min, Q, QuerySet
from django.db.models.functions import Coalesce

from calls.models import CANCELLABLE_STATUSES, AnsweredBy, Call, CallStatus
from calls.providers.base import ListedCall

IN_FLIGHT = sorted(CANCELLABLE_STATUSES)
_ERROR_QUEUE_STATUSES = frozenset({"pre_queue_error", "queue_error", "call_error", "complete_error"})
_LISTED_STATUS = {"allocated": CallStatus.RINGING, "started": CallStatus.IN_PROGRESS}
# The last poll of the call failed (a failure counted, or a retry from admin that failed).
FAILED_BEFORE_Q = Q(poll_failures__gt=0) | ~Q(last_poll_error="")
FAILED_BEFORE = ExpressionWrapper(FAILED_BEFORE_Q, output_field=BooleanField())


@dataclass(frozen=True)
class WorkItem:
    """One call to ask the provider about, with what we knew of it when it was picked."""

    pk: uuid.UUID
    provider_call_id: str
    status: str
    updated_at: datetime
    failed_before: bool = False  # its last poll failed: a dead letter may be waiting to be resolved


def in_flight() -> QuerySet[Call]:
    """Calls placed with the provider that have not reached a final state, and cancelled calls that talked
    and still wait for the provider's report of what they cost (``services.call_cancel``)."""
    awaiting_cost = Q(status=CallStatus.CANCELED, cost_credits__isnull=True)
    return Call.objects.filter(Q(status__in=IN_FLIGHT) | awaiting_cost, provider_call_id__isnull=False)


def _eligible(*, pass_id: uuid.UUID, now: datetime) -> QuerySet[Call]:
    grace = now - timedelta(seconds=settings.POLLER_GRACE_SECONDS)
    return (
        in_flight()
        .filter(created_at__lte=grace)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .filter(Q(start_time__isnull=True) | Q(start_time__lte=now))
        .filter(poll_failures__lt=settings.POLLER_MAX_FAILURES)
        .exclude(poll_pass=pass_id)
    )


def _overdue(now: datetime) -> Q:
    """Calls past their latest possible end (start plus max_duration). Written as one condition per
    max_duration in flight (a handful) so that it needs no date arithmetic in SQL, which SQLite lacks."""
    condition = Q(pk__in=[])
    for minutes in in_flight().values_list("max_duration", flat=True).distinct().order_by():
        latest_start = now - timedelta(minutes=minutes)
        started = Q(start_time__lt=latest_start) | Q(start_time__isnull=True, created_at__lt=latest_start)
        condition |= Q(max_duration=minutes) & started
    return condition


def _unseen_by_the_list(now: datetime) -> Q:
    horizon = now - timedelta(hours=settings.POLLER_LIST_HORIZON_HOURS)
    quiet = now - timedelta(seconds=settings.POLLER_RECHECK_SECONDS)
    overdue = _overdue(now) & (Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=quiet))
    # Calls that failed before are retried directly once their backoff is over: the list may have shown
    # their change while they were backing off.
    return Q(created_at__lt=horizon) | Q(status=CallStatus.SCHEDULED) | FAILED_BEFORE_Q | overdue


def expected_end(*, created_at: datetime, start_time: datetime | None, max_duration: int) -> datetime:
    """When the call must have ended at the latest: its start (scheduled or placed) plus max_duration."""
    return (start_time or created_at) + timedelta(minutes=max_duration)


def direct_candidates(*, pass_id: uuid.UUID, now: datetime, list_ok: bool) -> list[WorkItem]:
    """The calls to ask about one by one in this pass, most overdue first (then those due to end first)."""
    query = _eligible(pass_id=pass_id, now=now)
    if list_ok:
        query = query.filter(_unseen_by_the_list(now))
    rows = query.annotate(failed_before=FAILED_BEFORE).values_list(
        "pk", "provider_call_id", "status", "updated_at", "failed_before", "created_at", "start_time", "max_duration")
    ranked = sorted(rows, key=lambda row: (expected_end(created_at=row[5], start_time=row[6], max_duration=row[7]),
                                           row[5], row[0]))
    return [WorkItem(pk, str(call_id), status, updated_at, failed)
            for pk, call_id, status, updated_at, failed, *_ in ranked]


def still_due(items: Sequence[WorkItem], *, pass_id: uuid.UUID) -> list[WorkItem]:
    """Of ``items`` (picked earlier in the pass), those still in flight and not yet processed by it."""
    keep = set(in_flight().filter(pk__in=[item.pk for item in items]).exclude(poll_pass=pass_id)
               .values_list("pk", flat=True))
    return [item for item in items if item.pk in keep]


def listed_status(item: ListedCall, call_start: datetime | None, now: datetime) -> str:
    """Our status for what a list item shows (ended calls: "final", the details tell which)."""
    if item.completed or item.queue_status == "complete" or item.queue_status in _ERROR_QUEUE_STATUSES:
        return "final"
    if item.queue_status in _LISTED_STATUS:
        return _LISTED_STATUS[item.queue_status]
    return CallStatus.SCHEDULED if call_start is not None and call_start > now else CallStatus.QUEUED


def _changed(item: ListedCall, *, status: str, answered_by: str, start_time: datetime | None, now: datetime) -> bool:
    listed = listed_status(item, start_time, now)
    if listed == "final" or listed != status:
        return True
    return item.answered_by in AnsweredBy.values and item.answered_by != answered_by


def listed_work(*, page: Iterable[ListedCall], pass_id: uuid.UUID, now: datetime
                ) -> tuple[list[WorkItem], list[uuid.UUID]]:
    """Of a list page: the calls of ours that changed (to ask about) and the unchanged ones (confirmed).

    Calls that already reached a final state (unless cancelled and still waiting for their cost), calls of
    other accounts, calls placed within the grace
    period, calls backing off or dead-lettered and calls this pass already processed are neither."""
    by_id = {item.provider_call_id: item for item in page}
    grace = now - timedelta(seconds=settings.POLLER_GRACE_SECONDS)
    rows = (in_flight().filter(provider_call_id__in=list(by_id), created_at__lte=grace,
                               poll_failures__lt=settings.POLLER_MAX_FAILURES)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
            .exclude(poll_pass=pass_id)
            .annotate(failed_before=FAILED_BEFORE)
            .values_list("pk", "provider_call_id", "status", "answered_by", "start_time", "updated_at",
                         "failed_before"))
    work: list[WorkItem] = []
    unchanged: list[uuid.UUID] = []
    for pk, provider_call_id, status, answered_by, start_time, updated_at, failed in rows:
        item = by_id[str(provider_call_id)]
        if _changed(item, status=status, answered_by=answered_by, start_time=start_time, now=now):
            work.append(WorkItem(pk, str(provider_call_id), status, updated_at, failed))
        else:
            unchanged.append(pk)
    return work, unchanged


def oldest_in_flight_start(now: datetime) -> datetime | None:
    """When the oldest call in flight that is already due was placed (or was due to start)."""
    due = in_flight().filter(Q(start_time__isnull=True) | Q(start_time__lte=now))
    return due.aggregate(oldest=Min(Coalesce(F("start_time"), F("created_at"))))["oldest"]


def lag_seconds(now: datetime) -> float:
    """How far past its latest possible end the most overdue call in flight is (0 when none is)."""
    oldest = (in_flight().values("max_duration").order_by()
              .annotate(start=Min(Coalesce(F("start_time"), F("created_at")))))
    ends = [row["start"] + timedelta(minutes=row["max_duration"]) for row in oldest if row["start"] is not None]
    return max(0.0, (now - min(ends)).total_seconds()) if ends else 0.0
