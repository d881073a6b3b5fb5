"""Benchmark: the Sheets call log against the Sheets emulator with Google's default quotas (60 requests a
minute per user, 300 per project, reads and writes apart), one service account. Prints figures; not a test.

    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/sheets_sync.py                 # all three
    REDIS_URL=... .venv/bin/python bench/sheets_sync.py --scenarios backlog --rows 20000      # a quick look

Scenarios (see bench/README.md):

- backlog: ``--rows`` (100,000) calls queued at once (``outbox_backfill``), drained into the operations
  spreadsheet by one drainer (new rows: appends), then every row queued again and drained (known rows:
  values.batchUpdate). Rows synced per minute, requests, the most requests in any 60 s window.
- steady: ``--calls-per-hour`` (20,000, Bland's enterprise rate) calls for ``--steady-seconds`` (120) of
  wall time, each with 4 updates (allocated, answered, completed = critical, summary = critical), applied
  through ``calls.services``. A kick after each critical commit wakes a drainer that writes the critical
  rows (as the Celery task the product sends would); another drains everything every 5 s (as beat does).
  p50/p95 from the commit of a critical change to the row visible in the emulator (its change feed).
- fanout: ``--spreadsheets`` (1,000) users with their own spreadsheet, one change each, all waiting at
  once; how long the last spreadsheet waited against the quota bound (spreadsheets / 60 a minute).
  Their month tab exists (as after a first sync), so a refresh is one request. Wall time is shortened by
  ``--time-scale`` (10): the quota window is 60/scale seconds on both sides (client gate and emulator)
  with the same request limits, so the service must keep up with ten times the request rate; figures
  are reported in real minutes (measured x scale).

The database is a throwaway PostgreSQL database ``callmcp_sheets_bench`` (dropped at the end), the emulator
a process of its own (``running_emulator(subprocess_=True)``), Redis the given ``REDIS_URL`` (the quota and
breaker keys under ``callmcp-bench:sheets``, the cache under ``sheets-bench``, so a service or tests on the
same Redis are not disturbed). The drainers are threads of the bench process: one drainer at a time in
backlog and fanout, two in steady. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "callmcp_sheets_bench"
PG = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BENCH_PREFIX = "callmcp-bench:sheets"  # its quota and breaker keys, apart from any service on the same Redis


def _database(create: bool) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def _setup_django(key: dict[str, Any], ops: str, url: str) -> None:
    os.environ.update({"SHEETS_API_ENDPOINT": url + "/",
        "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": f"{PG}/{DB_NAME}",
        "CELERY_BROKER_URL": "memory://",  # kicks are sent nowhere: the bench's drainers are the workers
        "SHEETS_CREDENTIALS": json.dumps(key), "SHEETS_OPERATIONS_SPREADSHEET_ID": ops, "SHEETS_MAX_RETRIES": "2",
        "LOG_LEVEL": "WARNING", "CACHE_KEY_PREFIX": "sheets-bench",
    })
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True)  # noqa: S603
    import django

    django.setup()


def _client(url: str, scale: float) -> Any:
    from django.conf import settings

    from config.redis_clients import redis_for
    from sheets_sync.accounts import accounts_from_settings
    from sheets_sync.backoff import Backoff
    from sheets_sync.breaker import CircuitBreaker, RedisBreakerStore, breaker_settings_from_settings
    from sheets_sync.client import SheetsClient
    from sheets_sync.quota import WINDOW_SECONDS, QuotaGate, QuotaLimits, RedisQuotaStore, pacing_from_settings

    store = redis_for(settings.REDIS_URL)
    keys = list(store.scan_iter(match=f"{BENCH_PREFIX}*", count=1000))  # the bench's own keys only
    if keys:
        store.delete(*keys)
    accounts = accounts_from_settings()
    window = (WINDOW_SECONDS + float(settings.SHEETS_QUOTA_MARGIN_SECONDS)) / scale
    gate = QuotaGate(accounts, RedisQuotaStore(store, prefix=f"{BENCH_PREFIX}:{{quota}}"), limits=QuotaLimits(),
                     window=window, pacing=pacing_from_settings())  # the service's reserve and pacing
    breaker = CircuitBreaker(RedisBreakerStore(store, prefix=f"{BENCH_PREFIX}:{{breaker}}"),
                             breaker_settings_from_settings())
    return SheetsClient(accounts=accounts, gate=gate, breaker=breaker, endpoint=url + "/",
                        backoff=Backoff(max_retries=2, maximum=8.0))


def _calls(user: Any, count: int, **fields: Any) -> list[Any]:
    from calls.models import Call, CallStatus

    rows = [Call(owner=user, to_number=f"+1212555{n % 10_000:04d}", task="Book a table.", max_duration=2,
                 status=fields.get("status", CallStatus.COMPLETED), provider_call_id=str(uuid.uuid4()),
                 answered_by="human", duration_seconds=42, cost_credits=10, summary="Confirmed.")
            for n in range(count)]
    return Call.objects.bulk_create(rows, batch_size=5_000)


def _user(name: str) -> Any:
    from users.services import credits_grant, user_create

    user = user_create(username=name, password=None)  # never logs in: no password hash (~0.5 s each) to wait for
    credits_grant(user=user, amount=100_000_000, memo="bench")
    return user


def _drain_all(client: Any, **kwargs: Any) -> None:
    from sheets_sync import drain
    from sheets_sync.models import OutboxEntry

    while OutboxEntry.objects.exists():
        report = drain.drain_once(client=client, **kwargs)
        if report.stopped in ("quota", "breaker", "busy"):
            time.sleep(min(max(report.wait, 0.05), 1.0))


def _windows(log: list[dict[str, Any]], window: float) -> dict[str, int]:
    """The most requests in any window, per kind and user and per kind for the project."""
    times: dict[str, list[float]] = defaultdict(list)
    for entry in log:
        times[f"{entry['kind']} user"].append(entry["t"])  # one account: the user is the account
        times[f"{entry['kind']} project"].append(entry["t"])
    most = {}
    for key, values in times.items():
        values.sort()
        best, start = 0, 0
        for end, t in enumerate(values):
            while t - values[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        most[key] = best
    return most


def _check_sheet(emulator: Any, spreadsheet_id: str, calls: list[Any]) -> tuple[int, int, int]:
    """(rows lost, rows duplicated, rows stale) of the spreadsheet against the database."""
    from calls.models import Call
    from sheets_sync import layout

    seen: Counter[str] = Counter()
    values: dict[str, list[Any]] = {}
    for title, rows in emulator.values(spreadsheet_id).items():
        for row in rows[1:] if title.startswith("Calls") else []:
            if row and row[0]:
                seen[str(row[0])] += 1
                values[str(row[0])] = [*row, *[""] * layout.WIDTH][:layout.WIDTH]
    expected = {str(c.pk): layout.row_values(c) for c in Call.objects.filter(
        pk__in=[c.pk for c in calls]).select_related("owner")}
    lost = len(set(expected) - set(seen))
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    stale = sum(1 for call_id, row in values.items() if call_id in expected and row != expected[call_id])
    return lost, duplicated, stale


def backlog(emulator: Any, client: Any, ops: str, rows: int) -> None:
    from calls.models import Call
    from sheets_sync.outbox import outbox_backfill

    user = _user("backlog")
    started = time.monotonic()
    calls = _calls(user, rows)
    outbox_backfill(calls=Call.objects.filter(owner=user), spreadsheet_id=ops)
    print(f"backlog: {rows:,} calls queued in {time.monotonic() - started:.0f} s (set-up, not measured)")
    for phase in ("new rows (append)", "known rows (values.batchUpdate)"):
        offset = len(emulator.log())
        if phase.startswith("known"):
            outbox_backfill(calls=Call.objects.filter(owner=user), spreadsheet_id=ops)
        started = time.monotonic()
        _drain_all(client)
        elapsed = time.monotonic() - started
        log = emulator.log(since=offset)
        writes = sum(1 for e in log if e["kind"] == "write")
        most = _windows(log, 60.0)
        print(f"  {phase}: {rows:,} rows in {elapsed:.1f} s = {rows / elapsed * 60:,.0f} rows/min; "
              f"{len(log)} requests ({writes} writes, {len(log) / elapsed * 60:.0f}/min); most in any 60 s: "
              f"{most}; limits 60/user, 300/project; 429s: {sum(1 for e in log if e['status'] == 429)}")
    lost, duplicated, stale = _check_sheet(emulator, ops, calls)
    print(f"  rows lost {lost}, duplicated {duplicated}, stale {stale}")


def _visible_after(emulator: Any, ops: str, offset: int, critical_at: dict[str, float]) -> list[float]:
    """Seconds from each critical commit to the first write of its row showing the call completed."""
    changes, _ = emulator.changes(since=offset)
    visible: dict[str, float] = {}
    for change in changes:
        values = change["values"]
        if change["spreadsheet"] == ops and values and str(values[0]) in critical_at and values[4] == "completed":
            visible.setdefault(str(values[0]), change["t"])
    return sorted(visible[c] - t for c, t in critical_at.items() if c in visible)


def steady(emulator: Any, client: Any, ops: str, calls_per_hour: int, seconds: float) -> None:
    from sheets_sync import drain
    from tests.sheets.system.conftest import new_call, report

    user = _user("steady")
    emulator.record_changes(True)
    _, change_offset = emulator.changes()
    log_offset = len(emulator.log())
    kick, stop = threading.Event(), threading.Event()

    def drainer(critical: bool) -> None:
        from django.db import connection

        while not stop.is_set():
            if critical:
                kick.wait(1.0)
                kick.clear()
            else:
                stop.wait(5.0)
            drain.drain_once(client=client, critical_only=critical, max_seconds=30)
        connection.close()

    threads = [threading.Thread(target=drainer, args=(flag,), daemon=True) for flag in (True, False)]
    for thread in threads:
        thread.start()
    steps = ({"queue_status": "allocated"}, {"queue_status": "started", "answered_by": "human"},
             {"queue_status": "complete", "status": "completed", "completed": True, "answered_by": "human",
              "duration_seconds": 42},
             {"queue_status": "complete", "status": "completed", "completed": True, "answered_by": "human",
              "duration_seconds": 42, "summary": "Confirmed for 7 pm."})
    interval = 3600.0 / calls_per_hour / len(steps)  # one update every interval seconds
    live: list[tuple[Any, int]] = []
    critical_at: dict[str, float] = {}
    made, started, behind, updates = [], time.monotonic(), 0.0, 0
    next_at = started
    while time.monotonic() - started < seconds:
        if not live or live[0][1] >= len(steps) or len(live) < 8:
            live.append((new_call(user), 0))
        call, step = live.pop(0)
        report(call, steps[step])
        if step == 0:
            made.append(call)
        updates += 1
        if step == 2:
            critical_at[str(call.pk)] = time.time()
            kick.set()
        if step + 1 < len(steps):
            live.append((call, step + 1))
        next_at += interval
        behind = max(behind, time.monotonic() - next_at)
        time.sleep(max(0.0, next_at - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(120)
    _drain_all(client)
    delays = _visible_after(emulator, ops, change_offset, critical_at)
    log = emulator.log(since=log_offset)
    elapsed = time.monotonic() - started
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else float("nan")
    print(f"steady: {len(made)} calls, {updates} updates in {seconds:.0f} s (target {calls_per_hour:,} calls/h x "
          f"4; the load ran up to {behind:.1f} s behind schedule); {len(log)} requests "
          f"({len(log) / elapsed * 60:.0f}/min), most in any 60 s: {_windows(log, 60.0)}")
    print(f"  critical change -> row visible: p50 {statistics.median(delays) if delays else float('nan'):.2f} s, "
          f"p95 {p95:.2f} s, max {max(delays, default=float('nan')):.2f} s over {len(delays)} critical rows "
          f"({len(critical_at) - len(delays)} never seen)")
    lost, duplicated, stale = _check_sheet(emulator, ops, made)
    print(f"  rows lost {lost}, duplicated {duplicated}, stale {stale}")
    emulator.record_changes(False)


def fanout(emulator: Any, client: Any, key: dict[str, Any], spreadsheets: int, scale: float) -> None:
    from django.conf import settings
    from django.utils import timezone

    from sheets_sync import layout
    from sheets_sync.models import SpreadsheetStatus
    from tests.sheets.system.conftest import new_call, report
    from users.services import user_set_spreadsheet

    settings.SHEETS_OPERATIONS_SPREADSHEET_ID = ""  # the users' spreadsheets only
    tab = layout.tab_title(timezone.now())
    calls, owners = [], {}
    for n in range(spreadsheets):
        user = _user(f"fan{n:04d}")
        sheet = emulator.new_spreadsheet(shared_with=[key["client_email"]], values={tab: [layout.HEADER]})
        user_set_spreadsheet(user=user, spreadsheet_id=sheet)
        SpreadsheetStatus.objects.update_or_create(spreadsheet_id=sheet, defaults={"tabs": {tab: {
            "rows": 1000, "columns": layout.WIDTH, "header": True}}, "access_ok": True})
        calls.append(report(new_call(user), {"queue_status": "allocated"}))
        owners[sheet] = calls[-1]
    emulator.record_changes(True)
    _, change_offset = emulator.changes()
    log_offset = len(emulator.log())
    started = time.time()
    _drain_all(client)
    elapsed = time.time() - started
    changes, _ = emulator.changes(since=change_offset)
    first: dict[str, float] = {}
    for change in changes:
        first.setdefault(change["spreadsheet"], change["t"])
    waits = sorted(t - started for t in first.values())
    log = emulator.log(since=log_offset)
    bound = spreadsheets / 60.0 * 60.0 / scale  # seconds (scaled): one request a spreadsheet at 60 a minute
    longest = waits[-1] if waits else float("nan")
    print(f"fanout: {spreadsheets} spreadsheets, time scale {scale:g} (quota window {60 / scale:g} s); "
          f"{len(log)} requests in {elapsed:.1f} s; most in any window: {_windows(log, 60.0 / scale)}")
    print(f"  longest wait of a spreadsheet: {longest * scale / 60:.2f} min real (bound {bound * scale / 60:.2f} "
          f"min: ratio {longest / bound:.3f}); median {statistics.median(waits) * scale / 60:.2f} min; "
          f"{spreadsheets - len(first)} spreadsheets never written")
    lost = duplicated = stale = 0
    for sheet, call in owners.items():
        a, b, c = _check_sheet(emulator, sheet, [call])
        lost, duplicated, stale = lost + a, duplicated + b, stale + c
    print(f"  rows lost {lost}, duplicated {duplicated}, stale {stale}")
    emulator.record_changes(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="backlog,steady,fanout")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls-per-hour", type=int, default=20_000)
    parser.add_argument("--steady-seconds", type=float, default=120.0)
    parser.add_argument("--spreadsheets", type=int, default=1_000)
    parser.add_argument("--time-scale", type=float, default=10.0, help="fanout only (see the module docstring)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        parser.error("REDIS_URL is required (the quota gate and the breaker live in Redis)")
    from sheets_sync.emulator import running_emulator

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    _database(create=True)
    try:
        for scenario in args.scenarios.split(","):
            scale = args.time_scale if scenario == "fanout" else 1.0
            with running_emulator(subprocess_=True, window_seconds=60.0 / scale) as emulator:
                key = emulator.new_account()
                ops = emulator.new_spreadsheet(shared_with=[key["client_email"]], title="operations")
                if "django" not in sys.modules or not _ready():
                    _setup_django(key, ops, emulator.url)
                from django.conf import settings

                settings.SHEETS_CREDENTIALS, settings.SHEETS_OPERATIONS_SPREADSHEET_ID = json.dumps(key), ops
                settings.SHEETS_API_ENDPOINT = emulator.url + "/"
                client = _client(emulator.url, scale)
                if scenario == "backlog":
                    backlog(emulator, client, ops, args.rows)
                elif scenario == "steady":
                    steady(emulator, client, ops, args.calls_per_hour, args.steady_seconds)
                elif scenario == "fanout":
                    fanout(emulator, client, key, args.spreadsheets, scale)
                else:
                    parser.error(f"unknown scenario {scenario}")
                sys.stdout.flush()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            _database(create=False)


def _ready() -> bool:
    from django.apps import apps

    return apps.ready


if __name__ == "__main__":
    main()
