"""What the Sheets quota gate costs, and that it holds, with many processes taking tokens at once.

    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/sheets_quota.py [--procs 4] [--threads 4]
        [--seconds 10] [--accounts 3]

Two phases, each with ``--procs`` processes of ``--threads`` threads on the real Redis (its own key prefix,
deleted at the end):

1. cost: limits so high nothing is refused; every thread takes tokens as fast as it can. Prints takes per
   second (all processes together) and the p50/p95/p99 latency of one ``take`` (one Lua script call).
2. contention: Google's limits (60 per account, 300 per project a minute) and a pool of ``--accounts``;
   every thread keeps asking. Prints how many tokens were granted in the run and per account, against
   what the limits allow in that time, and the refusals. No window may hold more than the limits: the
   granted counts are checked against ``limit x (1 + seconds / 61)`` (the first window's full burst, then
   the refill), and the script exits 1 if they are over.

A script, not a test: figures depend on the machine (it prints the cores and the load average).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from sheets_sync.accounts import ServiceAccount  # noqa: E402
from sheets_sync.errors import NoToken  # noqa: E402
from sheets_sync.quota import QuotaGate, QuotaLimits, RedisQuotaStore  # noqa: E402


def _pool(size: int) -> list[ServiceAccount]:
    return [ServiceAccount(email=f"bench-{n}@bench.iam.gserviceaccount.com", info={}) for n in range(size)]


def _worker(url: str, prefix: str, limits: QuotaLimits, accounts: int, threads: int, seconds: float,
            start_at: float, results: multiprocessing.Queue) -> None:
    client = redis.Redis.from_url(url)
    gate = QuotaGate(_pool(accounts), RedisQuotaStore(client, prefix), limits=limits)
    latencies: list[float] = []
    granted: Counter[str] = Counter()
    refused = 0
    lock = threading.Lock()

    def run() -> None:
        nonlocal refused
        mine: list[float] = []
        got: Counter[str] = Counter()
        no = 0
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            before = time.perf_counter()
            try:
                got[gate.take("write").account.email] += 1
            except NoToken:
                no += 1
            mine.append(time.perf_counter() - before)
        with lock:
            latencies.extend(mine)
            granted.update(got)
            refused += no

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    results.put((latencies, dict(granted), refused))
    client.close()


def _phase(args: argparse.Namespace, prefix: str, limits: QuotaLimits) -> tuple[list[float], Counter[str], int]:
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    start_at = time.time() + 1.0
    procs = [context.Process(target=_worker, args=(args.redis_url, prefix, limits, args.accounts, args.threads,
                                                   args.seconds, start_at, results)) for _ in range(args.procs)]
    for proc in procs:
        proc.start()
    latencies: list[float] = []
    granted: Counter[str] = Counter()
    refused = 0
    for _ in procs:
        lat, got, no = results.get(timeout=args.seconds + 120)
        latencies.extend(lat)
        granted.update(got)
        refused += no
    for proc in procs:
        proc.join()
    return latencies, granted, refused


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()
    if not args.redis_url:
        parser.error("set REDIS_URL (or --redis-url): the gate is measured on the real Redis")
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}; "
          f"{args.procs} processes x {args.threads} threads, {args.seconds:.0f} s a phase, Redis {args.redis_url}")
    prefix = f"bench:sheets:{{{uuid.uuid4().hex}}}"
    try:
        high = QuotaLimits(write_user=10**9, write_project=10**9)
        latencies, granted, _ = _phase(args, f"{prefix}:cost", high)
        print(f"cost: {sum(granted.values()) / args.seconds:,.0f} takes/s over all processes; one take "
              f"p50 {_ms(latencies, 0.5):.2f} ms, p95 {_ms(latencies, 0.95):.2f} ms, "
              f"p99 {_ms(latencies, 0.99):.2f} ms, mean {1000 * statistics.fmean(latencies):.2f} ms")
        google = QuotaLimits()
        _, granted, refused = _phase(args, f"{prefix}:contention", google)
        allowed_user = google.write_user * (1 + args.seconds / 61)
        allowed_project = min(google.write_project * (1 + args.seconds / 61), allowed_user * args.accounts)
        total = sum(granted.values())
        print(f"contention: {total} tokens granted ({dict(sorted(granted.items()))}), {refused:,} refused; "
              f"the limits allow at most {allowed_project:.0f} in all and {allowed_user:.0f} per account "
              f"in {args.seconds:.0f} s")
        over = total > allowed_project or max(granted.values(), default=0) > allowed_user
        print("OVER THE LIMITS" if over else "within both limits")
        return 1 if over else 0
    finally:
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())
