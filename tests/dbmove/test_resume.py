"""A copy killed with SIGKILL in the middle of a table resumes without duplicates or gaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from django.db import connection

from calls.models import Call, CallEvent
from tests.dbmove.conftest import run, source_sql
from tests.servers import ROOT, test_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 60


def checkpoint(url: str, entry: str) -> tuple[int, bool] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT rows, done FROM dbmove_checkpoint WHERE entry = %s", (entry,)).fetchone()
    return (int(row[0]), bool(row[1])) if row else None


def indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def test_a_copy_killed_mid_table_resumes_without_duplicates_or_gaps(make_source, tmp_path):
    source_url = make_source(users=40, calls=3000)
    target_url = test_database_url()
    log = (tmp_path / "copy.log").open("w+b")
    # Small batches, and a rate limit so the table takes a few seconds: the kill lands inside it.
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our command
        [sys.executable, "manage.py", "migrate_from_source", "--source-url", source_url, "--batch-size", "100",
         "--max-rows-per-second", "1500", "--no-progress"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": target_url, "DJANGO_SETTINGS_MODULE": "config.settings.test"})
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while (state := checkpoint(target_url, "calls.Call")) is None or state[0] < 500:
            assert time.monotonic() < deadline, "the copy did not reach calls.Call in time"
            try:
                process.wait(timeout=0.02)  # between polls; returns at once if the process dies
            except subprocess.TimeoutExpired:
                continue
            log.seek(0)
            pytest.fail(f"the copy ended before it could be killed:\n{log.read().decode(errors='replace')}")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()
    assert process.returncode == -signal.SIGKILL
    killed_at = checkpoint(target_url, "calls.Call")
    assert killed_at is not None
    assert not killed_at[1]
    assert 500 <= killed_at[0] < 3000
    # The rows on the target are exactly the whole batches the checkpoint counts.
    assert Call.objects.count() == killed_at[0]
    assert "call_owner_history" not in indexes("calls_call")  # dropped while the table loads


    resumed = run("--source-url", source_url, "--batch-size", "100")

    assert f"resumed at {killed_at[0]:,}" in resumed
    source_ids = [str(row[0]) for row in source_sql(source_url, "SELECT id FROM public.calls ORDER BY id")]
    target_ids = sorted(str(pk) for pk in Call.objects.values_list("id", flat=True))
    assert target_ids == source_ids  # every call once: no gap, no duplicate
    assert CallEvent.objects.count() == 3000
    assert checkpoint(target_url, "calls.Call") == (3000, True)
    assert {"call_owner_history", "call_owner_status", "call_status_updated"} <= indexes("calls_call")
    assert "no differences" in run("--source-url", source_url, "--verify")
