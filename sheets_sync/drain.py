"""Draining the outbox into Sheets: ``drain_once`` serves the waiting spreadsheets in turns (see
``sheets_sync.scheduler``) until the outbox is empty, the quota or the breaker stops it, or its budget
is spent, and returns what it did.

One turn is one data request for one spreadsheet, built from its waiting entries, critical first, then
oldest: entries whose call already has a row go in one ``values.batchUpdate`` (as many ranges as fit
under ``SHEETS_MAX_BATCH_BYTES``: one quota unit however many), entries of new calls in one ``append``
to their month tab, whose answer gives the rows each call now has; when both wait, both in one
``spreadsheets.batchUpdate`` (``sheets_sync.turns._write_cells``), so a critical row never waits for a
request of the other kind. An entry leaves the outbox only after
its request succeeded and only if no newer change replaced it meanwhile (its ``version``); repeated
changes of a call before a turn were already coalesced into the entry's latest values. The turn's
database work is a fixed handful of statements whatever the batch size (``sheets_sync.bulk``).

Critical rows first, in the quota too: a request whose batch carries a critical row is critical for the
quota gate, which keeps a reserve and the last slot of its burst for such requests (``quota.Pacing``).
A turn takes its write token before its data request; when it had to wait for it (pacing spreads an
account's requests one a second), it chooses its rows again, so what was committed meanwhile goes now.
A progress request waits for a token only briefly; when it gets none, the drain goes on with critical
rows only (they may still have the reserve) and reports ``quota``.

Append (and so a combined write) is not idempotent. Before an append the tab is marked for read-back;
the mark is cleared when the append's answer (or a certain refusal) comes back. A mark left by an
``Ambiguous`` failure, or by a drainer that died mid-request, makes the next turn read the call-id
column first (1 read) and record the rows the call ids are already in, so those calls get a batchUpdate
rather than a second row.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache

from sheets_sync import scheduler, turns
from sheets_sync.client import SheetsClient
from sheets_sync.errors import BreakerOpen, NoToken, RateLimited

logger = logging.getLogger(__name__)

RESYNC_KEY = "sheets_sync:resync-oldest-first"  # set when the breaker closes: the backlog goes oldest-first


@dataclass
class DrainReport:
    requests: int = 0
    rows_written: int = 0
    appended: int = 0
    updated: int = 0
    reconciled: int = 0
    failures: int = 0
    turns: int = 0
    spreadsheets: int = 0
    stopped: str = ""  # empty, budget, quota, breaker, busy (leased elsewhere), failing, disabled
    wait: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def drain_once(*, client: SheetsClient, spreadsheet_ids: Iterable[str] | None = None, max_requests: int | None = None,
               max_seconds: float | None = None, oldest_first: bool = False, critical_only: bool = False,
               worker: str | None = None, clock: Callable[[], float] = time.monotonic) -> DrainReport:
    """Drain until nothing waits (``stopped="empty"``) or something stops it. Safe to run in any number of
    processes at once: a spreadsheet is served by one of them at a time."""
    report = DrainReport()
    if not client.enabled:
        report.stopped = "disabled"
        return report
    worker = worker or worker_name()
    ids = list(spreadsheet_ids) if spreadsheet_ids is not None else None
    deadline = clock() + max_seconds if max_seconds is not None else None
    drr = scheduler.DeficitRoundRobin()
    served: set[str] = set()
    failed: set[str] = set()  # a spreadsheet whose request failed waits for the next drain, not the next round

    def over_budget() -> bool:
        return ((max_requests is not None and report.requests >= max_requests)
                or (deadline is not None and clock() >= deadline))

    progress_held: turns.Stop | None = None
    while True:
        try:
            _rounds(client, ids, drr=drr, worker=worker, report=report, served=served, failed=failed,
                    oldest_first=oldest_first, critical_only=critical_only, over_budget=over_budget)
            break
        except turns.ProgressHeld as held:  # progress waits for tokens; critical rows may still use the reserve
            progress_held, critical_only = held, True
        except turns.Stop as stop:
            report.stopped, report.wait = stop.reason, stop.wait
            break
    if progress_held is not None and report.stopped == "empty":  # no critical rows left; progress rows wait
        report.stopped, report.wait = progress_held.reason, progress_held.wait
    report.spreadsheets = len(served)
    return report


def _rounds(client: SheetsClient, ids: list[str] | None, *, drr: scheduler.DeficitRoundRobin, worker: str,
            report: DrainReport, served: set[str], failed: set[str], oldest_first: bool, critical_only: bool,
            over_budget: Callable[[], bool]) -> None:
    """Rounds until nothing waits or something stops the drain (``report.stopped`` says what)."""
    while True:
        resync = oldest_first or bool(cache.get(RESYNC_KEY))
        waiting = scheduler.candidates(worker=worker, spreadsheet_ids=ids, critical_only=critical_only)
        if not waiting:
            report.stopped = "empty"
            if resync:
                cache.delete(RESYNC_KEY)
            return
        found = [c for c in waiting if c.spreadsheet_id not in failed]
        if not found:
            report.stopped = "failing"
            return
        if not _round(client, found, drr=drr, worker=worker, report=report, served=served, failed=failed,
                      resync=resync, critical_only=critical_only, over_budget=over_budget):
            return


def _round(client: SheetsClient, found: list[scheduler.Candidate], *, drr: scheduler.DeficitRoundRobin, worker: str,
           report: DrainReport, served: set[str], failed: set[str], resync: bool, critical_only: bool,
           over_budget: Callable[[], bool]) -> bool:
    """One round over the candidates; False when the drain should stop (``report.stopped`` says why)."""
    progressed = owing = False
    for candidate in scheduler.round_order(found, oldest_first=resync):
        if over_budget():
            report.stopped = "budget"
            return False
        if not scheduler.turn_begin(candidate, drr):
            owing = True
            continue
        sid = candidate.spreadsheet_id
        if not scheduler.lease_acquire(sid, worker=worker):
            continue
        outcome = turns.TurnOutcome()
        try:
            turns.turn(client, sid, outcome, oldest_first=resync, critical_only=critical_only)
        except (BreakerOpen, NoToken, RateLimited) as exc:
            wait = getattr(exc, "wait", 0.0) or 0.0
            if isinstance(exc, NoToken) and not outcome.critical and not critical_only:
                raise turns.ProgressHeld("quota", wait) from exc
            raise turns.Stop(_stop_reason(exc), wait) from exc
        finally:
            _add(report, outcome)
            scheduler.lease_release(sid, worker=worker)
            scheduler.turn_end(sid, drr, cost=outcome.requests, emptied=outcome.emptied)
        served.add(sid)
        if outcome.failures:
            failed.add(sid)
        progressed = progressed or outcome.requests > 0 or outcome.rows_written > 0
    if not progressed and not owing:
        report.stopped = "busy"  # every waiting spreadsheet is leased by another drainer or made no progress
        return False
    return True


def _stop_reason(exc: Exception) -> str:
    if isinstance(exc, BreakerOpen):
        return "breaker"
    return "quota"


def _add(report: DrainReport, outcome: turns.TurnOutcome) -> None:
    report.turns += 1
    report.requests += outcome.requests
    report.rows_written += outcome.rows_written
    report.appended += outcome.appended
    report.updated += outcome.updated
    report.reconciled += outcome.reconciled
    report.failures += outcome.failures
    report.errors.extend(outcome.errors)
