"""The one place that talks to Google Sheets: google-api-python-client, wrapped once.

Every request, in order: it takes a quota token of its kind from both levels (waiting up to
``token_timeout``, else ``NoToken``); the circuit breaker must allow it (else ``BreakerOpen``; an open
breaker is checked before the token, so it spends none); it is sent
once (the library's own retries are off, ``num_retries=0``, so the breaker sees every failure); the
outcome is reported to the breaker and the monitor. Quota errors, 5xx, timeouts and connection
failures are retried with truncated exponential backoff (``sheets_sync.backoff``) up to
``SHEETS_MAX_RETRIES`` times, each retry with a fresh token. A write that is not idempotent (append,
addSheet) is never retried after a 5xx or a timeout: it may have been applied, so ``Ambiguous`` goes
back to the caller, who reads back before writing again. ``Permanent`` errors (400, 403 permission,
404, a rejected key) are not retried, never count against the breaker, and raise an alert naming the
spreadsheet. A 429 that reports the real limit (``quota_limit_value``) adapts the quota gate.

httplib2 is not thread-safe: each thread builds its own ``service`` per service account (a few ms,
from the discovery document packaged with the library), with an ``AuthorizedHttp`` carrying the
account's credentials and the request timeout. Values are written ``RAW``: text typed by a caller is
never interpreted as a formula.

Callers catch ``sheets_sync.errors.SheetsError`` (see that module for the tree).
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sheets_sync.accounts import ServiceAccount
from sheets_sync.backoff import Backoff
from sheets_sync.breaker import OPEN, UNAVAILABLE, CircuitBreaker
from sheets_sync.errors import (
    Ambiguous,
    BreakerOpen,
    NoToken,
    Permanent,
    RateLimited,
    SheetsError,
    Transient,
)
from sheets_sync.google_errors import error_from_response
from sheets_sync.monitor import SheetsMonitor
from sheets_sync.quota import Grant, QuotaGate
from sheets_sync.store import PerProcess

__all__ = ["DEFAULT_ENDPOINT", "Ambiguous", "BreakerOpen", "NoToken", "Permanent", "RateLimited", "SheetsClient",
           "SheetsError", "Transient", "sheets_client"]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://sheets.googleapis.com/"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
VALUE_INPUT = "RAW"
PROGRESS_TOKEN_WAIT_SECONDS = 2.0  # two pacing slots; longer means the window is spent: a later drain tries
RESELECT_AFTER_SECONDS = 0.05  # a reserve() that waited longer than this is worth choosing the rows again
_ROWS = re.compile(r"![A-Za-z]*(\d+)(?::[A-Za-z]*(\d+))?$")

Make = Callable[[Any], Any]  # service -> HttpRequest


class _Outcome(Exception):  # noqa: N818 - internal: an attempt's error with its monitor label and breaker verdict
    def __init__(self, error: SheetsError, label: str, *, counts_as_failure: bool, answered: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.label = label
        self.counts_as_failure = counts_as_failure
        self.answered = answered  # Sheets itself answered (so it is up, whatever it said)


class SheetsClient:
    def __init__(self, *, accounts: Sequence[ServiceAccount], gate: QuotaGate, breaker: CircuitBreaker,
                 monitor: SheetsMonitor | None = None, endpoint: str = DEFAULT_ENDPOINT, timeout: float = 30.0,
                 backoff: Backoff | None = None, token_timeout: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.accounts = list(accounts)
        self.gate = gate
        self.breaker = breaker
        self.monitor = monitor
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        # Waiting for a token is bounded: by default one full quota window.
        self.token_timeout = gate.window if token_timeout is None else token_timeout
        self.critical = True  # requests count as critical unless for_rows(critical=False) says otherwise
        self._held: dict[str, Grant] = {}  # tokens taken ahead (reserve) for the next request of each kind
        self._sleep = sleep
        self._local = threading.local()

    @property
    def enabled(self) -> bool:
        return bool(self.accounts)

    def for_rows(self, *, critical: bool) -> SheetsClient:
        """This client for the requests of a batch with (``critical=True``) or without critical rows. The
        gate keeps its reserve and the last slot of its burst for critical requests; a progress request
        waits for a token at most ``PROGRESS_TOKEN_WAIT_SECONDS``, so a drain never holds a spreadsheet
        for most of a minute while a critical row's drain finds it busy."""
        other = copy.copy(self)
        other.critical = critical
        other._held = {}
        if not critical:
            other.token_timeout = min(self.token_timeout, PROGRESS_TOKEN_WAIT_SECONDS)
        return other

    def reserve(self, kind: str, spreadsheet_id: str = "") -> bool:
        """Take the token of this client's next ``kind`` request now, waiting for it as the request would
        (``NoToken``/``BreakerOpen`` as a request raises them). True when it had to wait: what the request
        carries is then best chosen again, so rows committed meanwhile go with it. Use it on a client of
        ``for_rows``, which has tokens of its own."""
        started = time.monotonic()
        self._held[kind] = self._take(kind, spreadsheet_id)
        return time.monotonic() - started > RESELECT_AFTER_SECONDS

    # --- the Sheets operations we use ------------------------------------------------------------
    def get_values(self, spreadsheet_id: str, range_: str) -> list[list[str]]:
        response = self._request("read", spreadsheet_id, idempotent=True, make=lambda service: service.spreadsheets(
        ).values().get(spreadsheetId=spreadsheet_id, range=range_))
        return list(response.get("values", []))

    def batch_get(self, spreadsheet_id: str, ranges: list[str]) -> list[list[list[str]]]:
        response = self._request("read", spreadsheet_id, idempotent=True, make=lambda service: service.spreadsheets(
        ).values().batchGet(spreadsheetId=spreadsheet_id, ranges=list(ranges)))
        return [list(item.get("values", [])) for item in response.get("valueRanges", [])]

    def batch_update(self, spreadsheet_id: str, data: list[tuple[str, list[list[object]]]]) -> int:
        """Write every range in one request (one write of the quota); returns the rows updated.
        Idempotent (fixed ranges), so it is retried; a final 5xx/timeout is still ``Ambiguous``."""
        body = {"valueInputOption": VALUE_INPUT, "data": [{"range": range_, "values": values}
                                                          for range_, values in data]}
        rows = sum(len(values) for _, values in data)
        response = self._request("write", spreadsheet_id, idempotent=True, rows=rows, make=lambda service: (
            service.spreadsheets().values().batchUpdate(spreadsheetId=spreadsheet_id, body=body)))
        return int(response.get("totalUpdatedRows", rows))

    def append(self, spreadsheet_id: str, range_: str, rows: list[list[object]]) -> tuple[int, int]:
        """Append rows after the table in ``range_``; returns the first and last row numbers written.
        Not idempotent: after ``Ambiguous`` read the rows back before appending again."""
        response = self._request("write", spreadsheet_id, idempotent=False, rows=len(rows), make=lambda service: (
            service.spreadsheets().values().append(
                spreadsheetId=spreadsheet_id, range=range_, valueInputOption=VALUE_INPUT,
                insertDataOption="INSERT_ROWS", body={"values": rows})))
        updated = str(response.get("updates", {}).get("updatedRange", ""))
        match = _ROWS.search(updated)
        if not match:
            raise Ambiguous(f"Sheets did not say where the rows went (updatedRange {updated!r})",
                            spreadsheet_id=spreadsheet_id)
        first = int(match.group(1))
        return first, int(match.group(2) or first)

    def write_cells(self, spreadsheet_id: str, *, updates: list[tuple[int, int, list[object]]], sheet_id: int,
                    appends: list[list[object]], response_range: str) -> tuple[int, list[str]]:
        """One ``spreadsheets.batchUpdate`` (one write of the quota, applied whole or not at all): each of
        ``updates`` (sheet id, row number, values) over its row, then ``appends`` after the last row with
        data in sheet ``sheet_id``. Returns the first cell of each row of ``response_range`` after the writes
        (the first row's number, the texts): where the appended rows landed. Not idempotent (it appends):
        after ``Ambiguous`` read the rows back before appending again."""
        requests: list[dict[str, Any]] = [
            {"updateCells": {"start": {"sheetId": sheet, "rowIndex": row - 1, "columnIndex": 0},
                             "rows": [_row_data(values)], "fields": "userEnteredValue"}}
            for sheet, row, values in updates]
        if appends:
            requests.append({"appendCells": {"sheetId": sheet_id, "rows": [_row_data(values) for values in appends],
                                             "fields": "userEnteredValue"}})
        body = {"requests": requests, "includeSpreadsheetInResponse": True, "responseRanges": [response_range],
                "responseIncludeGridData": True}
        response = self._request("write", spreadsheet_id, idempotent=False, rows=len(updates) + len(appends),
                                 make=lambda service: service.spreadsheets().batchUpdate(
                                     spreadsheetId=spreadsheet_id, body=body))
        try:
            grid = next(sheet["data"][0] for sheet in response["updatedSpreadsheet"]["sheets"] if sheet.get("data"))
            texts = [str(((row.get("values") or [{}])[0] or {}).get("formattedValue", ""))
                     for row in grid.get("rowData") or []]
            return int(grid.get("startRow", 0)) + 1, texts
        except (KeyError, TypeError, ValueError, StopIteration) as exc:
            raise Ambiguous(f"Sheets did not return the rows of {response_range}", spreadsheet_id=spreadsheet_id
                            ) from exc

    def metadata(self, spreadsheet_id: str) -> dict[str, Any]:
        """``{"spreadsheet_id", "title", "sheets": [{"title", "sheet_id", "rows", "columns"}]}``."""
        response = self._request("read", spreadsheet_id, idempotent=True, make=lambda service: service.spreadsheets(
        ).get(spreadsheetId=spreadsheet_id, fields="spreadsheetId,properties.title,sheets.properties"))
        sheets = []
        for sheet in response.get("sheets", []):
            properties = sheet.get("properties", {})
            grid = properties.get("gridProperties", {})
            sheets.append({"title": properties.get("title", ""), "sheet_id": properties.get("sheetId"),
                           "rows": int(grid.get("rowCount", 0)), "columns": int(grid.get("columnCount", 0))})
        return {"spreadsheet_id": response.get("spreadsheetId", spreadsheet_id),
                "title": response.get("properties", {}).get("title", ""), "sheets": sheets}

    def add_sheet(self, spreadsheet_id: str, title: str, rows: int, columns: int) -> int | None:
        """Add a tab; its sheet id. Not idempotent (a second add of the same title is a 400): ``Ambiguous``
        on 5xx."""
        body = {"requests": [{"addSheet": {"properties": {
            "title": title, "gridProperties": {"rowCount": rows, "columnCount": columns}}}}]}
        response = self._request("write", spreadsheet_id, idempotent=False, make=lambda service: service.spreadsheets(
        ).batchUpdate(spreadsheetId=spreadsheet_id, body=body))
        try:
            return int(response["replies"][0]["addSheet"]["properties"]["sheetId"])
        except (KeyError, IndexError, TypeError, ValueError):
            return None  # the tab is there; its id is read with the metadata when needed

    # --- one request, with retries --------------------------------------------------------------
    def _request(self, kind: str, spreadsheet_id: str, *, idempotent: bool, make: Make, rows: int = 0
                 ) -> dict[str, Any]:
        if not self.accounts:
            raise Permanent("SHEETS_CREDENTIALS is empty: Sheets sync is off", spreadsheet_id=spreadsheet_id,
                            code="not_configured")
        retry = 0
        while True:
            try:
                return self._attempt(kind, spreadsheet_id, make=make, rows=rows, write=kind == "write")
            except (RateLimited, Transient) as exc:
                if isinstance(exc, Ambiguous) and not idempotent:
                    raise
                wait = self.backoff.delay(retry, retry_after=getattr(exc, "retry_after", None))
                if wait is None:
                    raise
                logger.info("sheets %s on %s failed (%s); retry %d in %.1fs", kind, spreadsheet_id, exc.code,
                            retry + 1, wait)
                self._sleep(wait)
                retry += 1

    def _attempt(self, kind: str, spreadsheet_id: str, *, make: Make, rows: int, write: bool) -> dict[str, Any]:
        # An open breaker spends no token; a half-open one gives its one probe slot only to a caller
        # that holds a token (so a probe never waits for one while every other worker is held back).
        grant = self._held.pop(kind, None) or self._take(kind, spreadsheet_id)
        if not self.breaker.allow():
            raise BreakerOpen(f"the Sheets circuit breaker is {self.breaker.state()}: nothing sent",
                              spreadsheet_id=spreadsheet_id)
        try:
            response = self._send(make(self._service(grant.account)), spreadsheet_id, write=write)
        except _Outcome as outcome:
            self._report(grant, outcome)
            if isinstance(outcome.error, RateLimited):
                self._adapt(kind, outcome.error)
            raise outcome.error from outcome.__cause__
        self.breaker.success()
        if self.monitor is not None:
            self.monitor.record_request(kind=kind, account=grant.account.email, outcome="ok",
                                        rows=rows if write else 0, grant=grant)
        return response if isinstance(response, dict) else {}

    def _take(self, kind: str, spreadsheet_id: str) -> Grant:
        state = self.breaker.state()
        if state in (OPEN, UNAVAILABLE):
            raise BreakerOpen(f"the Sheets circuit breaker is {state}: nothing sent", spreadsheet_id=spreadsheet_id)
        try:
            return self.gate.acquire(kind, timeout=self.token_timeout, critical=self.critical)
        except NoToken as exc:
            raise NoToken(exc.wait, spreadsheet_id=spreadsheet_id, kind=kind) from exc

    def _send(self, request: Any, spreadsheet_id: str, *, write: bool) -> Any:
        try:
            return request.execute(num_retries=0)
        except HttpError as exc:
            status = int(exc.resp.status)
            error = error_from_response(status=status, content=exc.content or b"", spreadsheet_id=spreadsheet_id,
                                        retry_after=exc.resp.get("retry-after"), write=write)
            label = "429" if isinstance(error, RateLimited) else "5xx" if status >= 500 else str(status)
            raise _Outcome(error, label, counts_as_failure=not isinstance(error, Permanent), answered=True) from exc
        except auth_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise _Outcome(Transient(f"the token endpoint failed: {exc}", spreadsheet_id=spreadsheet_id),
                               "token", counts_as_failure=True, answered=False) from exc
            raise _Outcome(Permanent(f"the service-account key was refused: {exc}", spreadsheet_id=spreadsheet_id,
                                     code="credentials"), "credentials", counts_as_failure=False,
                           answered=False) from exc
        except (ConnectionRefusedError, auth_exceptions.TransportError) as exc:
            # Nothing reached Sheets (refused, or the token could not be fetched): safe to retry, even a write.
            raise _Outcome(Transient(f"Sheets cannot be reached: {exc}", spreadsheet_id=spreadsheet_id),
                           "connection", counts_as_failure=True, answered=False) from exc
        except (OSError, httplib2.HttpLib2Error) as exc:
            cls = Ambiguous if write else Transient
            raise _Outcome(cls(f"no answer from Sheets ({type(exc).__name__}: {exc})", spreadsheet_id=spreadsheet_id),
                           "transport", counts_as_failure=True, answered=False) from exc

    def _report(self, grant: Grant, outcome: _Outcome) -> None:
        if outcome.counts_as_failure:
            self.breaker.failure()
        elif outcome.answered:
            self.breaker.success()  # a 400/403/404 is Sheets working: it must not keep the breaker open
        if self.monitor is not None:
            self.monitor.record_request(kind=grant.kind, account=grant.account.email, outcome=outcome.label,
                                        grant=grant)
            if isinstance(outcome.error, Permanent):
                self.monitor.record_alert(spreadsheet_id=outcome.error.spreadsheet_id, code=outcome.error.code,
                                          message=str(outcome.error))

    def _adapt(self, kind: str, error: RateLimited) -> None:
        if error.limit_value and error.level:
            self.gate.adapt(kind, error.level, error.limit_value)

    def _service(self, account: ServiceAccount) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a forked worker must not share sockets
            local.pid, local.services = os.getpid(), {}
        service = local.services.get(account.email)
        if service is None:
            credentials = service_account.Credentials.from_service_account_info(account.info, scopes=SCOPES)
            http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=self.timeout))
            service = local.services[account.email] = build(
                "sheets", "v4", http=http, static_discovery=True, cache_discovery=False,
                client_options={"api_endpoint": self.endpoint})
        return service


