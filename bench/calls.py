"""Benchmark: placing calls through MCP, and paging a 100,000-call history. Prints figures; not a test.

    .venv/bin/python bench/calls.py                    # the full run (about five minutes)
    .venv/bin/python bench/calls.py --calls 200 --history-rows 20000 --samples 50   # a quick look

One run:

1. creates a throwaway PostgreSQL database ``callmcp_bench_calls`` (or uses ``--database-url``), migrates
   it, starts the Bland simulator (``manage.py bland_simulator``, plan enterprise, a large balance,
   a high time scale) and our server under uvicorn with the production settings, its post-call webhooks
   pointed back at that server, and creates a bench user with credits and an MCP token;
2. places ``--calls`` calls with makePhoneCall over MCP Streamable HTTP (legacy sessions, one per
   client, ``--concurrency`` clients), each to a different valid number (the simulator refuses a second
   call to one number within 10 s): calls placed per second, latency percentiles, errors by message;
   then waits for the webhooks to bring the calls to an end;
3. bulk-inserts ``--history-rows`` calls for the same user over twelve months (ORM ``bulk_create``),
   VACUUM ANALYZE, and times getCallHistory pages (first page, page 200, page 2,000; no filter and each
   filter) in process through ``calls.selectors.call_history`` and end to end through MCP; queries per
   page; EXPLAIN ANALYZE of the deep page, the count and the number filter.

Only 127.0.0.1; every request has a timeout; the processes are stopped and the database dropped in
``finally`` (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
DB_NAME = "callmcp_bench_calls"
MCP_PATH = "/api/v1/mcp"
PROTOCOL = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
GOAL_P95_MS = 30.0
PAGE_SIZE = 20
DEEP_PAGES = (1, 200, 2000)
# 20 area codes x 555-0100..0199: all pass phonenumbers.is_valid_number, and the simulator picks the
# scenario from the last two digits (human, voicemail, busy, no answer, failed, long call).
AREA_CODES = (212, 213, 312, 415, 503, 617, 646, 702, 718, 202, 305, 404, 206, 303, 512, 602, 713, 801, 917, 310)
FROM_NUMBERS = ("+14155550100", "+14155550101", "+16465550102")


def log(message: str) -> None:
    print(message, flush=True)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def numbers() -> list[str]:
    return [f"+1{area}55501{tail:02d}" for area in AREA_CODES for tail in range(100)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


# --- database and processes ---------------------------------------------------------------------------


def with_db_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return with_db_name(admin_url, DB_NAME)


def drop_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start(name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Proc:
    log_path = logdir / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    return Proc(name, process, log_path)


def wait_http(proc: Proc, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own 127.0.0.1 URL
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready at {url} after {timeout:.0f}s:\n{proc.tail()}")


# --- MCP client ---------------------------------------------------------------------------------------


class McpError(Exception):
    pass


def sse_messages(text: str) -> Iterator[dict[str, Any]]:
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        if data:
            with contextlib.suppress(ValueError):
                yield json.loads(data)


class Mcp:
    """One legacy (initialize + Mcp-Session-Id) Streamable HTTP session."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http, self.url = http, base_url + MCP_PATH
        self.headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "Content-Type": "application/json"}
        self.ids = iter(range(1, 1 << 62))

    async def open(self) -> Mcp:
        params = {"protocolVersion": PROTOCOL, "capabilities": {},
                  "clientInfo": {"name": "bench-calls", "version": "1"}}
        message = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
        async with self.http.post(self.url, json=message, headers=self.headers) as response:
            body = await response.text()
            session = response.headers.get("Mcp-Session-Id")
            if response.status != 200 or not session:
                raise McpError(f"initialize: HTTP {response.status} {body[:200]}")
        self.headers = {**self.headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": PROTOCOL}
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        async with self.http.post(self.url, json=note, headers=self.headers) as response:
            await response.read()
            if response.status != 202:
                raise McpError(f"notifications/initialized: HTTP {response.status}")
        return self

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's structured result; ``McpError`` with a message for every kind of failure."""
        request_id = next(self.ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                   "params": {"name": name, "arguments": arguments}}
        async with self.http.post(self.url, json=message, headers=self.headers) as response:
            text = await response.text()
            kind = response.headers.get("Content-Type", "")
            status = response.status
        if kind.startswith("text/event-stream"):
            answers = [m for m in sse_messages(text) if m.get("id") == request_id]
            answer = answers[-1] if answers else {}
        else:
            try:
                answer = json.loads(text) if text else {}
            except ValueError:
                raise McpError(f"HTTP {status}: not JSON: {text[:120]}") from None
        if "error" in answer:
            error = answer["error"]
            raise McpError(f"HTTP {status} JSON-RPC {error.get('code')}: {error.get('message')}")
        if status != 200 or "result" not in answer:
            raise McpError(f"HTTP {status}: {text[:160]}")
        result = answer["result"]
        if result.get("isError"):
            content = result.get("content") or [{}]
            raise McpError(f"tool error: {content[0].get('text', '')[:200]}")
        return result.get("structuredContent") or json.loads(result["content"][0]["text"])


def error_key(exc: BaseException) -> str:
    if isinstance(exc, McpError):
        text = str(exc)
    elif isinstance(exc, asyncio.TimeoutError | TimeoutError):
        text = "client timeout"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = re.sub(r"\+\d{8,15}", "+<number>", text)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)


