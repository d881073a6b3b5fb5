"""One emulator: the spreadsheets, the service accounts, the quotas, the faults and the log, and the
order in which a Sheets request meets them (auth, outage, quota, latency, injected error, the method,
an ambiguous failure)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sheets_sync.emulator.errors import MISSING_CREDENTIAL, ApiError, invalid, quota_exceeded
from sheets_sync.emulator.faults import Faults
from sheets_sync.emulator.oauth import Accounts
from sheets_sync.emulator.quotas import QuotaCounter, QuotaLimits
from sheets_sync.emulator.requestlog import RequestLog
from sheets_sync.emulator.routes import Route
from sheets_sync.emulator.sheets import SheetsApi
from sheets_sync.emulator.store import Store


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


class Emulator:
    def __init__(self, *, file: str | Path | None = None, quotas: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        self.base_url = "http://127.0.0.1"
        self.store = Store(file)
        self.accounts = Accounts(wall_clock)
        self.initial_quotas = dict(quotas or {})
        self.quotas = QuotaCounter(QuotaLimits(), clock)
        self.quotas.limits.update(self.initial_quotas)
        self.faults = Faults(clock)
        self.log = RequestLog(wall_clock)
        self.api = SheetsApi(self.store, lambda: self.base_url)
        self.tokens_issued = 0

    # --- persistence
    def load(self) -> None:
        self.accounts.restore(self.store.load())

    def save(self) -> None:
        self.store.save(self.accounts.snapshot())

    def save_if_dirty(self) -> None:
        if self.store.dirty:
            self.save()

    def reset(self, *, keep_accounts: bool = False) -> None:
        self.store.clear()
        if not keep_accounts:
            self.accounts.clear()
        self.quotas.reset()
        self.quotas.limits = QuotaLimits()
        self.quotas.limits.update(self.initial_quotas)
        self.faults.reset()
        self.log.clear()
        self.log.record_changes = False

    # --- one Sheets request
    async def handle(self, route: Route, authorization: str | None, query: Mapping[str, list[str]],
                     raw_body: bytes) -> Answer:
        caller = self.accounts.caller(authorization)
        user, project = (caller.user, caller.project) if caller else ("", "")
        answer, rows = await self._answer(route, caller is not None, authorization, user, project, query, raw_body)
        self.log.request(user=user, kind=route.kind, method=route.method, spreadsheet=route.spreadsheet,
                         status=answer.status, rows=rows)
        return answer

    async def _answer(self, route: Route, known: bool, authorization: str | None, user: str, project: str,
                      query: Mapping[str, list[str]], raw_body: bytes) -> tuple[Answer, int]:
        try:
            if not known:
                raise ApiError(401, None if authorization else MISSING_CREDENTIAL)
            if self.faults.in_outage():
                raise ApiError(503)
            self.quotas.admit(route.kind, user, project)
            if self.faults.latency_ms:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            injected = self.faults.next_error()
            if injected == 429:
                level = "user"
                raise quota_exceeded(route.kind, level, self.quotas.limits.limit(route.kind, level) or 0, project)
            if injected is not None:
                raise ApiError(injected)
            body, written = self.api.call(route, user, query, _json(raw_body))
        except ApiError as error:
            return Answer(error.status, error.body()), 0
        for book, sheet, row in written:
            self.log.change(spreadsheet=book.spreadsheet_id, tab=sheet.title, row=row + 1,
                            values=sheet.values[row] if row < len(sheet.values) else [])
        if route.kind == "write":
            self.store.dirty = True
            if self.faults.next_ambiguous():  # applied, but the caller hears a failure
                return Answer(500, ApiError(500).body()), len(written)
        return Answer(200, body), len(written)


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("Invalid JSON payload received. Unexpected token.") from exc
