"""Exactly once: 2,000 calls with 5 updates each while 20% of the emulator's write answers are ambiguous (the
write is applied, then the answer is 500). The final sheet equals the database: one row per call, no
duplicates, each row the call's latest state."""

from __future__ import annotations

from django.core.cache import cache

from sheets_sync.services import KICK_KEY
from tests.sheets.system import conftest as system

pytestmark = system.system_marks(3600)

CALLS = 2_000
DRAIN_EVERY = 100  # changes between two drains, as beat's drains fall between changes


def test_two_thousand_calls_with_ambiguous_failures_leave_one_latest_row_each(synced):
    # The quota and the breaker are not what this test is about: generous, so nothing waits a minute.
    for name in ("WRITES", "READS"):
        for level in ("USER", "PROJECT"):
            setattr(synced.settings, f"SHEETS_{name}_PER_MINUTE_PER_{level}", 6_000)
    synced.settings.SHEETS_BREAKER_FAILURES = 1_000
    synced.settings.SHEETS_MAX_RETRIES = 0  # every ambiguous answer reaches the drain
    synced.quotas(writes_per_user=None, writes_per_project=None, reads_per_user=None, reads_per_project=None)
    user = system.rich_user("busy")
    calls = [system.new_call(user) for _ in range(CALLS)]
    # A kick is already queued for a worker, so the critical changes below do not each start a drain of
    # their own in this process (tasks run eagerly in tests); the drains between changes play the worker.
    cache.set(KICK_KEY, 1, timeout=None)
    synced.faults(ambiguous_rate=0.2, seed=11)

    changes = 0
    for step in system.LIFE:
        for call in calls:
            system.report(call, step)
            changes += 1
            if changes % DRAIN_EVERY == 0:
                system.drain_until_empty()
    system.drain_until_empty()
    synced.faults(ambiguous_rate=0.0)

    log = synced.log()
    assert any(e["method"] == "spreadsheets.values.append" and e["status"] == 500 for e in log), \
        "no append was answered ambiguously: the test proved nothing"
    assert any(e["method"] == "spreadsheets.values.get" for e in log)  # the id column was read back
    system.assert_sheet_equals_database(synced, synced.ops, calls)
