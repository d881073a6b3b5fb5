"""A poller pass: find what changed at the provider and bring every call in flight up to date.

1. List phase: ``GET /v1/calls`` sorted by ``updated_at``, newest first, from the last watermark less an
   overlap for clock skew, 1,000 calls a page. Calls of ours whose listed state differs from ours (or that
   ended) are asked about (``GET /v1/calls/{id}``); the others are confirmed as they are. Paging newest
   first, a call that changes meanwhile moves to the front: later pages only repeat calls already seen,
   and the call itself is listed by the next pass.
2. Direct phase: calls the list cannot show (``calls.poller.selection``), or every call in flight when the
   list failed or is switched off, asked about one by one, most overdue first.

Details are fetched by a pool of threads while the pass goes on listing, all through one request budget
(``POLLER_PROVIDER_RPS``, 429 Retry-After honoured), and applied by one thread, as many as have arrived in
one transaction. Every change goes through ``calls.reports`` (the rules of
``calls.services.call_apply_provider_update``). The run record saves a checkpoint after every batch of
outcomes, pointing only at work that is complete, and the lock is refreshed with it; no request starts
after the run's time budget.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from calls import errors
from calls.models import Call, PollRun, PollRunStatus
from calls.poller.dispatch import Dispatcher, WorkerPool
from calls.poller.locks import LockLost, RunnerLock
from calls.poller.metrics import publish_run_metrics
from calls.poller.options import DRY_RUN, PollOptions, PollSummary
from calls.poller.pacing import RequestBudget
from calls.poller.selection import WorkItem, direct_candidates, lag_seconds, listed_work, still_due
from calls.poller.state import MAX_ERRORS, Counts, list_window_start, run_begin, run_checkpoint, run_finish
from calls.poller.work import CallPoller, Outcome, Result
from calls.providers.base import CallPage, ListCallsQuery, Provider

logger = logging.getLogger(__name__)

LIST_PAGE = 1000  # Bland's maximum
FAILURES_BEFORE_STOPPING = 20  # polls failing in a row: the provider looks down


class ProviderDown(Exception):
    """Polls keep failing one after another: the pass stops until the next run."""


def _chunks(items: Sequence[WorkItem], size: int) -> Iterator[Sequence[WorkItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PollPass:
    def __init__(self, *, options: PollOptions, provider: Provider, lock: RunnerLock | None,
                 clock: Callable[[], datetime], monotonic: Callable[[], float], started: float) -> None:
        self.options = options
        self.provider = provider
        self.lock = lock
        self.clock = clock
        self.monotonic = monotonic
        self.started = started
        self.counts = Counts()
        self.errors: list[dict[str, str]] = []
        self.error_count = 0
        self.failures_in_a_row = 0
        self.unsaved = 0
        margin = min(settings.POLLER_TIMEOUT_SECONDS, 0.1 * options.max_seconds)
        self.request_deadline = started + options.max_seconds - margin
        self.budget = RequestBudget(options.rate, clock=monotonic)
        self.record: PollRun | None = None
        self.cursor: dict[str, Any] = {"phase": "list"}
        self.timed_out = False  # the budget refused a request

    # --- the pass

    def run(self) -> PollSummary:
        now = self.clock()
        self.record = None if self.options.dry_run else run_begin(trigger=self.options.trigger, now=now)
        pass_id = self.record.pass_id if self.record else uuid.uuid4()
        list_since = self.record.list_since if self.record else list_window_start(now)
        self.cursor = dict(self.record.cursor) if self.record else {"phase": "list"}
        poller = CallPoller(provider=self.provider, budget=self.budget, deadline=self.request_deadline,
                            pass_id=pass_id, run_id=self.record.pk if self.record else None, clock=self.clock,
                            dry_run=self.options.dry_run,
                            db_lock=threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext())
        pool = WorkerPool(self.options.concurrency, poller.fetch, poller.apply,
                          lambda item, exc: self._on_error(poller, item, exc), apply_batch=self.options.batch_size)
        # Up to four batches queued: the list goes on paging while the workers fetch details.
        dispatcher = Dispatcher(pool, max_pending=4 * self.options.batch_size + self.options.concurrency,
                                cursor=self.cursor)
        status: str = PollRunStatus.FAILED
        outcome = ""
        try:
            status, outcome = self._phases(dispatcher, pass_id, list_since)
        except (LockLost, ProviderDown) as exc:
            logger.error("poll_calls stopped: %s", exc)
            outcome = f"stopped: {exc}"
        except Exception as exc:  # noqa: BLE001 - the run's boundary: its record must say how it ended
            logger.exception("poll_calls pass failed")
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            poller.stopping.set()  # what is still queued is skipped, not sent
            self._take(dispatcher.finish(), dispatcher, check=False)
            self.cursor = dispatcher.done_cursor
            pool.close()
        return self._finish(status, outcome, pass_id)

    def _phases(self, dispatcher: Dispatcher, pass_id: uuid.UUID, list_since: datetime | None) -> tuple[str, str]:
        if self.cursor.get("phase") == "list":
            list_ok = bool(self.options.use_list and self.cursor.get("list_ok", True))
            if list_ok and list_since is not None:
                list_ok = self._list_phase(dispatcher, pass_id, list_since)
                if self.timed_out or dispatcher.out_of_time:
                    return PollRunStatus.PARTIAL, "stopped at its time budget while listing; the next run resumes"
            dispatcher.done_cursor = {"phase": "direct", "list_ok": list_ok}
            self._save(dispatcher)
        if not self._direct_phase(dispatcher, pass_id, list_ok=bool(self.cursor.get("list_ok", True))):
            return PollRunStatus.PARTIAL, "stopped at its time budget; the next run resumes"
        return PollRunStatus.SUCCEEDED, "every call in flight is up to date"

    def _list_phase(self, dispatcher: Dispatcher, pass_id: uuid.UUID, since: datetime) -> bool:
        """List to the end (or until the budget runs out) and have the changed calls polled. False when the
        list failed: the direct phase then asks about every call."""
        position = int(self.cursor.get("position", 0))
        while not dispatcher.out_of_time:
            page = self._list_page(since, position)
            if page is None:
                self._take(dispatcher.finish(), dispatcher)
                return self.timed_out  # out of time (the run stops), or the list failed
            self.counts.listed += len(page.calls)
            now = self.clock()
            work, unchanged = listed_work(page=page.calls, pass_id=pass_id, now=now)
            self.counts.confirmed += len(unchanged)
            if unchanged and not self.options.dry_run:
                Call.objects.filter(pk__in=unchanged).update(last_polled_at=now)
            position += len(page.calls)
            self._take(dispatcher.submit(work, {"phase": "list", "position": position}), dispatcher)
            if len(page.calls) < LIST_PAGE or position >= page.total_count:
                break
        self._take(dispatcher.finish(), dispatcher)
        return True

    def _list_page(self, since: datetime, position: int) -> CallPage | None:
        query = ListCallsQuery(sort_by="updated_at", ascending=False, update_start_date=since, start=position,
                               stop=position + LIST_PAGE, limit=LIST_PAGE)
        while self.budget.acquire(deadline=self.request_deadline):
            self.counts.list_requests += 1
            try:
                return self.provider.list_calls(query)
            except errors.ProviderRateLimited as exc:
                self.counts.rate_limited += 1
                self.budget.pause(float(exc.data.get("retry_after") or 1.0))
            except errors.ProviderError as exc:
                logger.warning("the call list failed (%s); asking about each call in flight instead", exc.code)
                self._error("list", f"{exc.code}: {exc.detail or exc.message}")
                return None
        self.timed_out = True
        return None

    def _direct_phase(self, dispatcher: Dispatcher, pass_id: uuid.UUID, *, list_ok: bool) -> bool:
        """Ask about the calls the list cannot show (all calls in flight without the list), in the priority
        order fixed at the start of the phase; each batch is checked again just before it is queued."""
        planned = direct_candidates(pass_id=pass_id, now=self.clock(), list_ok=list_ok)
        cursor = {"phase": "direct", "list_ok": list_ok}
        for batch in _chunks(planned, self.options.batch_size):
            if dispatcher.out_of_time or self.monotonic() >= self.request_deadline:
                self.timed_out = True
                break
            due = batch if self.options.dry_run else still_due(batch, pass_id=pass_id)
            self._take(dispatcher.submit(due, cursor), dispatcher)
        else:
            self._take(dispatcher.finish(), dispatcher)
            return not dispatcher.out_of_time
        self._take(dispatcher.finish(), dispatcher)
        return False

    # --- bookkeeping

    def _take(self, outcomes: list[Outcome], dispatcher: Dispatcher, *, check: bool = True) -> None:
        """Count outcomes; checkpoint after each batch of them; stop when the provider looks down."""
        for outcome in outcomes:
            self.counts.add(outcome)
            if outcome.error:
                self._error(str(outcome.item.pk), outcome.error)
            if outcome.result in (Result.FAILED, Result.DEAD_LETTERED):
                self.failures_in_a_row += 1
            elif outcome.result is not Result.SKIPPED:
                self.failures_in_a_row = 0
        self.unsaved += len(outcomes)
        if self.unsaved >= self.options.batch_size or (outcomes and not dispatcher.pool.pending):
            self._save(dispatcher)
            if check and self.lock is not None:
                self.lock.refresh()
        if check and self.failures_in_a_row >= FAILURES_BEFORE_STOPPING:
            raise ProviderDown(f"{self.failures_in_a_row} polls failed in a row; the next run tries again")

    def _on_error(self, poller: CallPoller, item: WorkItem, exc: Exception) -> Outcome:
        message = f"unexpected {type(exc).__name__}: {exc}"[:500]
        if self.options.dry_run:
            return Outcome(item, Result.FAILED, error=message)
        try:
            return poller.record_failure(item, message)
        except Exception:  # noqa: BLE001 - a worker's boundary: the batch must still complete
            logger.exception("could not record the failed poll of call %s", item.pk)
            return Outcome(item, Result.FAILED, error=message)

    def _error(self, where: str, message: str) -> None:
        self.error_count += 1
        self.errors.append({"at": self.clock().isoformat(), "where": where, "error": message})
        del self.errors[:-MAX_ERRORS]

    def _save(self, dispatcher: Dispatcher) -> None:
        self.unsaved = 0
        self.cursor = dispatcher.done_cursor
        if self.record is not None:
            run_checkpoint(run=self.record, counts=self.counts, cursor=self.cursor, errors=self.errors,
                           now=self.clock())

    def _finish(self, status: str, outcome: str, pass_id: uuid.UUID) -> PollSummary:
        now = self.clock()
        lag = lag_seconds(now)
        if self.record is not None:
            run_finish(run=self.record, status=status, counts=self.counts, cursor=self.cursor, errors=self.errors,
                       lag_seconds=lag, outcome=outcome, now=now)
        summary = PollSummary(
            status=DRY_RUN if self.options.dry_run and status != PollRunStatus.FAILED else status,
            trigger=self.options.trigger, run_id=str(self.record.pk) if self.record else None,
            pass_id=str(pass_id), resumed=bool(self.record and self.record.resumed_from_id),
            duration_seconds=self.monotonic() - self.started, lag_seconds=lag, outcome=outcome,
            errors=self.error_count, counts=self.counts,
        )
        publish_run_metrics(summary.as_dict())
        return summary

