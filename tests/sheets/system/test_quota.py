"""Quota: four Celery worker processes, beat, the poller and the web process (this one) all write to Sheets
at once, sharing one pool of two service accounts. The emulator enforces nothing here (its own quotas are
off) and logs every request, so what it saw is what the service sent: no user and no project ever has
more than the configured requests in any 60-second window, reads and writes apart, and Sheets never had
to answer 429."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from django.conf import settings as django_settings

from calls import services
from calls.models import Call
from calls.providers.bland import BlandClient
from calls.providers.simulator import BackgroundSimulator
from sheets_sync.models import OutboxEntry
from tests.servers import test_database_url
from tests.sheets.system import conftest as system
from users.services import user_set_spreadsheet

pytestmark = system.system_marks(2400)

ROOT = Path(__file__).resolve().parents[3]
SIM_KEY = "quota-sim-key"
WORKERS = 4
USERS = 6
LOAD_SECONDS = 100  # more than one quota window of placing calls
LIMIT_SECONDS = 900  # bounds the waits for the backlog; nothing asserts on time
LIMITS = {"write": {"user": 8, "project": 12}, "read": {"user": 8, "project": 12}}
# Numbers the simulator answers as a human; Bland refuses a second call to one number within 10 s.
HUMANS = itertools.cycle([f"+121255501{tail:02d}" for tail in [*range(0, 10), *range(60, 100)]])


def _start(name: str, command: list[str], env: dict[str, str], logs: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    return process, log


def test_every_writer_together_stays_within_both_quotas(synced, settings, tmp_path):
    second = synced.new_account()
    pool = [synced.key, second]
    ops = synced.new_spreadsheet(shared_with=[k["client_email"] for k in pool], title="operations")
    synced.quotas(writes_per_user=None, writes_per_project=None, reads_per_user=None, reads_per_project=None)
    sheets_env = {
        "SHEETS_CREDENTIALS": json.dumps(pool), "SHEETS_API_ENDPOINT": synced.url + "/",
        "SHEETS_OPERATIONS_SPREADSHEET_ID": ops,
        "SHEETS_WRITES_PER_MINUTE_PER_USER": str(LIMITS["write"]["user"]),
        "SHEETS_WRITES_PER_MINUTE_PER_PROJECT": str(LIMITS["write"]["project"]),
        "SHEETS_READS_PER_MINUTE_PER_USER": str(LIMITS["read"]["user"]),
        "SHEETS_READS_PER_MINUTE_PER_PROJECT": str(LIMITS["read"]["project"]),
        "SHEETS_DRAIN_SECONDS": "3",
        # A token is spent when taken; the emulator counts the request when it arrives. On this loaded test
        # machine a process can stall for seconds in between, more than the default 1 s margin covers (a
        # window then holds a late request and the next window's first ones): the margin is the setting
        # made for that time.
        "SHEETS_QUOTA_MARGIN_SECONDS": "10",
    }
    for name, value in sheets_env.items():  # this process (the web role) writes with the same settings
        setattr(settings, name, value if not name.endswith(("USER", "PROJECT", "SECONDS")) else float(value))
    users = [system.rich_user(f"writer{n}") for n in range(USERS)]
    for user in users:
        sheet = synced.new_spreadsheet(shared_with=[k["client_email"] for k in pool], title=user.username)
        user_set_spreadsheet(user=user, spreadsheet_id=sheet)

    with BackgroundSimulator(time_scale=20, api_key=SIM_KEY, plan="enterprise", balance=1_000_000,
                             webhooks=False) as sim:
        settings.BLAND_API_KEY, settings.BLAND_BASE_URL, settings.BLAND_SIMULATOR_API_KEY = "", sim.url, SIM_KEY
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": test_database_url(),
               "REDIS_URL": django_settings.REDIS_URL, "BLAND_BASE_URL": sim.url, "BLAND_SIMULATOR_API_KEY": SIM_KEY,
               "BLAND_API_KEY": "", "PYTHONDONTWRITEBYTECODE": "1", **sheets_env,
               "CACHE_KEY_PREFIX": django_settings.CACHES["default"].get("KEY_PREFIX", "callmcp")}
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        processes = [_start(f"worker{n}", [*celery, "worker", "-Q", f"celery,{django_settings.SHEETS_QUEUE}",
                                           "--pool", "solo", "-n", f"sheets{n}@%h", "--loglevel", "WARNING"],
                            env, tmp_path) for n in range(WORKERS)]
        processes.append(_start("beat", [*celery, "beat", "--schedule", str(tmp_path / "beat"), "--loglevel",
                                         "WARNING"], env, tmp_path))
        processes.append(_start("poller", [sys.executable, "manage.py", "poll_calls", "--interval", "2"], env,
                                tmp_path))
        try:
            provider = BlandClient(base_url=sim.url, api_key=SIM_KEY, retries=0)
            placed: list[Call] = []
            started = time.monotonic()
            for user in itertools.cycle(users):
                if time.monotonic() - started > LOAD_SECONDS:
                    break
                placed.append(services.call_place(provider=provider, user=user, to_number=next(HUMANS),
                                                  task="Confirm the table.", max_duration=1))
                for process, log in processes:
                    assert process.poll() is None, f"{log.name} exited:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
            deadline = time.monotonic() + LIMIT_SECONDS
            while Call.objects.exclude(status__in=["completed", "failed", "busy", "no-answer", "canceled"]).exists() \
                    or OutboxEntry.objects.exists():
                assert time.monotonic() < deadline, f"{OutboxEntry.objects.count()} rows still wait"
                time.sleep(2.0)  # the poller, the workers and beat finish the backlog
            provider.close()
        finally:
            for process, _ in processes:
                process.terminate()
            for process, _ in processes:
                process.wait(60)

    log = synced.log()
    assert not [e for e in log if e["status"] == 429], "Sheets had to refuse requests over the quota"
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for entry in log:
        times[(entry["kind"], entry["user"])].append(entry["t"])
        times[(entry["kind"], "project")].append(entry["t"])
    most = {key: system.max_in_window(values) for key, values in times.items()}
    for (kind, who), count in most.items():
        limit = LIMITS[kind]["project" if who == "project" else "user"]
        assert count <= limit, f"{count} {kind} requests by {who} within 60 s (limit {limit})"
    assert most[("write", "project")] >= LIMITS["write"]["project"] // 2, f"the quota was never under pressure: {most}"
    assert len({e["user"] for e in log}) == 2  # both accounts of the pool were used
    system.assert_sheet_equals_database(synced, ops, placed)