def client_session(timeout: float, connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout, connect=5),
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
    )


# --- 2. placing calls ---------------------------------------------------------------------------------


@dataclass
class PlaceResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    wall_s: float = 0.0


async def place_calls(base_url: str, token: str, targets: list[str], concurrency: int, timeout: float) -> PlaceResult:
    result = PlaceResult()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for number in targets:
        queue.put_nowait(number)
    async with client_session(timeout, concurrency + 2) as http:
        clients = await asyncio.gather(*(Mcp(http, base_url, token).open() for _ in range(concurrency)))

        async def worker(mcp: Mcp) -> None:
            while True:
                try:
                    number = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                arguments = {"phone_number": number, "task": "Benchmark: confirm tomorrow's 10am appointment.",
                             "max_duration": 3, "metadata": {"bench": "calls"}}
                started = time.perf_counter()
                try:
                    details = await mcp.call_tool("makePhoneCall", arguments)
                    if not details.get("call_id"):
                        raise McpError(f"no call_id in {str(details)[:120]}")
                    result.ok += 1
                except Exception as exc:  # noqa: BLE001 - every failure is counted and grouped
                    result.errors[error_key(exc)] += 1
                result.latencies_ms.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker(mcp) for mcp in clients))
        result.wall_s = time.perf_counter() - started
    return result


def wait_for_webhooks(user: Any, placed_since: datetime, expected: int, sim_url: str, sim_key: str,
                      timeout: float = 60.0, stall: float = 15.0) -> None:
    """Wait until the webhooks have ended every placed call (or nothing moved for ``stall`` s), then say
    how many ended, and for the calls still open what the simulator says about them."""
    from django.db.models import Count

    from calls.models import TERMINAL_STATUSES, Call, CallEvent

    started = last_change = time.monotonic()
    recent = Call.objects.filter(owner=user, created_at__gte=placed_since)
    open_calls = previous = -1
    while True:
        open_calls = recent.exclude(status__in=list(TERMINAL_STATUSES)).count()
        now = time.monotonic()
        if open_calls != previous:
            previous, last_change = open_calls, now
        if open_calls == 0 or now - started > timeout or now - last_change > stall:
            break
        time.sleep(0.5)
    total = recent.count()
    by_status = Counter({row["status"]: row["n"] for row in recent.values("status").annotate(n=Count("id"))})
    webhooks = CallEvent.objects.filter(call__in=recent, source="webhook").count()
    log(f"  webhooks: {total - open_calls}/{total} calls ended ({webhooks} webhook-driven status changes); "
        f"waited {time.monotonic() - started:.1f}s after the last placement ({expected} placed OK)")
    log("  statuses: " + ", ".join(f"{status} {n}" for status, n in by_status.most_common()))
    stuck = list(recent.exclude(status__in=list(TERMINAL_STATUSES)).order_by("created_at")[:10])
    lost = 0
    for call in stuck:
        request = urllib.request.Request(f"{sim_url}/v1/calls/{call.provider_call_id}",  # noqa: S310 - 127.0.0.1
                                         headers={"authorization": sim_key})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our simulator on 127.0.0.1
                remote = json.loads(response.read())
            lost += bool(remote.get("completed"))
            there = f"simulator: completed={remote.get('completed')} status={remote.get('status')}"
        except OSError as exc:
            there = f"simulator: {exc}"
        events = list(call.events.order_by("id").values_list("source", "to_status", "created_at"))
        placed_at = next((at for source, _, at in events if source == "tool"), None)
        delay = f", provider id stored {(placed_at - call.created_at).total_seconds() * 1000:.0f} ms after the " \
                f"row was created" if placed_at else ""
        log(f"    still {call.status}: {call.to_number} ({there}{delay}; events: "
            f"{', '.join(f'{source}->{status}' for source, status, _ in events)})")
    if lost:
        log(f"    {lost} of these ended at the simulator but not here: the webhook was lost (it arrived before "
            "the provider call id was stored; the webhook task ignores unknown ids and nothing polls)")


