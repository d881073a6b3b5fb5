"""System tests of the Sheets call log: calls change through ``calls.services`` (the only write path) on
real PostgreSQL and Redis, the drain writes them through the real google-api-python-client to the Sheets
emulator over HTTP, and the tests compare the emulator's sheets and request log with the database."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.conf import settings as django_settings

from calls import services
from calls.models import Call, CallStatus
from calls.providers.base import ProviderCall
from sheets_sync import drain, layout
from sheets_sync.client import sheets_client
from sheets_sync.models import OutboxEntry
from tests.sheets.core.conftest import forget_sheets_state
from users.models import User
from users.services import credits_grant, credits_reserve

# Five reports of a call's life, as a webhook or the poller applies them; each changes its row.
LIFE: tuple[dict[str, Any], ...] = (
    {"queue_status": "allocated"},
    {"queue_status": "started"},
    {"queue_status": "started", "answered_by": "human"},
    {"queue_status": "complete", "status": "completed", "completed": True, "answered_by": "human",
     "duration_seconds": 42},
    {"queue_status": "complete", "status": "completed", "completed": True, "answered_by": "human",
     "duration_seconds": 42, "summary": "Confirmed the table for two at 7 pm."},
)
NUMBERS = itertools.count(100)


def system_marks(timeout: int) -> list[pytest.MarkDecorator]:
    """Real PostgreSQL and Redis, committed transactions (other processes read them), a generous bound."""
    return [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis,
            pytest.mark.timeout(timeout)]


@pytest.fixture
def synced(settings, sheets_emulator) -> Iterator[Any]:  # noqa: ANN001
    """Sync on against the emulator: one service account, the operations spreadsheet ``synced.ops``."""
    key = sheets_emulator.new_account()
    ops = sheets_emulator.new_spreadsheet(shared_with=[key["client_email"]], title="operations")
    settings.SHEETS_CREDENTIALS = json.dumps(key)
    settings.SHEETS_API_ENDPOINT = sheets_emulator.url + "/"
    settings.SHEETS_OPERATIONS_SPREADSHEET_ID = ops
    forget_sheets_state()
    sheets_emulator.ops, sheets_emulator.key, sheets_emulator.settings = ops, key, settings
    yield sheets_emulator
    forget_sheets_state()


def rich_user(username: str) -> User:
    from users.services import user_create

    user = user_create(username=username, password="s3cret-pass-word")
    credits_grant(user=user, amount=10_000_000, memo="system test")
    return user


def new_call(user: User, *, max_duration: int = 2) -> Call:
    """A call as ``services.call_place`` leaves it with the provider (queued, credits on hold); its reports
    then go through ``calls.services`` like a webhook's or the poller's."""
    reserved = max_duration * django_settings.CALL_CREDITS_PER_MINUTE
    call = Call.objects.create(owner=user, to_number=f"+12125550{next(NUMBERS) % 1000:03d}", task="Book a table.",
                               max_duration=max_duration, status=CallStatus.QUEUED,
                               provider_call_id=str(uuid.uuid4()), reserved_credits=reserved)
    credits_reserve(user=user, amount=reserved, reference=call.credit_reference)
    return call


def report(call: Call, step: dict[str, Any]) -> Call:
    values: dict[str, Any] = {"provider_call_id": call.provider_call_id, "status": "", "completed": False, **step}
    applied = services.call_apply_provider_update(update=ProviderCall(**values), source="webhook")
    assert applied is not None
    return applied


def drain_until_empty(*, limit_seconds: float = 900.0, pause: float = 1.0,
                      between: Callable[[], None] | None = None) -> list[drain.DrainReport]:
    """Drain as beat would, until the outbox is empty. The bound is only there so a broken drain fails
    the test instead of hanging it; nothing asserts on time."""
    reports = []
    deadline = time.monotonic() + limit_seconds
    while OutboxEntry.objects.exists():
        reports.append(drain.drain_once(client=sheets_client(), max_seconds=60))
        if between is not None:
            between()
        if not OutboxEntry.objects.exists():
            break
        assert time.monotonic() < deadline, f"the outbox did not empty: {reports[-3:]}"
        time.sleep(pause)  # e.g. the breaker's cool-down or a quota window: poll, as beat does
    return reports


def tab_rows(emulator: Any, spreadsheet_id: str) -> list[list[Any]]:
    """Every call row of the spreadsheet's month tabs (their headers left out)."""
    rows: list[list[Any]] = []
    for title, values in emulator.values(spreadsheet_id).items():
        if not title.startswith(django_settings.SHEETS_TAB_PREFIX):
            continue
        assert values, f"tab {title} has no header"
        assert values[0] == layout.HEADER
        rows.extend(row for row in values[1:] if any(cell not in (None, "") for cell in row))
    return rows


def assert_sheet_equals_database(emulator: Any, spreadsheet_id: str, calls: Sequence[Call]) -> None:
    """One row per call, none twice, none missing, each holding the call's latest state."""
    rows = tab_rows(emulator, spreadsheet_id)
    ids = Counter(str(row[0]) for row in rows)
    duplicated = {call_id: n for call_id, n in ids.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} calls have more than one row, e.g. {list(duplicated.items())[:3]}"
    expected = {str(call.id): layout.row_values(call) for call in Call.objects.filter(
        pk__in=[c.pk for c in calls]).select_related("owner")}
    assert set(ids) == set(expected), f"missing {len(set(expected) - set(ids))}, extra {len(set(ids) - set(expected))}"
    stale = [row[0] for row in rows if _padded(row) != expected[str(row[0])]]
    assert not stale, f"{len(stale)} rows do not hold their call's latest state, e.g. {stale[:3]}"


def _padded(row: list[Any]) -> list[Any]:
    return [*row, *[""] * (layout.WIDTH - len(row))][:layout.WIDTH]


def max_in_window(times: Sequence[float], window: float = 60.0) -> int:
    """The most events in any ``window`` seconds (a sliding window over the sorted times)."""
    ordered, most, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most
