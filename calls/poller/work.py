"""One call's poll: details from the provider (``fetch``, in a worker thread), applied through
``calls.reports`` (``apply``, a batch of calls at a time in one transaction).

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
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from calls import errors, reports
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
class Fetched:
    """A call's report, asked for and not applied yet."""

    item: WorkItem
    update: ProviderCall
    requests: int = 0
    rate_limited: int = 0


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

    def fetch(self, item: WorkItem) -> Outcome | Fetched:
        """Ask the provider about the call (a worker thread): its report to apply, or the poll's outcome."""
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
        return Fetched(item, update, requests, rate_limited)

    def apply(self, batch: Sequence[Fetched]) -> list[Outcome]:
        """Apply reports through ``calls.reports`` and mark their calls done for this pass, all in one
        transaction (one lock and one ledger write per credit account for the whole batch). A batch that
        fails is applied again call by call, so one bad report fails only its own poll."""
        if len(batch) > 1:
            try:
                with self.db_lock:
                    return self._apply(batch)
            except Exception:  # noqa: BLE001 - applied one by one below, where each error is its own poll's
                logger.warning("a batch of %d reports failed; applying them one by one", len(batch), exc_info=True)
        return [self._apply_alone(fetched) for fetched in batch]

    def _apply_alone(self, fetched: Fetched) -> Outcome:
        try:
            with self.db_lock:
                return self._apply([fetched])[0]
        except DomainError as exc:
            return self._failed(fetched.item, exc, fetched.requests, fetched.rate_limited)
        except Exception as exc:  # noqa: BLE001 - a poll's boundary: counted as its failure, the pass goes on
            logger.exception("applying the report of call %s failed unexpectedly", fetched.item.pk)
            return self.record_failure(fetched.item, f"unexpected {type(exc).__name__}: {exc}"[:500],
                                       requests=fetched.requests, rate_limited=fetched.rate_limited)

    def _apply(self, batch: Sequence[Fetched]) -> list[Outcome]:
        now = self.clock()
        pks = [fetched.item.pk for fetched in batch]
        with transaction.atomic():
            calls = reports.calls_apply_provider_updates(
                updates=[(fetched.item.pk, fetched.update) for fetched in batch], source=EventSource.POLLER)
            Call.objects.filter(pk__in=pks).update(
                last_polled_at=now, poll_attempts=F("poll_attempts") + 1, poll_failures=0, next_poll_at=None,
                poll_pass=self.pass_id, last_poll_error="",
            )
            for fetched in batch:
                if fetched.item.failed_before:
                    dead_letters_resolve(call_id=fetched.item.pk, now=now)
        outcomes = []
        for fetched in batch:
            item, call = fetched.item, calls.get(fetched.item.pk)
            changed = call is not None and (call.status != item.status or call.updated_at != item.updated_at)
            outcomes.append(Outcome(item, Result.CHANGED if changed else Result.UNCHANGED, fetched.requests,
                                    fetched.rate_limited))
        return outcomes

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