def _row_data(values: list[object]) -> dict[str, Any]:
    """A row as the RowData of cell requests: each value as the ExtendedValue RAW input would make of it."""
    cells: list[dict[str, Any]] = []
    for value in values:
        if value is None or value == "":
            cells.append({})
        elif isinstance(value, bool):
            cells.append({"userEnteredValue": {"boolValue": value}})
        elif isinstance(value, int | float):
            cells.append({"userEnteredValue": {"numberValue": value}})
        else:
            cells.append({"userEnteredValue": {"stringValue": str(value)}})
    return {"values": cells}


def sheets_client() -> SheetsClient:
    """The process's client, built from settings (gate, breaker and monitor with it)."""
    return _process_client()


def reset_sheets_client() -> None:
    """Forget the process's client (after a settings change)."""
    _process_client.reset()


def _client_from_settings() -> SheetsClient:
    from django.conf import settings

    from sheets_sync.accounts import accounts_from_settings
    from sheets_sync.breaker import breaker_from_settings
    from sheets_sync.monitor import monitor_from_settings
    from sheets_sync.quota import quota_gate_from_settings

    accounts = accounts_from_settings()
    gate = quota_gate_from_settings(accounts)
    breaker = breaker_from_settings()
    return SheetsClient(
        accounts=accounts, gate=gate, breaker=breaker, monitor=monitor_from_settings(gate=gate, breaker=breaker),
        endpoint=settings.SHEETS_API_ENDPOINT, timeout=float(settings.SHEETS_HTTP_TIMEOUT_SECONDS),
        backoff=Backoff(max_retries=settings.SHEETS_MAX_RETRIES, maximum=float(settings.SHEETS_MAX_BACKOFF_SECONDS)))


_process_client = PerProcess(_client_from_settings)