# --- 3. history ---------------------------------------------------------------------------------------


def bulk_insert(user: Any, rows: int, batch: int = 5000) -> float:
    """``rows`` calls for ``user`` over the twelve months before the first placed call, oldest first (as a
    real table fills), with a status mix, who answered, durations and costs that go together."""
    from django.utils import timezone

    from calls.models import AnsweredBy, Call, CallStatus

    rng = random.Random(42)
    end = timezone.now() - timedelta(hours=1)
    start = end - timedelta(days=365)
    span = (end - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(rows))
    pool = numbers()
    statuses = [
        (CallStatus.COMPLETED, 62), (CallStatus.NO_ANSWER, 10), (CallStatus.BUSY, 8), (CallStatus.FAILED, 8),
        (CallStatus.CANCELED, 7), (CallStatus.QUEUED, 2), (CallStatus.IN_PROGRESS, 1.5), (CallStatus.SCHEDULED, 1.5),
    ]
    choices, weights = zip(*statuses, strict=True)
    fields = {f.name: f for f in Call._meta.get_fields() if f.name in ("created_at", "updated_at")}
    saved = (fields["created_at"].auto_now_add, fields["updated_at"].auto_now)
    fields["created_at"].auto_now_add = fields["updated_at"].auto_now = False  # keep our timestamps
    started = time.perf_counter()
    try:
        for first in range(0, rows, batch):
            objs = []
            for i in range(first, min(rows, first + batch)):
                created = start + timedelta(seconds=offsets[i])
                status = rng.choices(choices, weights)[0]
                answered, duration, ended, cost, error = "", None, None, None, ""
                if status == CallStatus.COMPLETED:
                    answered = AnsweredBy.HUMAN if rng.random() < 0.75 else AnsweredBy.VOICEMAIL
                    duration = rng.randint(15, 600) if answered == AnsweredBy.HUMAN else rng.randint(8, 40)
                    cost = max(2, round(duration / 60 * 14))
                elif status == CallStatus.NO_ANSWER:
                    answered, cost = AnsweredBy.NO_ANSWER, 0
                elif status in (CallStatus.BUSY, CallStatus.FAILED):
                    answered, cost = AnsweredBy.UNKNOWN, 0
                    error = "Call failed. The number you dialed is busy." if status == CallStatus.BUSY else (
                        "Call failed. The number you dialed is not found.")
                elif status == CallStatus.CANCELED:
                    cost = 0
                if status in (CallStatus.COMPLETED, CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED,
                              CallStatus.CANCELED):
                    ended = created + timedelta(seconds=(duration or 30) + 10)
                objs.append(Call(
                    id=uuid.uuid4(), owner=user, provider="bland", provider_call_id=f"bulk-{uuid.uuid4()}",
                    to_number=pool[rng.randrange(len(pool))], from_number=rng.choice(FROM_NUMBERS),
                    task="Remind the customer of their appointment and confirm the time.", max_duration=10,
                    status=status, queue_status="complete" if ended else "queued", answered_by=answered,
                    created_at=created, updated_at=ended or created, started_at=created + timedelta(seconds=3),
                    ended_at=ended, duration_seconds=duration, cost_credits=cost, reserved_credits=140,
                    provider_price=Decimal(cost or 0) / 100 if cost is not None else None, error_message=error,
                    summary="The customer confirmed the appointment." if answered == AnsweredBy.HUMAN else "",
                ))
            Call.objects.bulk_create(objs, batch_size=batch)
    finally:
        fields["created_at"].auto_now_add, fields["updated_at"].auto_now = saved
    return time.perf_counter() - started


