"""Benchmark: a 1,000-call campaign placed through MCP on the Bland simulator. Prints figures; not a test.

    .venv/bin/python bench/campaign.py                     # 1,000 calls
    .venv/bin/python bench/campaign.py --calls 200         # a quick look

One run:

1. creates a throwaway PostgreSQL database (``--db-name``, default ``callmcp_campaign_bench``) and migrates it;
   starts the Bland simulator in a process of its own (plan enterprise, clock ``--time-scale`` times real time,
   a batch's calls dialled ``--dispatch-rate`` a simulated second, signed webhooks on) and our server
   (uvicorn, one process, webhooks to itself), and a user with credits, a token and a spreadsheet of their own
   (``--sheets-spreadsheet``) with sync off, so every call's Sheets row is queued in the outbox in the placing
   transaction, as in production, and waits there;
2. sends one ``tools/call makeCallCampaign`` over Streamable HTTP with ``--calls`` rows (each its own
   request_data, ``confirm_spend: true``) and times it: request to accepted (the answer), and to all calls
   placed (every call linked to its provider call and queued); counts the requests the provider got;
3. waits (at most ``--max-wait`` s) until every call has ended in our database, through the simulator's
   webhooks alone, then runs one poller pass for any a lost webhook left behind; prints the spread
   between the first and the last call's end and the time until the last one was settled, and checks
   the ledger: every call reserved once and settled once.

Goals (issue 15): accepted in under 1 s; one provider request per batch (``POST /v2/batches/create``), not one
per call. Only 127.0.0.1; every request has a timeout; every process is stopped and the database dropped in
``finally`` (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from poller import HOST, PYTHON, ROOT, Simulator, database_url, free_port, log  # noqa: E402

DB_NAME = "callmcp_campaign_bench"
MCP = "/api/v1/mcp"
MAX_DURATION = 3
SECRET = "bench-webhook-secret"  # noqa: S105 - the throwaway simulator's
USER_SHEET = "BenchUserSheet0123456789abcdef"


def recreate(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def spawn(code_or_args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        return subprocess.Popen(code_or_args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def wait_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up:\n{log_path.read_text()[-2000:]}") from None
            time.sleep(0.2)


def wait_ready(process: subprocess.Popen[bytes], env: dict[str, str], log_path: Path) -> None:
    """Until the Celery worker answers a ping (its start-up is not part of what is measured)."""
    deadline = time.monotonic() + 180
    while subprocess.run([PYTHON, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "2"],  # noqa: S603
                         cwd=ROOT, env=env, capture_output=True, timeout=120).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def rows(count: int) -> list[dict[str, Any]]:
    """Distinct numbers, mostly answered (x0-x9 human for 0 and 6-9, voicemail for 1), some busy (2) and
    unanswered (3)."""
    decades = (0, 1, 2, 3, 6, 7, 8, 9)
    numbers = [f"+1{area}555{hundred:02d}{decade}{unit}" for area in (212, 646, 718, 917) for hundred in range(100)
               for decade in decades for unit in range(10)]
    return [{"phone_number": numbers[i], "request_data": {"name": f"Customer {i}", "order": 1000 + i}}
            for i in range(count)]


def rpc(client: httpx.Client, session: dict[str, str], method: str, params: dict[str, Any], ident: int) -> Any:
    response = client.post(MCP, json={"jsonrpc": "2.0", "id": ident, "method": method, "params": params},
                           headers=session)
    response.raise_for_status()
    if "mcp-session-id" in response.headers:
        session["Mcp-Session-Id"] = response.headers["mcp-session-id"]
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    return json.loads(text)


_CONNECTIONS: dict[str, psycopg.Connection[Any]] = {}


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """One statement on this script's one connection (autocommit: every read sees the latest commits)."""
    if url not in _CONNECTIONS:
        _CONNECTIONS[url] = psycopg.connect(url, connect_timeout=10, autocommit=True)
    return list(_CONNECTIONS[url].execute(sql, args).fetchall())


