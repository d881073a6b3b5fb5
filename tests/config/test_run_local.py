"""``deploy/run_local.sh``, the processes ``make run`` starts, run as a new user runs them.

The script runs for real (its simulator, web server and, with Redis, Celery worker and beat) on a free
PORT; the test reads its output, talks to it over HTTP and MCP, and stops its process group at the end.
One run is on the embedded defaults (SQLite file, tasks in-process) and places the README's first call;
one is on PostgreSQL and Redis, where only a worker can apply the provider's webhook.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from django.conf import settings

from calls.models import CallEvent
from sheets_sync.emulator import EmulatorClient
from tests.mcp.sdk import streamable_client
from tests.servers import free_port, test_database_url
from users.services import token_for_user

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180  # the whole stack (four Django processes), on a busy machine
CALL_SECONDS = 180  # a simulated 45 s call at 10x, its webhook and its task, with room to spare
HUMAN = "+12125550100"
T = TypeVar("T")

# A whole stack per test: beyond the suite's 120 s per test on a loaded machine, bounded by the waits below.
pytestmark = pytest.mark.timeout(2 * START_SECONDS + CALL_SECONDS + 120)

# Variables a developer's shell may hold that would change what the script does.
UNSET = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER",
         "BLAND_API_KEY", "BLAND_BASE_URL", "PUBLIC_BASE_URL", "SIM_PORT", "HOST", "DEBUG", "SHEETS_PORT",
         "SHEETS_CREDENTIALS", "SHEETS_API_ENDPOINT", "SHEETS_OPERATIONS_SPREADSHEET_ID"}


@dataclass
class Stack:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, deadline: float) -> re.Match[str]:
        """The first match of ``pattern`` in the output; fail at the deadline or if the script exits."""
        return poll(lambda: re.search(pattern, self.output(), re.M), deadline, self, f"output matching {pattern!r}")


def completed(response: httpx.Response) -> dict[str, Any] | None:
    """The call's details once it is completed; any other answer (a refused or failed request included,
    printed for the failure report) means: not yet."""
    if response.status_code != 200:
        print("GET details:", response.status_code, response.text[:500])  # noqa: T201 - shown when the test fails
        return None
    details: dict[str, Any] = response.json()
    return details if details.get("status") == "completed" else None


def poll(probe: Callable[[], T | None], deadline: float, stack: Stack, what: str) -> T:
    while True:
        if (found := probe()) is not None and found is not False:
            return found
        if stack.process.poll() is not None:
            pytest.fail(f"run_local.sh exited with {stack.process.returncode} before {what}:\n{stack.output()[-6000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within the limit:\n{stack.output()[-6000:]}")
        time.sleep(0.25)  # between polls of a real server; every wait here is bounded by its deadline


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def run_local(tmp_path: Path, *, port: int, **env: str) -> Iterator[Stack]:
    environment = {k: v for k, v in os.environ.items() if k not in UNSET}
    environment.update({"PORT": str(port), "PY": sys.executable, "RUN_DIR": str(tmp_path / "run"),
                        "PYTHONDONTWRITEBYTECODE": "1", **env})
    log = tmp_path / "run_local.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the script under test, with our interpreter
            ["bash", "deploy/run_local.sh"], cwd=ROOT, env=environment, stdout=out,  # noqa: S607
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    stack = Stack(f"http://127.0.0.1:{port}", process, log)
    try:
        poll(lambda: healthy(stack.url), time.monotonic() + START_SECONDS, stack, "/healthz")
        yield stack
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the script's own group: it, and every process it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def port_pair() -> int:
    """A free PORT whose derived simulator port (PORT + 765) is free too."""
    for _ in range(50):
        port = free_port()
        with closing(socket.socket()) as sock:
            try:
                sock.bind(("127.0.0.1", port + 765))
            except OSError:
                continue
        return port
    pytest.fail("no free pair of ports")


def readme_first_call() -> dict[str, Any]:
    """The makePhoneCall arguments of the README's first call."""
    section = (ROOT / "README.md").read_text().split("### A first call", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block, "the README's first-call section has no JSON example"
    return json.loads(block.group(1))


async def first_call(url: str, token: str) -> tuple[Any, Any, Any]:
    async with streamable_client(url, token) as client:
        placed = await client.call_tool("makePhoneCall", readme_first_call(), read_timeout_seconds=CALL_SECONDS)
        call_id = placed.structured_content["call_id"]
        transcript = await client.call_tool("getCallTranscript", {"call_id": call_id})
        recording = await client.call_tool("getCallRecording", {"call_id": call_id})
        return placed, transcript, recording


def test_make_run_on_the_embedded_defaults_completes_the_readme_first_call_with_a_transcript_and_a_recording(
    tmp_path,
):
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    base = {k: v for k, v in os.environ.items() if k not in UNSET} | database | {"PYTHONDONTWRITEBYTECODE": "1"}
    for command in (["migrate", "-v0"], ["create_user", "newcomer", "--credits", "1000", "--token-only"]):
        made = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=base,  # noqa: S603
                              capture_output=True, text=True, timeout=120, check=False)
        assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    port = port_pair()

    with run_local(tmp_path, port=port, **database) as stack:
        out = stack.output()
        assert f"Bland simulator on http://127.0.0.1:{port + 765} " in out  # derived from PORT
        assert "Tasks: in-process" in out
        assert "[worker]" not in out
        sheets = re.search(r"^  Sheets emulator: (http://127\.0\.0\.1:(\d+))/ \(live call log\)$", out, re.M)
        assert sheets, out
        emulator = EmulatorClient(sheets.group(1))
        key = json.loads((tmp_path / "run" / "sheets-service-account.json").read_text())
        assert key["token_uri"] == f"{sheets.group(1)}/token"
        assert "operations" in [book["id"] for book in emulator.spreadsheets()]
        assert "<h1>Sheets emulator</h1>" in httpx.get(sheets.group(1) + "/", timeout=10).text
        placed, transcript, recording = anyio.run(first_call, stack.url, token)

    assert not placed.is_error, placed.content
    assert placed.structured_content["status"] == "completed"
    assert not transcript.is_error, transcript.content
    assert "Agent:" in transcript.content[0].text
    assert not recording.is_error, recording.content
    assert recording.structured_content["url"].startswith(f"http://127.0.0.1:{port}/api/v1/calls/")


