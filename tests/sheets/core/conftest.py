"""Fixtures for the Sheets call log's core: calls made through ``calls.services`` against the Bland
simulator, the operations spreadsheet and the service account on the Sheets emulator (over HTTP, the
real google-api-python-client through ``sheets_sync.client``), and clean quota/breaker state in Redis."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from calls import services
from calls.models import Call
from calls.providers.base import ProviderCall
from calls.providers.bland import BlandClient
from sheets_sync.client import reset_sheets_client, sheets_client
from sheets_sync.store import KEY_PREFIX
from tests.calls.conftest import bland_sim, calls_settings, provider, sim  # noqa: F401 - fixtures
from users.models import User

OPS_ID = "OpsSheet0123456789abcdefghij"


def forget_sheets_state() -> None:
    """No quota tokens, breaker state or monitor counts left from another test; no pending kick."""
    cache.delete_many(["sheets_sync:kick-pending", "sheets_sync:resync-oldest-first"])
    if settings.REDIS_URL:
        store = redis.Redis.from_url(settings.REDIS_URL)
        try:
            keys = list(store.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
            if keys:
                store.delete(*keys)
        finally:
            store.close()
    reset_sheets_client()


@pytest.fixture
def no_sheets(settings) -> Iterator[Any]:  # noqa: ANN001
    """Sync off (no credentials) but an operations spreadsheet named: the outbox fills, rows wait."""
    settings.SHEETS_CREDENTIALS = ""
    settings.SHEETS_OPERATIONS_SPREADSHEET_ID = OPS_ID
    forget_sheets_state()
    yield settings
    forget_sheets_state()


@pytest.fixture
def account(sheets_emulator) -> dict[str, Any]:  # noqa: ANN001
    return sheets_emulator.new_account()


@pytest.fixture
def sheets(settings, sheets_emulator, account) -> Iterator[Any]:  # noqa: ANN001
    """Sync on: the emulator is Sheets, ``account`` its service account, ``sheets.ops`` the operations sheet."""
    ops = sheets_emulator.new_spreadsheet(shared_with=[account["client_email"]])
    settings.SHEETS_CREDENTIALS = json.dumps(account)
    settings.SHEETS_API_ENDPOINT = sheets_emulator.url + "/"
    settings.SHEETS_OPERATIONS_SPREADSHEET_ID = ops
    settings.SHEETS_MAX_RETRIES = 0
    forget_sheets_state()
    sheets_emulator.ops = ops
    sheets_emulator.key_json = settings.SHEETS_CREDENTIALS
    sheets_emulator.settings = settings
    yield sheets_emulator
    forget_sheets_state()


def client() -> Any:
    return sheets_client()


# Numbers the simulator answers as a human (Bland refuses a second call to one number within 10 s).
HUMAN_NUMBERS = itertools.cycle([f"+121255501{tail:02d}" for tail in [*range(0, 10), *range(60, 100)]])


def place(provider: BlandClient, user: User, **fields: Any) -> Call:  # noqa: F811
    fields.setdefault("task", "Confirm the table for two.")
    fields.setdefault("max_duration", 1)
    return services.call_place(provider=provider, user=user, to_number=fields.pop("to_number", next(HUMAN_NUMBERS)),
                               **fields)


def report(call: Call, **fields: Any) -> Call:
    """Apply what the provider reports (as a webhook or the poller would): queue_status, status, ..."""
    values: dict[str, Any] = {"provider_call_id": call.provider_call_id, "queue_status": "started", "status": "",
                              "completed": False}
    values.update(fields)
    applied = services.call_apply_provider_update(update=ProviderCall(**values), source="webhook")
    assert applied is not None
    return applied


def tab_rows(emulator: Any, spreadsheet_id: str) -> dict[str, list[list[Any]]]:
    return {title: rows for title, rows in emulator.values(spreadsheet_id).items() if rows}
