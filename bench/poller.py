"""Benchmark: one poller pass over calls in flight, with the provider's list and without it. Prints figures;
not a test.

    .venv/bin/python bench/poller.py                                  # 10,000 calls, 2,000 changed, 100 req/s
    .venv/bin/python bench/poller.py --calls 1000 --changed 200       # a quick look

One run:

1. creates a throwaway PostgreSQL database ``callmcp_poller_bench`` and migrates it; starts the Bland
   simulator in a process of its own (the load generator: plan enterprise, clock at real time, webhooks
   off, so only the poller can end a call);
2. list pass: seeds ``--calls`` long calls in the simulator (``POST /_sim/seed``) and the same calls in the
   database as they stand (in progress, answered by a human, credits held), runs one pass to set the
   watermark, ends ``--changed`` of the calls (``POST /v1/calls/{id}/stop``), turns on the simulator's rate
   limit (``--rate`` requests a second, Bland's 429 past it) and times one pass of ``manage.py poll_calls``'s
   code in a runner process of its own: calls reconciled per second, the pass's duration, provider
   requests (list and details) against the naive one per call, calls asked about twice (duplicates),
   the runner's peak memory; and whether every changed call is final with its credits settled;
3. naive pass: the same calls again with the simulator's list endpoint switched off, so the pass asks
   about every call one by one.

Goals (issue 12): requests <= ceil(calls/1,000) + changed + 1 %; the pass within 10 % of requests / rate;
every changed call final after one pass; runner peak memory under 200 MB; no duplicates; and without the
list, all calls within 10 % of calls / rate. Only 127.0.0.1; every request has a timeout; the simulator
is stopped and the database dropped in ``finally`` (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
DB_NAME = os.environ.get("POLLER_BENCH_DB", "callmcp_poller_bench")  # another name keeps two runs on one server apart
USERS = 20
MAX_DURATION = 30  # minutes: the seeded calls talk for ten, so none ends on its own during a run
HOLD = MAX_DURATION * 14  # credits held per call (CALL_CREDITS_PER_MINUTE 14)
RUNNER = """
import json, resource, sys, time
import django
django.setup()
from calls.poller import PollOptions, poll_calls
before = resource.getrusage(resource.RUSAGE_SELF)
began = time.monotonic()
summary = poll_calls(options=PollOptions.from_settings(max_seconds=float(sys.argv[1]), trigger="bench"))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"summary": summary.as_dict(), "wall_seconds": time.monotonic() - began,
                  "peak_rss_kb": usage.ru_maxrss,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime}))
"""


def log(message: str = "") -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def recreate_database(admin_url: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def long_call_numbers(count: int) -> list[str]:
    """Dialable numbers the simulator plays as ten-minute calls (last two digits 50-59), reused as needed."""
    pool = [f"+1{area}555{hundred:02d}{tail}" for area in (212, 646, 718) for hundred in range(100)
            for tail in range(50, 60)]
    return [pool[n % len(pool)] for n in range(count)]


@dataclass
class Simulator:
    url: str
    key: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.url}/_sim/{path}", json=body, timeout=120)
        response.raise_for_status()
        return response.json()

    def cpu_seconds(self) -> float:
        """User and system CPU the simulator process has used so far (from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_simulator(logdir: Path) -> Simulator:
    port, key = free_port(), secrets.token_hex(8)
    code = ("import logging; from calls.providers.simulator import run; logging.basicConfig(level=logging.WARNING); "
            f"run({HOST!r}, {port}, api_key={key!r}, plan='enterprise', balance=1e12, time_scale=1.0, "
            "webhooks=False)")
    log_path = logdir / "simulator.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen([PYTHON, "-c", code], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    sim = Simulator(f"http://{HOST}:{port}", key, process, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            sim.control("GET", "state")
            return sim
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start:\n{log_path.read_text()[-2000:]}") from None
            time.sleep(0.2)


def seed(sim: Simulator, count: int) -> list[tuple[uuid.UUID, str, str]]:
    """``count`` long calls in the simulator, all dialled and answered: (our id, provider id, number)."""
    sim.control("POST", "reset", {"balance": 1e12, "time_scale": 1.0})
    ours = [uuid.uuid4() for _ in range(count)]
    numbers = long_call_numbers(count)
    seeded: list[tuple[uuid.UUID, str, str]] = []
    for start in range(0, count, 1000):
        bodies = [{"phone_number": numbers[n], "task": "Confirm the delivery window.", "max_duration": MAX_DURATION,
                   "metadata": {"callmcp_call_id": str(ours[n])}} for n in range(start, min(count, start + 1000))]
        ids = sim.control("POST", "seed", {"calls": bodies})["call_ids"]
        seeded += [(ours[start + n], call_id, numbers[start + n]) for n, call_id in enumerate(ids)]
    sim.control("POST", "advance", {"seconds": 20})  # every call dialled, connected and answered by a human
    return seeded


def load_database(seeded: list[tuple[uuid.UUID, str, str]]) -> None:
    """The same calls in our database as a pass would have left them: in progress, credits held."""
    from django.db import connection

    from calls.models import Call, CallStatus
    from users.models import CreditAccount, CreditLedgerEntry, LedgerKind
    from users.services import credits_grant, user_create

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_call, calls_callevent, calls_pollrun, calls_polldeadletter, "
                       "users_creditledgerentry, users_creditaccount, users_user RESTART IDENTITY CASCADE")
    users = [user_create(username=f"bench-{n}", password=None) for n in range(USERS)]
    for user in users:
        credits_grant(user=user, amount=100_000_000, memo="poller benchmark")
    now = datetime.now(UTC)
    calls = [Call(id=ours, owner=users[n % USERS], provider_call_id=provider_id, to_number=number,
                  task="Confirm the delivery window.", max_duration=MAX_DURATION, status=CallStatus.IN_PROGRESS,
                  queue_status="started", answered_by="human", reserved_credits=HOLD, started_at=now)
             for n, (ours, provider_id, number) in enumerate(seeded)]
    Call.objects.bulk_create(calls, batch_size=2000)
    Call.objects.update(created_at=now - timedelta(seconds=30))
    entries = []
    for account in CreditAccount.objects.filter(user__in=users):
        mine = [call for call in calls if call.owner_id == account.user_id]
        balance, reserved = account.balance, account.reserved
        for call in mine:
            balance, reserved = balance - HOLD, reserved + HOLD
            entries.append(CreditLedgerEntry(account=account, kind=LedgerKind.RESERVE, amount=-HOLD,
                                             reserved_delta=HOLD, balance_after=balance, reserved_after=reserved,
                                             reference=call.credit_reference, memo="poller benchmark hold"))
        CreditAccount.objects.filter(pk=account.pk).update(balance=balance, reserved=reserved)
    CreditLedgerEntry.objects.bulk_create(entries, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def end_calls(sim: Simulator, provider_ids: list[str]) -> None:
    """End calls at the provider (as if they had hung up): what changed since the last pass."""
    with httpx.Client(base_url=sim.url, headers={"authorization": sim.key}, timeout=30) as client:
        def stop(call_id: str) -> None:
            client.post(f"/v1/calls/{call_id}/stop").raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(stop, provider_ids))