@pytest.mark.postgres
@pytest.mark.redis
def test_make_run_with_redis_starts_a_worker_and_beat_and_a_simulator_of_its_own(transactional_db, make_user,
                                                                                   tmp_path):
    token = token_for_user(user=make_user("runlocal", credits=1_000))
    port = port_pair()
    prefix = f"runlocal-{uuid.uuid4().hex[:8]}"  # keep the script's cache and channel keys apart from this run's
    with closing(socket.socket()) as taken:  # another checkout's simulator already holds PORT + 765
        taken.bind(("127.0.0.1", port + 765))
        taken.listen()
        with run_local(tmp_path, port=port, DATABASE_URL=test_database_url(), REDIS_URL=settings.REDIS_URL,
                       CACHE_KEY_PREFIX=prefix, CHANNEL_LAYER_PREFIX=prefix) as stack:
            deadline = time.monotonic() + START_SECONDS
            sim_port = int(stack.wait_for(r"^  Phone provider: Bland simulator on http://127\.0\.0\.1:(\d+) ",
                                          deadline).group(1))
            assert sim_port != port + 765
            assert "Tasks: Celery worker and beat on redis://" in stack.output()
            stack.wait_for(r"^\[worker\] .*celery@\S+ ready\.", deadline)
            stack.wait_for(r"^\[beat\] .*beat: Starting\.\.\.", deadline)

            api = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            placed = api.post("/api/v1/calls/", json={"phone_number": HUMAN, "task": "Say hello.", "record": True,
                                                      "max_duration": 2})
            assert placed.status_code == 201, placed.text
            call_id = placed.json()["call_id"]
            done = poll(lambda: completed(api.get(f"/api/v1/calls/{call_id}/")),
                        time.monotonic() + CALL_SECONDS, stack, "completed call")
            sim_calls = httpx.get(f"http://127.0.0.1:{sim_port}/_sim/state", timeout=10).json()["calls"]

    # The worker applied the provider's webhook; the call was placed on this checkout's own simulator.
    assert CallEvent.objects.filter(call_id=call_id, source="webhook", to_status="completed").exists()
    assert done["has_transcript"]
    assert len(sim_calls) == 1
    assert sim_calls[0]["status"] == "completed"
