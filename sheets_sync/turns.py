"""One drain turn for one spreadsheet: read back after an ambiguous append if needed, then one data
request (a values.batchUpdate of known rows, an append of new ones, or, when both wait, both in one
spreadsheets.batchUpdate of cell requests), then the bookkeeping. See
``sheets_sync.drain`` for the rules.

Quota and breaker errors propagate (the drain stops); every other ``SheetsError`` is recorded on the
entries and the spreadsheet, which keep their rows for a later turn.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sheets_sync import bulk, layout, tabs
from sheets_sync.bulk import Pending
from sheets_sync.client import SheetsClient
from sheets_sync.errors import Ambiguous, BreakerOpen, NoToken, Permanent, RateLimited, SheetsError
from sheets_sync.models import OutboxEntry, SpreadsheetStatus
from sheets_sync.scheduler import status_for

logger = logging.getLogger(__name__)
T = TypeVar("T")

SCAN_ROWS = 20_000  # entries looked at per turn: more than fit in one request
REQUEST_OVERHEAD_BYTES = 1_024
CELL_DATA_BYTES = 40  # {"userEnteredValue": {"stringValue": ...}} around each value of a cell request


class Stop(Exception):  # noqa: N818 - control flow: the whole drain stops
    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class ProgressHeld(Stop):
    """A progress request found no token (the reserve and the last burst slot are critical rows'): the
    drain goes on with critical rows only."""


@dataclass
class TurnOutcome:
    requests: int = 0
    rows_written: int = 0
    appended: int = 0
    updated: int = 0
    reconciled: int = 0
    failures: int = 0
    emptied: bool = False
    critical: bool = False  # the turn's batch carries a critical row
    errors: list[str] = field(default_factory=list)


def turn(client: SheetsClient, spreadsheet_id: str, outcome: TurnOutcome, *, oldest_first: bool = False,
         critical_only: bool = False) -> None:
    status = status_for(spreadsheet_id)
    try:
        for tab in list(status.reconcile_tabs or []):
            outcome.requests += 1
            outcome.reconciled += reconcile(client, status, tab)
        plan = _plan(spreadsheet_id, oldest_first=oldest_first, critical_only=critical_only)
        rows_client = _for(client, plan.batch if plan else [], outcome)
        if plan is not None and rows_client.reserve("write", spreadsheet_id):
            # It waited for its token (pacing): rows committed meanwhile go in this request, not the next.
            plan = _plan(spreadsheet_id, oldest_first=oldest_first, critical_only=critical_only)
        if plan is None:
            outcome.emptied = True
            return
        if plan.tab is None:
            _update(rows_client, status, plan.batch, outcome)
        else:
            outcome.requests += tabs.ensure_tab(rows_client, status, plan.tab)
            if plan.combined:
                _write_cells(rows_client, status, plan.tab, plan.batch, outcome)
            else:
                _append(rows_client, status, plan.tab, [entry for entry, _ in plan.batch], outcome)
        outcome.emptied = not OutboxEntry.objects.filter(spreadsheet_id=spreadsheet_id).exists()
    except (BreakerOpen, NoToken, RateLimited):
        raise
    except SheetsError as exc:
        outcome.requests += 1
        outcome.failures += 1
        outcome.errors.append(f"{spreadsheet_id}: {exc}")
        _failed(status, exc)


@dataclass(frozen=True)
class _Plan:
    tab: str | None  # None: only rows whose place is known (values.batchUpdate); else new rows of this tab too
    batch: list[tuple[Pending, str]]  # the entries and their ranges, as many as fit in one request

    @property
    def combined(self) -> bool:
        """New rows and known rows together: one spreadsheets.batchUpdate of cell requests."""
        return self.tab is not None and any(entry.row is not None for entry, _ in self.batch)


def _plan(spreadsheet_id: str, *, oldest_first: bool, critical_only: bool) -> _Plan | None:
    """What the turn's data request carries: the waiting rows whose place is known and the new rows of one
    month tab (the first waiting new row's), in their order, as many as fit; None when nothing waits."""
    entries = bulk.pending(spreadsheet_id, oldest_first=oldest_first, critical_only=critical_only, limit=SCAN_ROWS)
    if not entries:
        return None
    tab = next((entry.tab for entry in entries if entry.row is None), None)
    if tab is None:
        return _Plan(None, _fit(entries, _row_range))
    chosen = [entry for entry in entries if entry.row is not None or entry.tab == tab]
    if all(entry.row is None for entry in chosen):
        return _Plan(tab, _fit(chosen, lambda e: layout.table_range(tab)))
    return _Plan(tab, _fit(chosen, lambda e: _row_range(e) if e.row else layout.table_range(tab),
                           cell_bytes=CELL_DATA_BYTES))


def _fit(entries: list[Pending], range_of: Any, *, cell_bytes: int = 0) -> list[tuple[Pending, str]]:
    """The leading entries whose rows fit in one request under SHEETS_MAX_BATCH_BYTES (at least one);
    ``cell_bytes``: what each value adds beyond itself (a cell request's CellData)."""
    budget = settings.SHEETS_MAX_BATCH_BYTES - REQUEST_OVERHEAD_BYTES
    chosen: list[tuple[Pending, str]] = []
    for entry in entries:
        range_ = range_of(entry)
        budget -= layout.row_bytes(range_, entry.payload) + cell_bytes * len(entry.payload)
        if budget < 0 and chosen:
            break
        chosen.append((entry, range_))
    return chosen


def _row_range(entry: Pending) -> str:
    return layout.row_range(*entry.row) if entry.row else ""


def _for(client: SheetsClient, batch: list[tuple[Pending, str]], outcome: TurnOutcome) -> SheetsClient:
    """The client for this batch's requests: critical if it carries a critical row (``SheetsClient.for_rows``)."""
    outcome.critical = any(entry.critical for entry, _ in batch)
    return client.for_rows(critical=outcome.critical)


def _update(client: SheetsClient, status: SpreadsheetStatus, batch: list[tuple[Pending, str]],
            outcome: TurnOutcome) -> None:
    try:
        client.batch_update(status.spreadsheet_id, [(range_, [entry.payload]) for entry, range_ in batch])
    except SheetsError as exc:
        _attempted([entry for entry, _ in batch], exc)
        raise
    outcome.requests += 1
    outcome.updated += len(batch)
    outcome.rows_written += len(batch)
    _done(status, [entry for entry, _ in batch])


def _append(client: SheetsClient, status: SpreadsheetStatus, tab: str, batch: list[Pending],
            outcome: TurnOutcome) -> None:
    first, _last = _unconfirmed(status, tab, batch, lambda: client.append(
        status.spreadsheet_id, layout.table_range(tab), [e.payload for e in batch]))
    outcome.requests += 1
    outcome.appended += len(batch)
    outcome.rows_written += len(batch)
    tabs.grow(status, tab, len(batch))
    tabs.wrote_through(status, tab, _last)
    _done(status, batch, appended_tab=tab, first_row=first)


def _write_cells(client: SheetsClient, status: SpreadsheetStatus, tab: str, batch: list[tuple[Pending, str]],
                 outcome: TurnOutcome) -> None:
    """Known rows and new rows of ``tab`` in one spreadsheets.batchUpdate (updateCells, then appendCells),
    whose answer carries the call-id column below the last row known to hold data: where the new rows
    landed. Like an append it is not idempotent, so the tab is marked for read-back meanwhile; rows that
    did not land where the answer says (someone wrote below the table) stay in the outbox, and the next
    turn reads them back."""
    known = [(entry, entry.row) for entry, _ in batch if entry.row is not None]
    updated = [entry for entry, _ in known]
    appended = [entry for entry, _ in batch if entry.row is None]
    ids, cost = tabs.sheet_ids(client, status, {tab} | {row_tab for _, (row_tab, _) in known})
    outcome.requests += cost
    if tab not in ids or any(row_tab not in ids for _, (row_tab, _) in known):
        _update(client, status, [(entry, _row_range(entry)) for entry in updated], outcome)  # a tab has gone
        return
    start = tabs.last_row(status, tab) + 1
    first, texts = _unconfirmed(status, tab, [entry for entry, _ in batch], lambda: client.write_cells(
        status.spreadsheet_id, updates=[(ids[row_tab], number, entry.payload) for entry, (row_tab, number) in known],
        sheet_id=ids[tab], appends=[entry.payload for entry in appended],
        response_range=f"{layout.quoted(tab)}!A{start}:A"))
    positions: dict[str, int] = {}
    for offset, text in enumerate(texts):
        positions.setdefault(text, first + offset)
    rows = [positions.get(str(entry.call_id)) for entry in appended]
    outcome.requests += 1
    outcome.updated += len(updated)
    outcome.rows_written += len(batch)
    if rows and rows[0] is not None and rows == list(range(rows[0], rows[0] + len(rows))):
        last = rows[0] + len(rows) - 1
        tabs.grow(status, tab, max(0, last - int((status.tabs or {}).get(tab, {}).get("rows") or 0)))
        tabs.wrote_through(status, tab, last)
        outcome.appended += len(appended)
        _done(status, appended, appended_tab=tab, first_row=rows[0], updated=updated)
    else:
        logger.warning("spreadsheet %s tab %s: new rows not found below row %d after a write; reading them back",
                       status.spreadsheet_id, tab, start)
        _done(status, updated)


def _unconfirmed(status: SpreadsheetStatus, tab: str, entries: list[Pending], send: Callable[[], T]) -> T:
    """``send()`` a request that appends to ``tab``: from here until its answer the rows may land unseen, so
    the tab is marked for read-back; an ``Ambiguous`` failure leaves the mark (the next turn reads the id
    column back first), a certain one clears it. Failures are counted on ``entries``."""
    _mark(status, tab, True)
    try:
        return send()
    except Ambiguous as exc:
        _attempted(entries, exc)
        raise
    except SheetsError as exc:
        _mark(status, tab, False)  # refused or never sent: nothing was written
        _attempted(entries, exc)
        raise


def _mark(status: SpreadsheetStatus, tab: str, on: bool) -> None:
    marks = [t for t in (status.reconcile_tabs or []) if t != tab] + ([tab] if on else [])
    if marks != status.reconcile_tabs:
        status.reconcile_tabs = marks
        status.save(update_fields=["reconcile_tabs"])


def reconcile(client: SheetsClient, status: SpreadsheetStatus, tab: str) -> int:
    """Read the tab's call-id column and record the rows of calls already in it; returns how many."""
    column = client.get_values(status.spreadsheet_id, layout.id_column_range(tab))
    positions: dict[str, int] = {}
    for number, row in enumerate(column, start=1):
        if row and row[0] and row[0] not in positions:
            positions[str(row[0])] = number
    found: dict[uuid.UUID, int] = {}
    for text, number in positions.items():
        try:
            found.setdefault(uuid.UUID(text), number)
        except ValueError:
            continue  # the header, or a row someone typed
    existing = bulk.rows_found(found, spreadsheet_id=status.spreadsheet_id, tab=tab, now=timezone.now())
    if existing:
        logger.info("spreadsheet %s tab %s: %d rows found by reading back after an unconfirmed append",
                    status.spreadsheet_id, tab, existing)
    if positions:
        tabs.wrote_through(status, tab, max(positions.values()))
    _mark(status, tab, False)
    return existing


def _attempted(entries: list[Pending], exc: SheetsError) -> None:
    if isinstance(exc, (NoToken, BreakerOpen)):
        return  # nothing was sent
    bulk.attempted(entries, str(exc))


def _done(status: SpreadsheetStatus, entries: list[Pending], *, appended_tab: str | None = None,
          first_row: int = 0, updated: list[Pending] | None = None) -> None:
    """Record a request that succeeded: entries written at their latest version leave, an append's rows
    are recorded (see ``sheets_sync.bulk``), and the spreadsheet's figures move, in one transaction.
    ``updated``: known rows the same request wrote beside the appended ``entries``."""
    now = timezone.now()
    with transaction.atomic():
        bulk.batch_written(updated or [], spreadsheet_id=status.spreadsheet_id, now=now)
        bulk.batch_written(entries, spreadsheet_id=status.spreadsheet_id, appended_tab=appended_tab,
                           first_row=first_row, now=now)
        if appended_tab is not None:
            status.reconcile_tabs = [t for t in (status.reconcile_tabs or []) if t != appended_tab]
        status.last_success_at = now
        status.last_error = ""
        fields = ["last_success_at", "last_error", "reconcile_tabs", "tabs", "cell_count", "size_warning",
                  "size_warning_at"]
        if status.access_ok is not True or status.alert:
            status.access_ok, status.alert, status.access_error, status.blocked_until = True, "", "", None
            fields += ["access_ok", "alert", "access_error", "blocked_until"]
        SpreadsheetStatus.objects.filter(pk=status.pk).update(
            **{name: getattr(status, name) for name in fields},
            rows_written=F("rows_written") + len(entries) + len(updated or []), requests=F("requests") + 1)


def _failed(status: SpreadsheetStatus, exc: SheetsError) -> None:
    now = timezone.now()
    message = str(exc)[:1000]
    status.last_error, status.last_error_at = message, now
    fields = ["last_error", "last_error_at"]
    if isinstance(exc, Permanent):
        alert_spreadsheet(status, exc)
        fields += ["alert", "alert_at", "access_ok", "access_error", "blocked_until", "tabs"]
    status.save(update_fields=fields)


def alert_spreadsheet(status: SpreadsheetStatus, exc: Permanent) -> None:
    """Sheets refused the spreadsheet (not found, not shared, bad range): alert staff, naming it, and
    leave it alone until SHEETS_RECHECK_SECONDS pass or staff re-check it. Not saved."""
    now = timezone.now()
    status.alert = permanent_message(status.spreadsheet_id, exc)
    status.alert_at = now
    if exc.code in {"permission_denied", "not_found", "unauthenticated", "credentials"}:
        status.access_ok, status.access_error = False, status.alert
    status.blocked_until = now + timedelta(seconds=settings.SHEETS_RECHECK_SECONDS)
    status.tabs = {}  # a tab may have been renamed or deleted: read the metadata again next time
    logger.warning("Sheets alert: %s", status.alert)


def permanent_message(spreadsheet_id: str, exc: Permanent) -> str:
    """What staff should do, by the kind of refusal."""
    hints = {
        "not_found": "no such spreadsheet: check the id",
        "permission_denied": "not shared with the service account: share it as an editor",
        "unauthenticated": "the service-account key was refused: check SHEETS_CREDENTIALS",
        "credentials": "the service-account key was refused: check SHEETS_CREDENTIALS",
        "invalid_argument": "Sheets refused the request (a bad tab or range)",
    }
    return f"spreadsheet {spreadsheet_id}: {hints.get(exc.code, exc.code)} ({exc})"
