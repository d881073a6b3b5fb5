"""Benchmark: moving a Supabase-like database with manage.py migrate_from_source. Prints figures; not a test.

    .venv/bin/python bench/migration.py                       # 1,000,000 calls, memory also at 100,000
    .venv/bin/python bench/migration.py --calls 100000 --memory-scales 10000,100000   # a quick look

For each scale (``--memory-scales``, then ``--calls``):

1. a source database ``callmcp_dbmove_bench_src`` with the Supabase layout of ``tests/dbmove/source_db.py``
   (auth.users, public.credits, public.calls with jsonb transcripts, 100 kB summaries in 1 % of the
   calls, public.call_events), filled by the server itself: CALLS calls, one event each, CALLS/100 users;
2. a target ``callmcp_dbmove_bench_dst`` migrated by ``manage.py migrate``, then our copy
   (``manage.py migrate_from_source``, its own process) and our verify (``--verify``), each timed
   wall to wall, start-up and checks included, with the peak memory (max RSS) of that process;
3. at the full scale only, the anchor: ``pg_dump --data-only`` of the four source tables piped into
   ``psql`` on an empty database holding the source's schema (``callmcp_dbmove_bench_anchor``), timed
   twice, before and after our copy, to even out the machine's drift.

Rows per second count the source rows moved (users, credit rows, calls, events) for the copy and the
anchor, and the rows both sides compared for the verify. Everything runs on this machine: the source
and target servers (one PostgreSQL) and the client share its cores, as the figures say. The
databases are dropped at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.dbmove import source_db  # noqa: E402

# Another prefix keeps two runs on one server apart.
PREFIX = os.environ.get("MIGRATION_BENCH_DB_PREFIX", "callmcp_dbmove_bench")
SOURCE, TARGET, ANCHOR = f"{PREFIX}_src", f"{PREFIX}_dst", f"{PREFIX}_anchor"
PG = ["-h", "127.0.0.1", "-U", "postgres"]
TABLES = ["-t", "auth.users", "-t", "public.credits", "-t", "public.calls", "-t", "public.call_events"]


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


def timed(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a process to its end; wall time and its peak resident memory (ru_maxrss, kB on Linux)."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,  # noqa: S603 - our own commands
                               stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{output[-3000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, output)


def manage(*args: str) -> Run:
    env = {**os.environ, "DATABASE_URL": source_db.database_url(TARGET).replace("postgresql", "postgres"),
           "DJANGO_SETTINGS_MODULE": "config.settings.base", "LOG_LEVEL": "WARNING"}
    return timed([sys.executable, "manage.py", *args], env)


def source_rows() -> int:
    with psycopg.connect(source_db.database_url(SOURCE)) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM auth.users) + (SELECT count(*) FROM public.credits) + "
                           "(SELECT count(*) FROM public.calls) + (SELECT count(*) FROM public.call_events)"
                           ).fetchone()
    return int(row[0]) if row else 0


def source_schema() -> bytes:
    """The four tables' DDL, taken before our copy installs its triggers on them."""
    return subprocess.run(["pg_dump", *PG, "--schema-only", *TABLES, SOURCE], check=True,  # noqa: S603,S607
                          capture_output=True).stdout


