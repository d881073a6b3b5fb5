"""The embedded default database (SQLite) takes concurrent writes without "database is locked".

This test runs on SQLite on purpose, whatever DATABASE_URL the suite uses: ``make run`` without
DATABASE_URL serves from an SQLite file, where the web process, the webhook task and staff write at
the same time. Real processes on the embedded settings (``config.settings.base``) write to a
temporary SQLite file through ``users.services``; CI runs it beside the PostgreSQL suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOLDS = 60
TIMEOUT = 120


def _env(database: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    return {**clean, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": f"sqlite:///{database}",
            "PYTHONDONTWRITEBYTECODE": "1"}


def _run(role: str, env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-m", "tests.config.sqlite_writer", role, str(HOLDS)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert result.returncode == 0, f"{role} failed:\n{result.stderr[-3000:]}"
    return result.stdout


def test_concurrent_webhook_cancel_and_grant_writers_on_the_sqlite_default_never_see_database_is_locked(tmp_path):
    env = _env(tmp_path / "db.sqlite3")
    _run("setup", env)
    roles = ["settle", "release", "settle", "release", "grant"]
    writers = [subprocess.Popen(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-m", "tests.config.sqlite_writer", role, str(HOLDS)], cwd=ROOT, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) for role in roles]
    try:
        for writer in writers:  # each has connected and waits for the start signal
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready", writer.communicate(timeout=TIMEOUT)[1][-3000:]
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        outcomes = [(role, writer.communicate(timeout=TIMEOUT), writer.returncode)
                    for role, writer in zip(roles, writers, strict=True)]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait(timeout=10)

    failures = {f"{role} #{index}": err[-2000:] for index, (role, (_, err), code) in enumerate(outcomes) if code}
    assert not failures, failures
    state = json.loads(_run("report", env))
    assert state["journal_mode"] == "wal"
    # Every hold was closed exactly once, by a settle or a release, and the account equals its ledger.
    assert state["references"] == HOLDS
    assert state["closings"] == [1]
    assert state["reserved"] == state["ledger_reserved"] == 0
    assert state["balance"] == state["ledger_amount"]
