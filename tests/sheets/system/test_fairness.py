"""Fairness: 200 users with spreadsheets of their own, one of them making half of all changes. Requests
are what spreadsheets share (one request touches one spreadsheet), so while a spreadsheet waits no other
may be served more than once a round: nobody waits more than their fair share of the quota, however busy
the heavy user is."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from sheets_sync import drain, layout
from sheets_sync.client import sheets_client
from sheets_sync.models import OutboxEntry
from sheets_sync.services import KICK_KEY
from tests.sheets.system import conftest as system
from users.services import user_set_spreadsheet

pytestmark = system.system_marks(2400)

USERS = 200
TICKS = 10
LIGHT_PER_TICK = (USERS - 1) // TICKS + 1  # light users changing a call each tick (each user once)
REQUESTS_PER_TICK = 12  # what the quota lets through between two ticks of changes
ROUND_SLACK = 1  # a wait can straddle the end of one round and the start of the next


def test_a_heavy_user_does_not_make_the_others_wait_more_than_their_share(synced):
    synced.settings.SHEETS_OPERATIONS_SPREADSHEET_ID = ""  # only the users' own spreadsheets
    for name in ("WRITES", "READS"):
        for level in ("USER", "PROJECT"):
            setattr(synced.settings, f"SHEETS_{name}_PER_MINUTE_PER_{level}", 100_000)
    synced.quotas(writes_per_user=None, writes_per_project=None, reads_per_user=None, reads_per_project=None)
    tab = layout.tab_title(timezone.now())
    users, sheets = [], {}
    for n in range(USERS):
        user = system.rich_user(f"user{n:03d}")
        sheets[user.pk] = synced.new_spreadsheet(shared_with=[synced.key["client_email"]], title=user.username,
                                                 values={tab: [layout.HEADER]})
        user_set_spreadsheet(user=user, spreadsheet_id=sheets[user.pk])
        users.append(user)
    heavy, light = users[0], users[1:]
    light_calls = [system.new_call(user) for user in light]
    heavy_calls = [system.new_call(heavy) for _ in light_calls]
    cache.set(KICK_KEY, 1, timeout=None)  # a kick is queued; the drains here play the worker

    waits: list[dict[str, Any]] = []  # one per change: its spreadsheet and the log offset when it committed
    client = sheets_client()
    for tick in range(TICKS):
        chunk = slice(tick * LIGHT_PER_TICK, (tick + 1) * LIGHT_PER_TICK)
        for heavy_call, light_call in zip(heavy_calls[chunk], light_calls[chunk], strict=True):
            for call in (heavy_call, light_call):  # the heavy user makes every other change
                offset = len(synced.log())
                system.report(call, system.LIFE[0])
                waits.append({"spreadsheet": sheets[call.owner_id], "offset": offset, "heavy": call is heavy_call})
        drain.drain_once(client=client, max_requests=REQUESTS_PER_TICK)
    system.drain_until_empty()
    assert not OutboxEntry.objects.exists()

    writes = [(i, e["spreadsheet"]) for i, e in enumerate(synced.log()) if e["kind"] == "write"]
    assert sum(1 for w in waits if w["heavy"]) == sum(1 for w in waits if not w["heavy"])  # half the changes
    unfair = []
    for wait in waits:
        served_at = next(i for i, sid in writes if i >= wait["offset"] and sid == wait["spreadsheet"])
        others = Counter(sid for i, sid in writes if wait["offset"] <= i < served_at)
        most = max(others.values(), default=0)
        if most > 1 + ROUND_SLACK:
            unfair.append((wait["spreadsheet"], others.most_common(1)))
    assert not unfair, f"{len(unfair)} changes waited while another spreadsheet was served again and again: " \
                       f"{unfair[:3]}"
    busiest = Counter(sid for _, sid in writes).most_common(1)[0]
    assert busiest[1] <= TICKS + 2  # the heavy user's spreadsheet got about one request a tick, not half of all
    for user in users:
        user_calls = heavy_calls if user is heavy else [c for c in light_calls if c.owner_id == user.pk]
        system.assert_sheet_equals_database(synced, sheets[user.pk], user_calls)