@dataclass
class Kind:
    label: str
    arguments: dict[str, Any]  # getCallHistory arguments (and, through history_filters, the selector's)
    rows: int = 0
    cursors: dict[int, str | None] = field(default_factory=dict)  # page -> cursor that fetches it
    selector_ms: dict[int, list[float]] = field(default_factory=dict)
    mcp_ms: dict[int, list[float]] = field(default_factory=dict)
    walk_ms: list[float] = field(default_factory=list)
    count_ms: list[float] = field(default_factory=list)
    queries: dict[int, list[tuple[str, float]]] = field(default_factory=dict)


def history_kinds(user: Any) -> list[Kind]:
    from calls.models import Call

    newest = Call.objects.filter(owner=user, to_number__startswith="+1212").order_by("-created_at").first()
    number = newest.to_number if newest else "+12125550142"
    now = datetime.now(UTC)
    month = {"since": (now - timedelta(days=120)).isoformat(), "until": (now - timedelta(days=90)).isoformat()}
    quarter = {"since": (now - timedelta(days=180)).isoformat(), "until": (now - timedelta(days=90)).isoformat()}
    return [
        Kind("no filter", {}),
        Kind("status=completed", {"status": "completed"}),
        Kind("status=failed", {"status": "failed"}),
        Kind("answered_by=voicemail", {"answered_by": "voicemail"}),
        Kind(f"number={number}", {"number": number}),
        Kind("date range (30 days)", month),
        Kind("completed+human+90 days", {"status": "completed", "answered_by": "human", **quarter}),
    ]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def bench_selector(user: Any, kinds: list[Kind], samples: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from calls import selectors
    from calls.mcp_access import history_filters
    from calls.mcp_models import GetCallHistoryInput

    for kind in kinds:
        filters = history_filters(GetCallHistoryInput.model_validate(kind.arguments))
        kind.rows = selectors.call_history_queryset(owner_id=user.pk, filters=filters).count()
        # Walk the cursors from page 1 to the deepest page wanted (or the last page), timing every page.
        cursor: str | None = None
        for page_number in range(1, max(DEEP_PAGES) + 1):
            if page_number in DEEP_PAGES:
                kind.cursors[page_number] = cursor
            elapsed, page = timed(partial(selectors.call_history, owner_id=user.pk, filters=filters, cursor=cursor,
                                          limit=PAGE_SIZE))
            kind.walk_ms.append(elapsed)
            cursor = page.next_cursor
            if cursor is None:
                break
        for page_number, page_cursor in kind.cursors.items():
            one = partial(selectors.call_history, owner_id=user.pk, filters=filters, cursor=page_cursor,
                          limit=PAGE_SIZE)
            for _ in range(5):
                one()  # warm-up
            kind.selector_ms[page_number] = [timed(one)[0] for _ in range(samples)]
            with CaptureQueriesContext(connection) as captured:
                one()
            kind.queries[page_number] = [(q["sql"], float(q["time"]) * 1000) for q in captured.captured_queries]
        query = selectors.call_history_queryset(owner_id=user.pk, filters=filters)
        kind.count_ms = [timed(query.count)[0] for _ in range(max(20, samples // 4))]


async def bench_mcp(base_url: str, token: str, kinds: list[Kind], samples: int, timeout: float) -> list[str]:
    """Every page kind through MCP, one request at a time; returns cursor mismatches found while walking."""
    problems: list[str] = []
    async with client_session(timeout, 2) as http:
        mcp = await Mcp(http, base_url, token).open()
        # Walk the unfiltered history to page 200 through MCP: same cursors as the selector's walk?
        walk_to = min(200, max(kind_pages(kinds[0])))
        cursor = None
        for page_number in range(1, walk_to + 1):
            if page_number in kinds[0].cursors and kinds[0].cursors[page_number] != cursor:
                problems.append(f"MCP walk: cursor of page {page_number} differs from the selector's")
            arguments = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            cursor = (await mcp.call_tool("getCallHistory", arguments))["next_cursor"]
        for kind in kinds:
            for page_number, page_cursor in kind.cursors.items():
                arguments = {**kind.arguments, "limit": PAGE_SIZE, **({"cursor": page_cursor} if page_cursor else {})}
                for _ in range(5):
                    await mcp.call_tool("getCallHistory", arguments)
                times = []
                for _ in range(samples):
                    started = time.perf_counter()
                    page = await mcp.call_tool("getCallHistory", arguments)
                    times.append((time.perf_counter() - started) * 1000)
                if page["total"] != kind.rows or len(page["calls"]) == 0:
                    problems.append(f"{kind.label} page {page_number}: total {page['total']}, "
                                    f"{len(page['calls'])} calls (expected total {kind.rows})")
                kind.mcp_ms[page_number] = times
    return problems


def kind_pages(kind: Kind) -> list[int]:
    return sorted(kind.cursors)


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)  # noqa: S608 - SQL Django just ran for us
        return [row[0] for row in cursor.fetchall()]


def report_history(kinds: list[Kind], samples: int, mcp_problems: list[str]) -> None:
    log(f"\n  getCallHistory, limit {PAGE_SIZE}, {samples} samples per row, one request at a time "
        f"(goal: p95 < {GOAL_P95_MS:.0f} ms)")
    header = f"  {'filter':<27} {'matches':>7} {'page':>5} | {'selector p50':>12} {'p95':>6} | " \
             f"{'MCP p50':>8} {'p95':>6} | goal"
    log(header)
    log("  " + "-" * (len(header) - 2))
    misses = []
    for kind in kinds:
        for page_number in kind_pages(kind):
            sel, mcp = kind.selector_ms[page_number], kind.mcp_ms.get(page_number, [])
            sel95 = pct(sel, 95)
            mcp95 = pct(mcp, 95) if mcp else float("nan")
            ok = sel95 < GOAL_P95_MS and (not mcp or mcp95 < GOAL_P95_MS)
            if not ok:
                misses.append(f"{kind.label} p{page_number}")
            mcp_text = f"{pct(mcp, 50):8.2f} {mcp95:6.2f}" if mcp else f"{'-':>8} {'-':>6}"
            log(f"  {kind.label:<27} {kind.rows:>7} {page_number:>5} | {pct(sel, 50):12.2f} {sel95:6.2f} | "
                f"{mcp_text} | {'ok' if ok else 'MISS'}")
        missing = [p for p in DEEP_PAGES if p not in kind.cursors]
        if missing:
            log(f"  {'':<27} {'':>7} {'':>5}   (pages {', '.join(map(str, missing))} do not exist: "
                f"{-(-kind.rows // PAGE_SIZE)} pages)")
    log(f"  history p95 goal (< {GOAL_P95_MS:.0f} ms, selector and MCP): "
        + ("MET for every row" if not misses else f"MISSED for {len(misses)} rows: {', '.join(misses)}"))
    for problem in mcp_problems:
        log(f"  MCP check: {problem}")

    log("\n  walking the cursors page after page (selector, every page timed)")
    for kind in kinds:
        walk = kind.walk_ms
        log(f"  {kind.label:<27} pages 1-{len(walk):<5} p50 {pct(walk, 50):6.2f} ms  p95 {pct(walk, 95):6.2f} ms  "
            f"max {max(walk):6.2f} ms")

    log("\n  queries per page (selector, CaptureQueriesContext) and where the time goes (count / page query)")
    counts = set()
    for kind in kinds:
        parts = []
        for page_number in kind_pages(kind):
            queries = kind.queries[page_number]
            counts.add(len(queries))
            split = " / ".join(f"{ms:.0f}" for _, ms in queries)
            parts.append(f"p{page_number}: {len(queries)} queries ({split} ms)")
        count_p50 = statistics.median(kind.count_ms)
        log(f"  {kind.label:<27} " + "; ".join(parts) + f"; count() alone p50 {count_p50:.2f} ms")
    log(f"  constant queries per page goal: {'MET' if len(counts) == 1 else 'MISSED'} "
        f"({', '.join(map(str, sorted(counts)))} queries whatever the page; the MCP tool runs the same ones)")

    deep = kinds[0]
    deepest = max(kind_pages(deep))
    log(f"\n  EXPLAIN ANALYZE, page {deepest} query (no filter):")
    for line in explain(deep.queries[deepest][-1][0]):
        log(f"    {line}")
    log("\n  EXPLAIN ANALYZE, page 1 query (no filter; it carries the total as a subquery):")
    for line in explain(deep.queries[1][-1][0]):
        log(f"    {line}")
    numbered = next(kind for kind in kinds if kind.label.startswith("number="))
    log(f"\n  EXPLAIN ANALYZE, page 1 query with {numbered.label}:")
    for line in explain(numbered.queries[1][-1][0]):
        log(f"    {line}")


# --- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="makePhoneCall requests (at most 2,000)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--history-rows", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200, help="timings per page kind")
    parser.add_argument("--database-url", help="an existing PostgreSQL database to use instead of a throwaway one")
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="where to create and drop the throwaway database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--time-scale", type=float, default=600.0, help="simulated seconds per real second")
    parser.add_argument("--sim-latency-ms", type=float, default=0.0,
                        help="delay every simulator API answer (real Bland answers in hundreds of ms)")
    parser.add_argument("--server-log-level", default="WARNING", help="LOG_LEVEL of the server (its log: see logs)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the throwaway database")
    args = parser.parse_args()
    if not 1 <= args.calls <= len(numbers()):
        parser.error(f"--calls must be between 1 and {len(numbers())} (one distinct valid number per call)")

    database_url = args.database_url
    if database_url and not database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be PostgreSQL (postgres://...)")
    for url in (database_url or args.admin_url, args.redis_url):
        if urlsplit(url).hostname not in (HOST, "localhost"):
            parser.error(f"only 127.0.0.1 is allowed: {url}")
    created = database_url is None
    django_ready = False
    procs: list[Proc] = []
    logdir = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    try:
        if created:
            database_url = create_database(args.admin_url)
        sim_port, port = free_port(), free_port()
        base_url = f"http://{HOST}:{port}"
        sim_key, webhook_secret = secrets.token_hex(16), secrets.token_hex(16)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "BLAND_BASE_URL": f"http://{HOST}:{sim_port}",
            "BLAND_SIMULATOR_API_KEY": sim_key,
            "BLAND_WEBHOOK_SECRET": webhook_secret,
            "PUBLIC_BASE_URL": base_url,
            # No Celery worker here: webhooks are applied in the web process as they arrive.
            "CELERY_TASK_ALWAYS_EAGER": "true",
            # The per-user MCP limits (10 calls a minute by default) would measure the limiter, not the service.
            "MCP_RATE_LIMIT_PLACE": "1000000/minute",
            "MCP_RATE_LIMIT_READ": "1000000/minute",
            "LOG_LEVEL": args.server_log_level,
        }
        env.pop("BLAND_API_KEY", None)
        os.environ.update({k: v for k, v in env.items() if k != "BLAND_API_KEY"})

        log("callmcp calls benchmark")
        log(f"  PostgreSQL {database_url.rsplit('@', 1)[-1]}, Redis {args.redis_url}, {os.cpu_count()} CPUs, "
            f"uvicorn workers {args.workers}, Python {sys.version.split()[0]}, load average {load()}")
        started = time.perf_counter()
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,  # noqa: S603
                       check=True, timeout=600)
        log(f"  migrated in {time.perf_counter() - started:.1f}s")

        import django

        sys.path.insert(0, str(ROOT))
        django.setup()
        django_ready = True
        from django.db import connection

        from users.services import credits_grant, token_for_user, user_create

        user = user_create(username=f"bench-calls-{secrets.token_hex(4)}", password=None)
        credits_grant(user=user, amount=100_000_000, memo="calls benchmark")
        token = token_for_user(user=user)

        procs.append(start("simulator", [
            PYTHON, "manage.py", "bland_simulator", "--host", HOST, "--port", str(sim_port), "--plan", "enterprise",
            "--balance", "1000000", "--time-scale", str(args.time_scale), "--api-key", sim_key,
            "--webhook-secret", webhook_secret, "--latency-ms", str(args.sim_latency_ms),
        ], env, logdir))
        procs.append(start("server", [
            PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", str(port),
            "--workers", str(args.workers), "--log-level", "warning", "--no-access-log", "--lifespan", "off",
        ], env, logdir))
        wait_http(procs[0], f"http://{HOST}:{sim_port}/_sim/state")
        wait_http(procs[1], f"{base_url}/healthz")
        log(f"  simulator http://{HOST}:{sim_port} (plan enterprise, time scale {args.time_scale:g}, "
            f"latency {args.sim_latency_ms:g} ms); "
            f"server {base_url} (config.settings.production); logs in {logdir}")

        # --- 2. placing calls
        targets = numbers()
        random.Random(7).shuffle(targets)
        targets = targets[: args.calls]
        log(f"\n2. makePhoneCall x {args.calls} through MCP (Streamable HTTP, legacy sessions), "
            f"concurrency {args.concurrency}, each to a different number")
        placed_since = datetime.now(UTC)
        result = asyncio.run(place_calls(base_url, token, targets, args.concurrency, args.timeout))
        lat = result.latencies_ms
        log(f"  placed {result.ok}/{args.calls} in {result.wall_s:.2f}s: {result.ok / result.wall_s:.1f} calls/s")
        log(f"  latency ms: p50 {pct(lat, 50):.1f}  p95 {pct(lat, 95):.1f}  p99 {pct(lat, 99):.1f}  "
            f"max {max(lat):.1f}")
        log(f"  errors: {sum(result.errors.values())}")
        for message, n in result.errors.most_common():
            log(f"    {n:>5} x {message}")
        wait_for_webhooks(user, placed_since, result.ok, f"http://{HOST}:{sim_port}", sim_key)

        # --- 3. history
        log(f"\n3. getCallHistory over {args.history_rows:,} more calls for the same user")
        seconds = bulk_insert(user, args.history_rows)
        log(f"  bulk_create {args.history_rows:,} rows in {seconds:.1f}s ({args.history_rows / seconds:,.0f} rows/s)")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) calls_call")
        log(f"  VACUUM ANALYZE calls_call in {time.perf_counter() - started:.1f}s")
        kinds = history_kinds(user)
        started = time.perf_counter()
        bench_selector(user, kinds, args.samples)
        log(f"  selector pass in {time.perf_counter() - started:.0f}s")
        started = time.perf_counter()
        problems = asyncio.run(bench_mcp(base_url, token, kinds, args.samples, args.timeout))
        log(f"  MCP pass in {time.perf_counter() - started:.0f}s")
        report_history(kinds, args.samples, problems)
        log(f"\n  load average at the end: {load()} (other work on this machine inflates every figure)")
    finally:
        for proc in reversed(procs):
            proc.stop()
        if django_ready:
            from django.db import connections

            connections.close_all()
        if created and database_url and not args.keep_db:
            drop_database(args.admin_url)


if __name__ == "__main__":
    main()
