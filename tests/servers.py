"""Extra server processes for tests that need more than the in-process live server.

A test that proves something across processes (a session served by two servers, a webhook on one
process reaching a subscriber on another) starts real servers here: our own interpreter running
``config.asgi.application`` under uvicorn, on the pytest test database and Redis, each with its own
log, ready once ``/healthz`` answers, always terminated.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 90  # generous: a loaded machine can take long to import Django and bind

# The application production serves; ``extra`` lines run before uvicorn starts (e.g. test primitives).
SERVER = """
import sys
import uvicorn
from config.asgi import application
{extra}
uvicorn.run(application, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The pytest test database (``test_<name>``), as the DATABASE_URL a server process reads."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'])}"


test_database_url.__test__ = False  # a helper, not a test


@dataclass
class ServerProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def wait_ready(self, deadline: float) -> None:
        """Poll /healthz until it answers 200; fail at the deadline or if the process exits."""
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server {self.name} was not ready within {STARTUP_SECONDS} s:\n{self.output()}")
            try:
                self.process.wait(timeout=0.05)  # between polls: returns at once if the process dies
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"server {self.name} exited with {self.process.returncode}:\n{self.output()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@contextmanager
def server_processes(names: list[str], logs: Path, *, env: dict[str, str] | None = None, extra: str = ""
                     ) -> Iterator[list[ServerProcess]]:
    """Start one server per name on the test database and Redis; yield them once all are ready.

    Call it with database access allowed (it reads the test database's name)."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
                   "DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL,
                   "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    script = SERVER.format(extra=extra)
    servers: list[ServerProcess] = []
    try:
        for name in names:
            port = free_port()
            log = (logs / f"{name}.log").open("w+b")
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our code
                [sys.executable, "-c", script, str(port)], cwd=ROOT, env=environment, stdout=log,
                stderr=subprocess.STDOUT,
            )
            servers.append(ServerProcess(name, f"http://127.0.0.1:{port}", process, log))
        deadline = time.monotonic() + STARTUP_SECONDS
        for server in servers:
            server.wait_ready(deadline)
        yield servers
    finally:
        for server in servers:
            server.stop()
