"""Fair scheduling over spreadsheets: deficit round robin, critical first, shared by every drainer through
the database (PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sheets_sync import scheduler
from sheets_sync.scheduler import Candidate, DeficitRoundRobin, round_order

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def candidate(name: str, *, critical: int = 0, served: int | None = None, oldest: int = 0,
              deficit: float = 0.0) -> Candidate:
    return Candidate(spreadsheet_id=name, waiting=10, critical=critical, oldest=T0 + timedelta(seconds=oldest),
                     last_served_at=None if served is None else T0 + timedelta(seconds=served), deficit=deficit)


def test_a_round_serves_critical_first_then_the_least_recently_served():
    order = round_order([candidate("busy", served=50), candidate("quiet", served=10), candidate("new"),
                         candidate("ended", critical=1, served=99)])
    assert [c.spreadsheet_id for c in order] == ["ended", "new", "quiet", "busy"]


def test_a_resync_after_an_outage_goes_oldest_first():
    order = round_order([candidate("recent", critical=1, oldest=30), candidate("old", oldest=1)], oldest_first=True)
    assert [c.spreadsheet_id for c in order] == ["old", "recent"]


def test_deficit_round_robin_gives_a_busy_spreadsheet_no_more_requests_than_a_quiet_one():
    drr = DeficitRoundRobin()
    deficits = {name: 0.0 for name in ("busy", "a", "b", "c")}
    served: Counter[str] = Counter()
    for _ in range(100):  # rounds; "busy" always needs 3 requests a turn (new tab, header, rows)
        for name in deficits:
            deficits[name] = drr.credit(deficits[name])
            if drr.may_serve(deficits[name]):
                cost = 3 if name == "busy" else 1
                served[name] += cost
                deficits[name] = drr.charge(deficits[name], cost, emptied=False)
    assert served["a"] == served["b"] == served["c"] == 100
    assert 95 <= served["busy"] <= 102  # its share, not three times it


def test_a_spreadsheet_is_leased_to_one_drainer_at_a_time():
    assert scheduler.lease_acquire("SheetA0123456789abcdefghij", worker="w1")
    assert not scheduler.lease_acquire("SheetA0123456789abcdefghij", worker="w2")
    assert scheduler.lease_acquire("SheetA0123456789abcdefghij", worker="w1")  # renewed by its holder
    scheduler.lease_release("SheetA0123456789abcdefghij", worker="w1")
    assert scheduler.lease_acquire("SheetA0123456789abcdefghij", worker="w2")
    expired = datetime.now(UTC) + timedelta(hours=1)
    assert scheduler.lease_acquire("SheetA0123456789abcdefghij", worker="w3", now=expired)  # a dead holder's lease ends
