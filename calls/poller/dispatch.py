"""Polls run concurrently: a small pool of threads, and a dispatcher that keeps it busy while the pass goes on
listing and choosing calls, and knows which groups of work (a list page, a batch) are complete, so the
checkpoint only ever points at work that is done."""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from calls.poller.selection import WorkItem
from calls.poller.work import Fetched, Outcome, Result

logger = logging.getLogger(__name__)


class WorkerPool:
    """``size`` threads asking the provider about calls, and one thread applying what they fetched, as many
    reports at a time as have arrived (at most ``apply_batch``): under load, one transaction takes dozens of
    calls, so the pass is not held up by a commit and a credit-account lock per call. Each thread closes its
    database connections when the pool closes."""

    def __init__(self, size: int, fetch: Callable[[WorkItem], Outcome | Fetched],
                 apply: Callable[[Sequence[Fetched]], list[Outcome]],
                 on_error: Callable[[WorkItem, Exception], Outcome], *, apply_batch: int = 100) -> None:
        self._fetch = fetch
        self._apply = apply
        self._on_error = on_error
        self._apply_batch = apply_batch
        self._tasks: queue.Queue[WorkItem | None] = queue.Queue()
        self._fetched: queue.Queue[Fetched | None] = queue.Queue()
        self._results: queue.Queue[Outcome] = queue.Queue()
        self.pending = 0
        self._threads = [threading.Thread(target=self._loop, name=f"poller-{n}", daemon=True) for n in range(size)]
        self._applier = threading.Thread(target=self._apply_loop, name="poller-apply", daemon=True)
        for thread in [*self._threads, self._applier]:
            thread.start()

    def submit(self, item: WorkItem) -> None:
        self.pending += 1
        self._tasks.put(item)

    def results(self, *, wait: bool) -> list[Outcome]:
        """The outcomes ready now; with ``wait``, at least one when any poll is pending."""
        ready: list[Outcome] = []
        if wait and self.pending:
            ready.append(self._results.get())
        while True:
            try:
                ready.append(self._results.get_nowait())
            except queue.Empty:
                break
        self.pending -= len(ready)
        return ready

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join(timeout=60)
        self._fetched.put(None)
        self._applier.join(timeout=60)

    def _loop(self) -> None:
        try:
            while (item := self._tasks.get()) is not None:
                try:
                    fetched = self._fetch(item)
                except Exception as exc:  # noqa: BLE001 - a worker's boundary: the pass goes on, the error is kept
                    logger.exception("polling call %s failed unexpectedly", item.pk)
                    fetched = self._on_error(item, exc)
                if isinstance(fetched, Fetched):
                    self._fetched.put(fetched)
                else:
                    self._results.put(fetched)
        finally:
            connections.close_all()

    def _apply_loop(self) -> None:
        try:
            while (first := self._fetched.get()) is not None:
                batch, closing = [first], False
                while len(batch) < self._apply_batch:
                    try:
                        more = self._fetched.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        closing = True
                        break
                    batch.append(more)
                for outcome in self._applied(batch):
                    self._results.put(outcome)
                if closing:
                    break
        finally:
            connections.close_all()

    def _applied(self, batch: list[Fetched]) -> list[Outcome]:
        try:
            return self._apply(batch)
        except Exception as exc:  # noqa: BLE001 - the applier's boundary: every poll of the batch gets an outcome
            logger.exception("applying %d reports failed unexpectedly", len(batch))
            return [self._on_error(fetched.item, exc) for fetched in batch]


@dataclass
class _Group:
    cursor: dict[str, Any]
    pending: set[uuid.UUID] = field(default_factory=set)
    skipped: bool = False  # some of its polls were skipped: never complete in this run


class Dispatcher:
    """Hands work to the pool as it is found, at most ``max_pending`` polls ahead, and never the same call
    twice in a run. ``done_cursor`` is the cursor of the last group that is complete along with every group
    submitted before it; ``out_of_time`` turns true once a poll was skipped for the budget."""

    def __init__(self, pool: WorkerPool, *, max_pending: int, cursor: dict[str, Any]) -> None:
        self.pool = pool
        self.max_pending = max_pending
        self.done_cursor = cursor
        self.out_of_time = False
        self._groups: deque[_Group] = deque()
        self._group_of: dict[uuid.UUID, _Group] = {}
        self._submitted: set[uuid.UUID] = set()

    def submit(self, items: Sequence[WorkItem], cursor: dict[str, Any]) -> list[Outcome]:
        """Queue ``items`` as one group; the outcomes that completed meanwhile."""
        group = _Group(cursor)
        self._groups.append(group)
        for item in items:
            if item.pk in self._submitted:
                continue
            self._submitted.add(item.pk)
            group.pending.add(item.pk)
            self._group_of[item.pk] = group
            self.pool.submit(item)
        outcomes = self.collect(wait=False)
        while self.pool.pending > self.max_pending:
            outcomes += self.collect(wait=True)
        return outcomes

    def collect(self, *, wait: bool) -> list[Outcome]:
        outcomes = self.pool.results(wait=wait)
        for outcome in outcomes:
            group = self._group_of.pop(outcome.item.pk)
            group.pending.discard(outcome.item.pk)
            if outcome.result is Result.SKIPPED:
                group.skipped = self.out_of_time = True
        while self._groups and not self._groups[0].pending and not self._groups[0].skipped:
            self.done_cursor = self._groups.popleft().cursor
        return outcomes

    def finish(self) -> list[Outcome]:
        """Wait for every pending poll."""
        outcomes = self.collect(wait=False)
        while self.pool.pending:
            outcomes += self.collect(wait=True)
        return outcomes