def anchor_once(schema: bytes) -> float:
    """pg_dump --data-only | psql into an empty database with the source's schema; seconds."""
    source_db.create_database(ANCHOR)
    with psycopg.connect(source_db.database_url(ANCHOR), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA auth")
    subprocess.run(["psql", *PG, "-q", "-v", "ON_ERROR_STOP=1", ANCHOR], input=schema, check=True,  # noqa: S603,S607
                   capture_output=True)
    started = time.monotonic()
    dump = subprocess.Popen(["pg_dump", *PG, "--data-only", *TABLES, SOURCE],  # noqa: S603,S607
                            stdout=subprocess.PIPE)
    subprocess.run(["psql", *PG, "-q", "-v", "ON_ERROR_STOP=1", ANCHOR], stdin=dump.stdout,  # noqa: S603,S607
                   check=True, capture_output=True)
    if dump.wait() != 0:
        raise SystemExit("pg_dump failed")
    seconds = time.monotonic() - started
    source_db.drop_database(ANCHOR)
    return seconds


def verified_rows(output: str) -> int:
    found = re.search(r"Verified ([\d,]+) rows", output)
    return int(found.group(1).replace(",", "")) if found else 0


@dataclass
class Scale:
    calls: int
    rows: int
    copy: Run
    verify: Run
    anchor: list[float]


def one_scale(calls: int, *, anchor: bool) -> Scale:
    started = time.monotonic()
    source_db.create_database(SOURCE)
    with psycopg.connect(source_db.database_url(SOURCE), autocommit=True) as conn:
        conn.execute(source_db.SCHEMA)
    source_db.populate(source_db.database_url(SOURCE), users=max(calls // 100, 10), calls=calls,
                       password_hash=source_db.bcrypt_hash("bench-password"))
    rows = source_rows()
    print(f"  source ready: {rows:,} rows in {time.monotonic() - started:.0f} s", flush=True)
    schema = source_schema()
    anchors = [anchor_once(schema)] if anchor else []
    source_db.create_database(TARGET)
    manage("migrate", "--noinput", "-v0")
    source_url = source_db.database_url(SOURCE)
    copy = manage("migrate_from_source", "--source-url", source_url, "--no-progress")
    print(f"  copy: {copy.seconds:.1f} s", flush=True)
    verify = manage("migrate_from_source", "--source-url", source_url, "--verify")
    print(f"  verify: {verify.seconds:.1f} s", flush=True)
    if anchor:
        anchors.append(anchor_once(schema))
    return Scale(calls, rows, copy, verify, anchors)


def report(scales: list[Scale]) -> None:
    full = scales[-1]
    cores = os.cpu_count()
    copy_rate = full.rows / full.copy.seconds
    print()
    print(f"Scale: {full.calls:,} calls, {full.rows:,} source rows (users, credit rows, calls, events). "
          f"{cores} cores shared by the PostgreSQL server (source and target) and the client; "
          f"load average now {os.getloadavg()[0]:.1f}.")
    print(full.copy.output.strip())
    print(f"copy (ours):    {full.copy.seconds:7.1f} s  {copy_rate:10,.0f} rows/s  "
          f"peak memory {full.copy.peak_mb:.0f} MB")
    if full.anchor:
        anchor_seconds = sum(full.anchor) / len(full.anchor)
        anchor_rate = full.rows / anchor_seconds
        runs = ", ".join(f"{seconds:.1f}" for seconds in full.anchor)
        print(f"anchor:         {anchor_seconds:7.1f} s  {anchor_rate:10,.0f} rows/s  "
              f"(pg_dump --data-only | psql, runs {runs} s)")
        print(f"ratio copy/anchor: {copy_rate / anchor_rate:.2f} (goal >= 0.70)")
    rows = verified_rows(full.verify.output)
    print(f"verify (ours):  {full.verify.seconds:7.1f} s  {rows / full.verify.seconds:10,.0f} rows/s "
          f"({rows:,} rows compared; goal >= 200,000)  peak memory {full.verify.peak_mb:.0f} MB")
    print(full.verify.output.strip().splitlines()[-1])
    for scale in scales:
        print(f"peak memory at {scale.calls:>9,} calls: copy {scale.copy.peak_mb:6.1f} MB, "
              f"verify {scale.verify.peak_mb:6.1f} MB")
    if len(scales) > 1:
        small = scales[0]
        print(f"memory ratio {full.calls:,} / {small.calls:,} calls: "
              f"copy {full.copy.peak_mb / small.copy.peak_mb:.2f}, "
              f"verify {full.verify.peak_mb / small.verify.peak_mb:.2f} (goal: within 1.20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--memory-scales", default="100000",
                        help="Smaller scales (comma-separated call counts) at which to measure peak memory too.")
    parser.add_argument("--keep", action="store_true", help="Keep the databases of the last scale.")
    args = parser.parse_args()
    smaller = [int(value) for value in args.memory_scales.split(",") if value.strip()]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # the databases are dropped all the same
    print(f"cores: {os.cpu_count()}, load average at the start {os.getloadavg()[0]:.1f}", flush=True)
    scales = []
    try:
        for calls in [*smaller, args.calls]:
            print(f"scale {calls:,} calls:", flush=True)
            scales.append(one_scale(calls, anchor=calls == args.calls))
            if calls != args.calls:
                for name in (SOURCE, TARGET):
                    source_db.drop_database(name)
        report(scales)
    finally:
        if not args.keep:
            for name in (SOURCE, TARGET, ANCHOR):
                source_db.drop_database(name)


if __name__ == "__main__":
    main()