def run_pass(env: dict[str, str], max_seconds: float, profile: str = "") -> dict[str, Any]:
    """One pass in a runner process of its own: its summary, wall time and peak memory. With ``profile``, the
    runner runs under py-spy (every thread, folded stacks written to that file; it slows the pass)."""
    command = [PYTHON, "-c", RUNNER, str(max_seconds)]
    if profile:
        command = [str(Path(PYTHON).with_name("py-spy")), "record", "--threads", "--format", "raw", "--rate", "250",
                   "--output", profile, "--", *command]
    answer = subprocess.run(command, cwd=ROOT, env=env,  # noqa: S603
                            capture_output=True, text=True, timeout=max_seconds + 120, check=False)
    if answer.returncode != 0:
        raise RuntimeError(f"the runner failed ({answer.returncode}):\n{answer.stderr[-3000:]}")
    return json.loads(next(line for line in reversed(answer.stdout.splitlines()) if line.startswith("{")))


def settled(changed: list[uuid.UUID]) -> tuple[int, int]:
    """Of the changed calls: how many are final, and how many had their credits settled exactly once."""
    from django.db.models import Count

    from calls.models import TERMINAL_STATUSES, Call
    from users.models import CreditLedgerEntry, LedgerKind

    final = Call.objects.filter(pk__in=changed, status__in=sorted(TERMINAL_STATUSES)).count()
    once = (CreditLedgerEntry.objects.filter(reference__in=[f"call:{pk}" for pk in changed],
                                             kind__in=[LedgerKind.SETTLE, LedgerKind.RELEASE])
            .values("reference").annotate(n=Count("id")).filter(n=1).count())
    return final, once


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(name: str, result: dict[str, Any], asked: dict[str, Any], *, calls: int, changed: int, rate: float,
           final: int, once: int, requests_goal: float) -> bool:
    summary = result["summary"]
    duration = summary["duration_seconds"]
    requests = asked["list"] + asked["details"]
    duration_goal = 1.1 * requests / rate
    reconciled = summary["processed"] + summary["confirmed"]
    peak_mb = result["peak_rss_kb"] / 1024
    checks = {
        f"provider requests {requests:,} <= {requests_goal:,.0f}": requests <= requests_goal,
        f"pass {duration:.1f} s <= {duration_goal:.1f} s (1.1 x {requests:,} / {rate:g})": duration <= duration_goal,
        f"changed calls final {final:,}/{changed:,}, credits settled once {once:,}/{changed:,}":
            final == once == changed,
        f"duplicates {asked['details_repeated']} == 0": asked["details_repeated"] == 0,
        f"runner peak memory {peak_mb:.0f} MB < 200 MB": peak_mb < 200,
    }
    log(f"\n{name}")
    log(f"  status {summary['status']}: {summary['outcome']}")
    log(f"  calls reconciled {reconciled:,}/{calls:,} ({summary['confirmed']:,} confirmed unchanged by the list, "
        f"{summary['processed']:,} asked about, {summary['changed']:,} changed): {reconciled / duration:,.0f} calls/s")
    log(f"  pass duration {duration:.2f} s (runner wall {result['wall_seconds']:.2f} s); "
        f"lower bound requests / rate = {requests / rate:.2f} s: ratio {duration / (requests / rate):.3f}")
    log(f"  provider requests {requests:,} (list {asked['list']:,}, details {asked['details']:,}) against "
        f"{calls:,} one per call: {requests / calls:.1%} of the naive count; "
        f"answered 429: {asked['rate_limited']:,} (the pass counted {summary['rate_limited']:,})")
    log(f"  duplicates (calls asked about twice): {asked['details_repeated']}")
    log(f"  runner peak memory (max RSS): {peak_mb:.0f} MB")
    log(f"  CPU during the pass: runner {result['cpu_seconds']:.1f} s, simulator "
        f"{result['sim_cpu_seconds']:.1f} s, for {duration:.1f} s of wall time on {os.cpu_count()} CPUs")
    for label, ok in checks.items():
        log(f"  {verdict(ok)}  {label}")
    return all(checks.values())


