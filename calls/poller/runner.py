"""A poller pass: find what changed at the provider and bring every call in flight up to date.

1. List phase: ``GET /v1/calls`` sorted by ``updated_at``, newest first, from the last watermark less an
   overlap for clock skew, 1,000 calls a page. Calls of ours whose listed state differs from ours (or that
   ended) are asked about (``GET /v1/calls/{id}``); the others are confirmed as they are. Paging newest
   first, a call that changes meanwhile moves to the front: pages after it only repeat calls already seen,
   and the call itself is listed by the next pass.
2. Direct phase: calls the list cannot show (``calls.poller.selection``), or every call in flight when the
   list failed or is switched off, asked about one by one in batches, most overdue first.

Requests go through a shared budget (``POLLER_PROVIDER_RPS``, 429 Retry-After honoured) from a small pool of
threads. Every change goes through ``calls.services.call_apply_provider_update``. After each batch the run
record saves its checkpoint and the lock is refreshed; no request starts after the run's time budget.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from calls import errors
from calls.models import Call, PollRun, PollRunStatus
from calls.poller.locks import LockLost, RunnerLock, runner_lock
from calls.poller.metrics import publish_run_metrics
from calls.poller.pacing import RequestBudget
from calls.poller.selection import WorkItem, direct_candidates, lag_seconds, listed_work, still_due
from calls.poller.state import MAX_ERRORS, Counts, list_window_start, run_begin, run_checkpoint, run_finish
from calls.poller.work import CallPoller, Outcome, Result, WorkerPool
from calls.providers.base import CallPage, ListCallsQuery, Provider
from calls.providers.bland import BlandClient

logger = logging.getLogger(__name__)

LIST_PAGE = 1000  # Bland's maximum
LOCKED = "locked"
DRY_RUN = "dry_run"


@dataclass(frozen=True)
class PollOptions:
    max_seconds: float
    batch_size: int
    concurrency: int
    rate: float
    use_list: bool
    dry_run: bool = False
    trigger: str = "command"

    @classmethod
    def from_settings(cls, **overrides: Any) -> PollOptions:
        values: dict[str, Any] = {
            "max_seconds": float(settings.POLLER_MAX_SECONDS), "batch_size": settings.POLLER_BATCH_SIZE,
            "concurrency": settings.POLLER_CONCURRENCY, "rate": settings.POLLER_PROVIDER_RPS,
            "use_list": settings.POLLER_USE_LIST,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass
class PollSummary:
    status: str
    trigger: str
    run_id: str | None = None
    pass_id: str | None = None
    resumed: bool = False
    duration_seconds: float = 0.0
    lag_seconds: float = 0.0
    outcome: str = ""
    errors: int = 0
    counts: Counts = field(default_factory=Counts)

    @property
    def ok(self) -> bool:
        return self.status in (PollRunStatus.SUCCEEDED, PollRunStatus.PARTIAL, LOCKED, DRY_RUN)

    def as_dict(self) -> dict[str, Any]:
        counts = self.counts.as_dict()
        return {
            "status": str(self.status), "trigger": self.trigger, "run_id": self.run_id, "pass_id": self.pass_id,
            "resumed": self.resumed, "duration_seconds": round(self.duration_seconds, 3),
            "lag_seconds": round(self.lag_seconds, 3), "outcome": self.outcome, "errors": self.errors, **counts,
            "provider_requests": counts["list_requests"] + counts["detail_requests"],
        }


class _ProviderDown(Exception):
    """Every poll of a batch failed: the provider looks down, so the pass stops until the next run."""


def default_provider() -> BlandClient:
    """The poller's own Bland client: a short timeout, and no retries of its own (the pass retries 429s for
    all its workers at once and counts every request)."""
    return BlandClient(base_url=settings.BLAND_BASE_URL, api_key=settings.BLAND_API_KEY or
                       settings.BLAND_SIMULATOR_API_KEY, timeout=settings.POLLER_TIMEOUT_SECONDS, retries=0)


def poll_calls(*, options: PollOptions | None = None, provider: Provider | None = None,
               lock: RunnerLock | None = None, clock: Callable[[], datetime] = timezone.now,
               monotonic: Callable[[], float] = time.monotonic) -> PollSummary:
    """One pass (or the rest of an unfinished one) within ``options.max_seconds``.

    Returns at once with status ``locked`` when another runner holds the lock. A dry run takes no lock
    and writes nothing: it reports what a pass would change."""
    options = options or PollOptions.from_settings()
    started = monotonic()
    if lock is None and not options.dry_run:
        lock = runner_lock(ttl_seconds=max(120.0, 4 * options.batch_size / options.rate))
    if lock is not None and not options.dry_run and not lock.acquire():
        logger.info("poll_calls: another runner holds the poller lock (%s); this one has nothing to do",
                    lock.backend)
        return PollSummary(status=LOCKED, trigger=options.trigger, outcome="another runner holds the lock")
    client = provider or default_provider()
    try:
        return _Pass(options=options, provider=client, lock=None if options.dry_run else lock, clock=clock,
                     monotonic=monotonic, started=started).run()
    finally:
        if lock is not None and not options.dry_run:
            lock.release()
        if provider is None and isinstance(client, BlandClient):
            client.close()


def poll_calls_repeatedly(*, options: PollOptions, interval: float, provider: Provider | None = None,
                          sleep: Callable[[float], None] = time.sleep,
                          monotonic: Callable[[], float] = time.monotonic) -> Iterator[PollSummary]:
    """Passes every ``interval`` seconds until ``options.max_seconds`` is used up (a long-lived runner)."""
    end = monotonic() + options.max_seconds
    while True:
        began = monotonic()
        summary = poll_calls(options=replace(options, max_seconds=end - began), provider=provider,
                             monotonic=monotonic)
        yield summary
        wait = began + interval - monotonic()
        if not summary.ok or monotonic() + max(wait, 0) + 1 >= end:
            return
        if wait > 0:
            sleep(wait)


def _chunks(items: Sequence[WorkItem], size: int) -> Iterator[Sequence[WorkItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Pass:
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
        margin = min(settings.POLLER_TIMEOUT_SECONDS, 0.1 * options.max_seconds)
        self.request_deadline = started + options.max_seconds - margin
        self.budget = RequestBudget(options.rate, clock=monotonic)
        self.record: PollRun | None = None
        self.cursor: dict[str, Any] = {"phase": "list"}

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
        pool = WorkerPool(self.options.concurrency, poller.poll, lambda item, exc: self._on_error(poller, item, exc))
        status: str = PollRunStatus.FAILED
        outcome = ""
        try:
            status, outcome = self._phases(pool, pass_id, list_since)
        except LockLost as exc:
            logger.error("poll_calls stopped: %s", exc)
            outcome = f"stopped: {exc}"
        except _ProviderDown as exc:
            outcome = str(exc)
        except Exception as exc:  # noqa: BLE001 - the run's boundary: its record must say how it ended
            logger.exception("poll_calls pass failed")
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            pool.close()
        return self._finish(status, outcome, pass_id)

    def _phases(self, pool: WorkerPool, pass_id: uuid.UUID, list_since: datetime | None) -> tuple[str, str]:
        if self.cursor.get("phase") == "list":
            list_ok = bool(self.options.use_list and self.cursor.get("list_ok", True))
            if list_ok and list_since is not None:
                if not self._list_phase(pool, pass_id, list_since):
                    return PollRunStatus.PARTIAL, "stopped at its time budget while listing; the next run resumes"
                list_ok = bool(self.cursor.get("list_ok", True))
            self._save({"phase": "direct", "list_ok": list_ok})
        if not self._direct_phase(pool, pass_id, list_ok=bool(self.cursor.get("list_ok", True))):
            return PollRunStatus.PARTIAL, "stopped at its time budget; the next run resumes"
        return PollRunStatus.SUCCEEDED, "every call in flight is up to date"

    def _list_phase(self, pool: WorkerPool, pass_id: uuid.UUID, since: datetime) -> bool:
        """False when the budget ran out; True when listed to the end (or the list failed: then the direct
        phase asks about every call)."""
        position = int(self.cursor.get("position", 0))
        while True:
            page = self._list_page(since, position)
            if page is None:
                if self.monotonic() >= self.request_deadline:
                    return False
                self.cursor["list_ok"] = False
                return True
            self.counts.listed += len(page.calls)
            now = self.clock()
            work, unchanged = listed_work(page=page.calls, pass_id=pass_id, now=now)
            self.counts.confirmed += len(unchanged)
            if unchanged and not self.options.dry_run:
                Call.objects.filter(pk__in=unchanged).update(last_polled_at=now)
            for batch in _chunks(work, self.options.batch_size):
                if not self._process(pool, batch, {"phase": "list", "position": position}):
                    return False
            position += len(page.calls)
            self._save({"phase": "list", "position": position})
            if len(page.calls) < LIST_PAGE or position >= page.total_count:
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
        return None

    def _direct_phase(self, pool: WorkerPool, pass_id: uuid.UUID, *, list_ok: bool) -> bool:
        """Ask about the calls the list cannot show (all calls in flight without the list), in priority order
        fixed at the start of the phase; each batch is checked again just before it is polled."""
        planned = direct_candidates(pass_id=pass_id, now=self.clock(), list_ok=list_ok)
        for batch in _chunks(planned, self.options.batch_size):
            if self.monotonic() >= self.request_deadline:
                return False
            due = batch if self.options.dry_run else still_due(batch, pass_id=pass_id)
            if due and not self._process(pool, due, {"phase": "direct", "list_ok": list_ok}):
                return False
        return True

    def _process(self, pool: WorkerPool, batch: Sequence[WorkItem], cursor: dict[str, Any]) -> bool:
        """Poll a batch concurrently, then checkpoint. False when the budget ran out during it."""
        outcomes = pool.run(batch)
        for outcome in outcomes:
            self.counts.add(outcome)
            if outcome.error:
                self._error(str(outcome.item.pk), outcome.error)
        if self.lock is not None:
            self.lock.refresh()
        self._save(cursor)
        if any(outcome.result is Result.SKIPPED for outcome in outcomes):
            return False
        if len(outcomes) >= 3 and all(o.result in (Result.FAILED, Result.DEAD_LETTERED) for o in outcomes):
            raise _ProviderDown(f"every poll of a batch of {len(outcomes)} failed; the next run tries again")
        return True

    # --- bookkeeping

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

    def _save(self, cursor: dict[str, Any]) -> None:
        self.cursor = cursor
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
