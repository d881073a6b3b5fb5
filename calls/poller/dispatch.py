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
from calls.poller.work import Outcome, Result

logger = logging.getLogger(__name__)


class WorkerPool:
    """``size`` threads polling calls; each closes its database connections when the pool closes."""

    def __init__(self, size: int, work: Callable[[WorkItem], Outcome],
                 on_error: Callable[[WorkItem, Exception], Outcome]) -> None:
        self._work = work
        self._on_error = on_error
        self._tasks: queue.Queue[WorkItem | None] = queue.Queue()
        self._results: queue.Queue[Outcome] = queue.Queue()
        self.pending = 0
        self._threads = [threading.Thread(target=self._loop, name=f"poller-{n}", daemon=True) for n in range(size)]
        for thread in self._threads:
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

    def _loop(self) -> None:
        try:
            while (item := self._tasks.get()) is not None:
                try:
                    outcome = self._work(item)
                except Exception as exc:  # noqa: BLE001 - a worker's boundary: the pass goes on, the error is kept
                    logger.exception("polling call %s failed unexpectedly", item.pk)
                    outcome = self._on_error(item, exc)
                self._results.put(outcome)
        finally:
            connections.close_all()


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