def scenario(sim: Simulator, env: dict[str, str], args: argparse.Namespace, *, naive: bool) -> bool:
    seeded = seed(sim, args.calls)
    load_database(seeded)
    if naive:
        sim.control("POST", "faults", {"list_disabled": True})
    else:
        first = run_pass(env, 600)["summary"]  # sets the watermark; nothing has changed yet
        log(f"  previous pass: {first['list_requests']} list requests, {first['detail_requests']} details, "
            f"{first['confirmed']:,} calls confirmed in {first['duration_seconds']:.1f} s")
    changed = seeded[: args.changed]
    end_calls(sim, [provider_id for _, provider_id, _ in changed])
    sim.control("DELETE", "requests")
    sim.control("POST", "faults", {"rate_limit_rps": args.rate})
    sim_cpu = sim.cpu_seconds()
    result = run_pass(env, args.max_seconds, args.profile)
    result["sim_cpu_seconds"] = sim.cpu_seconds() - sim_cpu
    sim.control("POST", "faults", {"rate_limit_rps": 0, "list_disabled": False})
    asked = sim.control("GET", "requests")
    final, once = settled([ours for ours, _, _ in changed])
    if naive:
        name = f"naive pass (list endpoint off): {args.calls:,} calls asked about one by one at {args.rate:g} req/s"
        requests_goal = (args.calls + 1) * 1.01  # the one refused list request, then every call
    else:
        name = f"list pass: {args.calls:,} calls in flight, {args.changed:,} changed, {args.rate:g} req/s"
        requests_goal = (math.ceil(args.calls / 1000) + args.changed) * 1.01
    return report(name, result, asked, calls=args.calls, changed=args.changed, rate=args.rate, final=final,
                  once=once, requests_goal=requests_goal)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=100.0, help="provider requests a second (simulator and poller)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="the poller's worker threads (POLLER_CONCURRENCY, default 16)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="the measured pass's budget")
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--skip-naive", action="store_true", help="only the pass with the list")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="run the measured list pass under py-spy (pip install py-spy) and write folded stacks")
    args = parser.parse_args()
    if not 0 < args.changed <= args.calls:
        parser.error("--changed must be between 1 and --calls")
    for url in (args.admin_url, args.redis_url):
        if urlsplit(url).hostname not in (HOST, "localhost"):
            parser.error(f"only 127.0.0.1 is allowed: {url}")

    logdir = Path(tempfile.mkdtemp(prefix="bench-poller-"))
    sim: Simulator | None = None
    django_ready = False
    recreate_database(args.admin_url)
    try:
        url = database_url(args.admin_url, DB_NAME)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": url,
               "REDIS_URL": args.redis_url, "LOG_LEVEL": "WARNING", "POLLER_GRACE_SECONDS": "0",
               "POLLER_PROVIDER_RPS": str(args.rate), "POLLER_CONCURRENCY": str(args.concurrency),
               "POLLER_BATCH_SIZE": str(args.batch_size), "METRICS_BACKEND": "off", "PYTHONPATH": str(ROOT)}
        env.pop("BLAND_API_KEY", None)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,  # noqa: S603
                       check=True, timeout=900)
        sim = start_simulator(logdir)
        env |= {"BLAND_BASE_URL": sim.url, "BLAND_SIMULATOR_API_KEY": sim.key}
        os.environ.update({key: env[key] for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        django_ready = True
        logging.getLogger("httpx").setLevel(logging.WARNING)
        log("callmcp poller benchmark")
        log(f"  {os.cpu_count()} CPUs shared, unpinned, by the simulator (its own process), the runner (its own "
            f"process, {args.concurrency} threads), PostgreSQL and this script; load average "
            f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; Python {sys.version.split()[0]}; logs in {logdir}")
        ok = scenario(sim, env, args, naive=False)
        if not args.skip_naive:
            ok = scenario(sim, env, args, naive=True) and ok
        log(f"\n  this process's peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        return 0 if ok else 1
    finally:
        if sim is not None:
            sim.stop()
        if django_ready:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            recreate_database(args.admin_url, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