def measure(args: argparse.Namespace, url: str, server: str, token: str, sim: Simulator, env: dict[str, str]
            ) -> bool:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    session: dict[str, str] = {}
    with httpx.Client(base_url=server, headers=headers, timeout=args.max_wait) as client:
        rpc(client, session, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                            "clientInfo": {"name": "bench", "version": "1"}}, 1)
        client.post(MCP, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        sim.control("DELETE", "requests")
        arguments = {"task": "Tell {{name}} that order {{order}} ships tomorrow.", "max_duration": MAX_DURATION,
                     "calls": rows(args.calls), "name": "bench", "confirm_spend": True}
        began = time.perf_counter()
        answer = rpc(client, session, "tools/call", {"name": "makeCallCampaign", "arguments": arguments}, 2)
        accepted = time.perf_counter() - began
    result = answer.get("result") or {}
    if result.get("isError") or "error" in answer:
        log(f"  makeCallCampaign failed: {json.dumps(answer)[:600]}")
        return False
    campaign_id = result["structuredContent"]["campaign_id"]
    linked_sql = ("SELECT count(*) FROM calls_call WHERE campaign_id = %s AND provider_call_id IS NOT NULL "
                  "AND status <> 'pending'")
    while query(url, linked_sql, campaign_id)[0][0] < args.calls and time.perf_counter() - began < args.max_wait:
        time.sleep(0.05)
    placed = time.perf_counter() - began
    queued = query(url, "SELECT count(*), count(DISTINCT o.call_id) FROM sheets_sync_outboxentry o JOIN calls_call c "
                        "ON o.call_id = c.id WHERE c.campaign_id = %s", campaign_id)[0]
    asked = Counter(sim.control("GET", "requests")["endpoints"])
    log(f"  request -> accepted (tools/call answered):   {accepted:8.3f} s   (goal < 1 s)")
    log(f"  request -> all {args.calls} calls placed:          {placed:8.3f} s")
    log(f"  Sheets outbox rows queued with it:           {queued[0]} for {queued[1]} calls "
        f"(the user's spreadsheet {args.sheets_spreadsheet or 'none'}; sync off: they wait)")
    log(f"  provider requests for the campaign:          {sum(asked.values())} "
        f"({', '.join(f'{k} x{v}' for k, v in sorted(asked.items()))}); goal: 1 batch create, not {args.calls} calls")
    open_sql = ("SELECT count(*) FROM calls_call WHERE campaign_id = %s AND status NOT IN "
                "('completed', 'failed', 'busy', 'no_answer', 'canceled')")
    last_change, left_before = time.perf_counter(), args.calls
    while (left := query(url, open_sql, campaign_id)[0][0]) and time.perf_counter() - began < args.max_wait:
        if left != left_before:
            last_change, left_before = time.perf_counter(), left
        elif time.perf_counter() - last_change > args.settle_wait:
            break  # the webhooks have stopped coming: the rest is the poller's
        time.sleep(0.25)
    by_webhooks = args.calls - query(url, open_sql, campaign_id)[0][0]
    settled = time.perf_counter() - began
    state = sim.control("GET", "state")
    if by_webhooks < args.calls:
        subprocess.run([PYTHON, "manage.py", "poll_calls", "--once", "--trigger", "bench"], cwd=ROOT, env=env,  # noqa: S603
                       check=True, timeout=600, capture_output=True)
        settled = time.perf_counter() - began
    left = query(url, open_sql, campaign_id)[0][0]
    ends = [datetime.fromisoformat(c["planned_end"]) for c in state["calls"] if c["completed"]]
    ended = query(url, "SELECT min(ended_at), max(ended_at) FROM calls_call WHERE campaign_id = %s", campaign_id)[0]
    deliveries = [d for d in state["webhooks"] if d["url"].endswith("/webhooks/bland")]
    log(f"  calls settled by webhooks alone:             {by_webhooks} of {args.calls} "
        f"({sum(d['delivered'] for d in deliveries)} webhooks delivered, "
        f"{sum(d['attempts'] for d in deliveries)} attempts); after one poller pass: {args.calls - left}")
    if ended[0] and ended[1]:
        log(f"  first -> last call's end (provider times):   {(ended[1] - ended[0]).total_seconds():8.1f} s wall "
            f"({(max(ends) - min(ends)).total_seconds():.0f} simulated s at scale {args.time_scale:g}, "
            f"dispatch {args.dispatch_rate:g} calls/simulated s)")
    log(f"  request -> every call settled here:          {settled:8.1f} s")
    kinds = query(url, "SELECT array_agg(e.kind ORDER BY e.id) FROM users_creditledgerentry e JOIN calls_call c "
                       "ON e.reference = 'call:' || c.id::text WHERE c.campaign_id = %s GROUP BY c.id", campaign_id)
    shapes = Counter(tuple(k[0]) for k in kinds)
    log(f"  ledger rows per call: {dict(shapes)}")
    good = len(kinds) == args.calls and all(shape in (("reserve", "settle"), ("reserve", "release"))
                                            for shape in shapes)
    log(f"  every call reserved once and settled once: {'yes' if good else 'NO'}")
    return good and left == 0 and asked.get("POST /v2/batches/create") == 1 and not asked.get("POST /v1/calls")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=20.0, help="simulated seconds per real second")
    parser.add_argument("--dispatch-rate", type=float, default=20.0, help="batch calls dialled per simulated second")
    parser.add_argument("--max-wait", type=float, default=600.0)
    parser.add_argument("--settle-wait", type=float, default=60.0,
                        help="seconds without a call settling after which the poller is run for the rest")
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10",
                        help="cache, channel layer and Celery broker; 'none': tasks run in the server process")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--db-name", default=DB_NAME, help="the throwaway database (dropped first and after)")
    parser.add_argument("--sheets-spreadsheet", default=USER_SHEET,
                        help="the user's spreadsheet every call's row is queued for (sync stays off: the rows "
                             "wait in the outbox); '' for none")
    args = parser.parse_args()
    if not 1 <= args.calls <= 1000:
        parser.error("--calls must be between 1 and 1,000 (one campaign)")
    redis_url = None if args.redis_url == "none" else args.redis_url
    if not re.fullmatch(r"[a-z0-9_]{1,63}", args.db_name):
        parser.error("--db-name: lower-case letters, digits and _ only")
    if any(urlsplit(u).hostname not in (HOST, "localhost") for u in (args.admin_url, redis_url) if u):
        parser.error("only 127.0.0.1 is allowed")
    logdir = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
    sim_process = server = worker = None
    recreate(args.admin_url, args.db_name)
    try:
        url = database_url(args.admin_url, args.db_name)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": url, "DEBUG": "0",
               "LOG_LEVEL": "WARNING", "METRICS_BACKEND": "off", "POLLER_GRACE_SECONDS": "0",
               "BLAND_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT), "SHEETS_OPERATIONS_SPREADSHEET_ID": "",
               "SHEETS_CREDENTIALS": ""}
        for name in ("BLAND_API_KEY", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"):
            env.pop(name, None)
        env |= {"REDIS_URL": redis_url} if redis_url else {"CELERY_TASK_ALWAYS_EAGER": "1"}
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,  # noqa: S603
                       check=True, timeout=900)
        sim_port, key, port = free_port(), secrets.token_hex(8), free_port()
        code = ("import logging; from calls.providers.simulator import run; logging.basicConfig(level=logging.ERROR); "
                f"run({HOST!r}, {sim_port}, api_key={key!r}, webhook_secret={SECRET!r}, plan='enterprise', "
                f"balance=1e9, time_scale={args.time_scale}, batch_dispatch_rate={args.dispatch_rate}, "
                "webhook_timeout=30)")
        sim_process = spawn([PYTHON, "-c", code], env, logdir / "simulator.log")
        sim = Simulator(f"http://{HOST}:{sim_port}", key, sim_process, logdir / "simulator.log")
        wait_up(f"{sim.url}/_sim/state", sim_process, logdir / "simulator.log")
        server_url = f"http://{HOST}:{port}"
        env |= {"BLAND_BASE_URL": sim.url, "BLAND_SIMULATOR_API_KEY": key, "PUBLIC_BASE_URL": server_url}
        token = subprocess.run([PYTHON, "manage.py", "create_user", "campaign-bench", "--credits", "10000000",  # noqa: S603
                                "--token-only"], cwd=ROOT, env=env, check=True, timeout=120,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("UPDATE users_user SET sheets_spreadsheet_id = %s WHERE username = 'campaign-bench'",
                         (args.sheets_spreadsheet,))
        server = spawn([PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", str(port),
                        "--log-level", "warning"], env, logdir / "server.log")
        wait_up(f"{server_url}/healthz", server, logdir / "server.log")
        if redis_url:  # the production shape: webhooks and the linking task run in a Celery worker
            worker = spawn([PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "warning", "--concurrency", "2",
                            "--without-heartbeat", "--without-mingle", "--without-gossip"], env, logdir / "worker.log")
            wait_ready(worker, env, logdir / "worker.log")
        log(f"callmcp campaign benchmark: {args.calls} calls, one campaign")
        tasks = "a Celery worker (2 processes), Redis, " if redis_url else "tasks in the server, "
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        log(f"  {os.cpu_count()} CPUs shared, unpinned, by the simulator, our server (one uvicorn process), "
            f"{tasks}PostgreSQL and this script; load average {load}; logs in {logdir}")
        return 0 if measure(args, url, server_url, token, sim, env) else 1
    finally:
        for conn in _CONNECTIONS.values():
            conn.close()
        stop(worker)
        stop(server)
        stop(sim_process)
        if not args.keep_db:
            recreate(args.admin_url, args.db_name, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
