"""One call's poll: details from the provider, applied through ``calls.services``.

A poll either applies the provider's state and marks the call done for this pass in the same
transaction, or counts a failure: the call then backs off (doubling ``POLLER_BACKOFF_SECONDS``) and after
``POLLER_MAX_FAILURES`` in a row goes to the dead letters. A 429 is nobody's failure: every worker pauses
for its Retry-After and the request is sent again.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from calls import errors, services
from calls.models import Call, EventSource
from calls.poller.deadletters import dead_letter_open, dead_letters_resolve
from calls.poller.pacing import RequestBudget
from calls.poller.selection import WorkItem, listed_status
from calls.providers.base import ListedCall, Provider, ProviderCall
from config.errors import DomainError

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600
MAX_RATE_LIMITED_RETRIES = 20


class Result(enum.Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    SKIPPED = "skipped"  # out of time: the next run does it


@dataclass(frozen=True)
class Outcome:
    item: WorkItem
    result: Result
    requests: int = 0
    rate_limited: int = 0
    error: str = ""


def backoff_seconds(failures: int) -> int:
    return min(MAX_BACKOFF_SECONDS, settings.POLLER_BACKOFF_SECONDS * 2 ** max(0, failures - 1))


@dataclass
class CallPoller:
    """What every poll of one pass shares: the provider, the request budget, the deadline and the pass."""

    provider: Provider
    budget: RequestBudget
    deadline: float  # on the budget's clock: no request starts after it
    pass_id: uuid.UUID
    run_id: uuid.UUID | None
    clock: Callable[[], datetime]
    dry_run: bool = False
    # SQLite takes one writer at a time: its polls still ask the provider concurrently, but write in turn.
    db_lock: AbstractContextManager[object] = field(default_factory=contextlib.nullcontext)
    stopping: threading.Event = field(default_factory=threading.Event)  # set: polls not yet begun are skipped

    def poll(self, item: WorkItem) -> Outcome:
        requests = rate_limited = 0
        while True:
            if (self.stopping.is_set() or rate_limited > MAX_RATE_LIMITED_RETRIES
                    or not self.budget.acquire(deadline=self.deadline)):
                return Outcome(item, Result.SKIPPED, requests, rate_limited)
            requests += 1
            try:
                update = self.provider.get_call(item.provider_call_id)
            except errors.ProviderRateLimited as exc:
                rate_limited += 1
                self.budget.pause(float(exc.data.get("retry_after") or 1.0))
                continue
            except errors.ProviderError as exc:
                return self._failed(item, exc, requests, rate_limited)
            break
        if self.dry_run:
            return Outcome(item, Result.CHANGED if _would_change(item, update) else Result.UNCHANGED, requests,
                           rate_limited)
        try:
            with self.db_lock:
                return self._apply(item, update, requests, rate_limited)
        except DomainError as exc:
            return self._failed(item, exc, requests, rate_limited)

    def _apply(self, item: WorkItem, update: ProviderCall, requests: int, rate_limited: int) -> Outcome:
        """Apply through ``calls.services`` (its own transaction), then mark the call done for this pass. A
        runner killed between the two only makes the next run ask about the call again: applying the same
        state twice changes nothing. (Marking inside the same transaction would cost a savepoint per call.)"""
        now = self.clock()
        call = services.call_apply_provider_update(update=update, source=EventSource.POLLER, call=Call(pk=item.pk))
        Call.objects.filter(pk=item.pk).update(
            last_polled_at=now, poll_attempts=F("poll_attempts") + 1, poll_failures=0, next_poll_at=None,
            poll_pass=self.pass_id, last_poll_error="",
        )
        if item.failed_before:
            dead_letters_resolve(call_id=item.pk, now=now)
        changed = call is not None and (call.status != item.status or call.updated_at != item.updated_at)
        return Outcome(item, Result.CHANGED if changed else Result.UNCHANGED, requests, rate_limited)

    def _failed(self, item: WorkItem, exc: DomainError, requests: int, rate_limited: int) -> Outcome:
        message = f"{exc.code}: {getattr(exc, 'detail', '') or exc.message}"[:500]
        if self.dry_run:
            return Outcome(item, Result.FAILED, requests, rate_limited, message)
        return self.record_failure(item, message, requests=requests, rate_limited=rate_limited)

    def record_failure(self, item: WorkItem, message: str, *, requests: int = 0, rate_limited: int = 0) -> Outcome:
        """Count a failed poll: back off, and dead-letter the call at ``POLLER_MAX_FAILURES`` in a row."""
        now = self.clock()
        with self.db_lock, transaction.atomic():
            call = Call.objects.select_for_update().filter(pk=item.pk).first()
            if call is None:
                return Outcome(item, Result.FAILED, requests, rate_limited, message)
            failures = call.poll_failures + 1
            Call.objects.filter(pk=item.pk).update(
                poll_failures=failures, next_poll_at=now + timedelta(seconds=backoff_seconds(failures)),
                poll_attempts=F("poll_attempts") + 1, poll_pass=self.pass_id, last_poll_error=message,
            )
            if failures < settings.POLLER_MAX_FAILURES:
                return Outcome(item, Result.FAILED, requests, rate_limited, message)
            dead_letter_open(call=call, run_id=self.run_id, failures=failures, error=message)
        return Outcome(item, Result.DEAD_LETTERED, requests, rate_limited, message)


def _would_change(item: WorkItem, update: ProviderCall) -> bool:
    """For a dry run: whether applying ``update`` would move the call (the list's rule, on the details)."""
    seen = ListedCall(update.provider_call_id, None, update.completed, update.queue_status,
                      answered_by=update.answered_by)
    return listed_status(seen, None, datetime.now(UTC)) != item.status
