"""Faults: 30% of Sheets answers are 429 or 500, and in the middle Sheets is down for 60 seconds. The
breaker opens and closes again, the backlog built up meanwhile is resynced, and nothing is lost."""

from __future__ import annotations

import time

from django.core.cache import cache

from sheets_sync import drain
from sheets_sync.client import sheets_client
from sheets_sync.events import BreakerClosed, breaker_closed
from sheets_sync.models import OutboxEntry
from sheets_sync.services import KICK_KEY
from tests.sheets.system import conftest as system

pytestmark = system.system_marks(1800)

CALLS = 150
OUTAGE_SECONDS = 60
LIMIT_SECONDS = 900  # bounds on the waits below, so a broken drain fails instead of hanging; nothing is timed
CLOSINGS: list[BreakerClosed] = []


@breaker_closed.subscribe
def _closed(event: BreakerClosed) -> None:  # beside the product's receiver, which asks for the resync
    CLOSINGS.append(event)


def test_errors_and_an_outage_open_and_close_the_breaker_and_lose_nothing(synced):
    synced.settings.SHEETS_MAX_RETRIES = 2
    synced.settings.SHEETS_MAX_BACKOFF_SECONDS = 4
    user = system.rich_user("faulty")
    calls = [system.new_call(user) for _ in range(CALLS)]
    cache.set(KICK_KEY, 1, timeout=None)  # a kick is queued for a worker; the drains here play the worker
    client = sheets_client()
    states: list[str] = []
    CLOSINGS.clear()

    def watch() -> None:
        states.append(client.breaker.state())

    synced.faults(error_rate=0.3, error_statuses=[429, 500], seed=7)
    for step in system.LIFE[:2]:
        for call in calls:
            system.report(call, step)
        system.drain_until_empty(between=watch)

    # The outage: changes go on, the drains fail until the breaker opens and then send nothing.
    synced.faults(outage_seconds=OUTAGE_SECONDS)
    for step in system.LIFE[2:4]:
        for call in calls:
            system.report(call, step)
        drain.drain_once(client=client, max_seconds=30)
        watch()
    deadline = time.monotonic() + LIMIT_SECONDS
    while synced.state()["faults"]["outage"]:
        drain.drain_once(client=client, max_seconds=30)
        watch()
        assert time.monotonic() < deadline, "the outage did not end"
        time.sleep(1.0)
    opened_at = states.index("open") if "open" in states else None
    assert opened_at is not None, f"the breaker never opened during the outage: {states}"
    assert OutboxEntry.objects.count() >= CALLS  # the rows waited in the outbox while Sheets was down
    closings_before = len(CLOSINGS)

    for call in calls:
        system.report(call, system.LIFE[4])
    system.drain_until_empty(between=watch)
    synced.faults(error_rate=0.0)

    assert "closed" in states[opened_at:], f"the breaker did not close after the outage: {states}"
    assert len(CLOSINGS) > closings_before, "closing the breaker was not announced (no resync of the backlog)"
    statuses = {entry["status"] for entry in synced.log()}
    assert {429, 500, 503} <= statuses
    system.assert_sheet_equals_database(synced, synced.ops, calls)
