"""Legacy-era sessions live in the shared store: any server process can serve any request of a session.

Two real server processes (uvicorn serving ``config.asgi.application`` plus the test primitives)
share the pytest test database and Redis. A session opened on one is served by the other, ended by
either, and a notification published from a third process (this one) reaches a stream held by
either. Runs on PostgreSQL + Redis only (CI); the processes are always terminated.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.db import connection

from mcp_gateway.notify import resource_updated
from tests.mcp.clients import iter_sse

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
MCP_PATH = "/api/v1/mcp"
VERSION = "2025-11-25"
STARTUP_SECONDS = 30
TIMEOUT = 10.0

# The same application production serves, plus the test primitives (test_echo, test://hello) that
# tests/mcp/conftest.py adds to the in-process live server.
SERVER = """
import sys
import uvicorn
from config.asgi import application
from mcp_gateway.apps import gateway
from tests.mcp import fixture_tools
gateway().dispatcher.registry.add_module(fixture_tools)
uvicorn.run(application, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
"""


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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    """The pytest test database (``test_<name>``), as the DATABASE_URL the servers read."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'])}"


def _wait_ready(server: ServerProcess, deadline: float) -> None:
    """Poll /healthz until it answers 200; fail at the deadline or if the process exits."""
    while True:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server {server.name} was not ready within {STARTUP_SECONDS} s:\n{server.output()}")
        try:
            server.process.wait(timeout=0.05)  # between polls: returns at once if the process dies
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"server {server.name} exited with {server.process.returncode}:\n{server.output()}")


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[ServerProcess, ServerProcess]]:  # noqa: ANN001
    """Servers A and B: separate processes on the test database and Redis, ready to serve."""
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url,
           "REDIS_URL": settings.REDIS_URL, "PYTHONDONTWRITEBYTECODE": "1"}
    logs = tmp_path_factory.mktemp("servers")
    servers: list[ServerProcess] = []
    try:
        for name in ("A", "B"):
            port = _free_port()
            log = (logs / f"{name}.log").open("w+b")
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our code
                [sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            servers.append(ServerProcess(name, f"http://127.0.0.1:{port}", process, log))
        deadline = time.monotonic() + STARTUP_SECONDS
        for server in servers:
            _wait_ready(server, deadline)
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=10)
            server.log.close()


class Session:
    """One MCP session, sent to whichever server a test names."""

    def __init__(self, token: str) -> None:
        self.http = httpx.Client(timeout=TIMEOUT, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
        })
        self.id: str | None = None
        self._ids = iter(range(1, 1_000_000))

    def close(self) -> None:
        self.http.close()

    def _headers(self) -> dict[str, str]:
        return {"Mcp-Session-Id": self.id, "MCP-Protocol-Version": VERSION} if self.id else {}

    def initialize(self, server: ServerProcess) -> dict[str, Any]:
        answer, response = self._post(server, "initialize", {
            "protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "multiprocess", "version": "1"},
        })
        self.id = response.headers["Mcp-Session-Id"]
        initialized = self.http.post(f"{server.url}{MCP_PATH}", headers=self._headers(),
                                     json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert initialized.status_code == 202, initialized.text
        return answer

    def request(self, server: ServerProcess, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON-RPC answer, from a JSON body or the SSE stream the server chose; HTTP must be 200."""
        answer, response = self._post(server, method, params)
        assert response.status_code == 200, f"{server.name} {method}: HTTP {response.status_code} {answer}"
        return answer

    def _post(self, server: ServerProcess, method: str, params: dict[str, Any] | None) -> tuple[dict, httpx.Response]:
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        with self.http.stream("POST", f"{server.url}{MCP_PATH}", json=message, headers=self._headers()) as response:
            if response.headers.get("Content-Type", "").startswith("text/event-stream"):
                for event in iter_sse(response.iter_lines()):
                    if event["data"] and json.loads(event["data"]).get("id") == request_id:
                        return json.loads(event["data"]), response
                pytest.fail(f"{server.name} closed the stream without answering {method}")
            response.read()
            return response.json(), response

    def delete(self, server: ServerProcess) -> httpx.Response:
        return self.http.delete(f"{server.url}{MCP_PATH}", headers=self._headers())


@pytest.fixture
def session(mcp_token) -> Iterator[Session]:  # noqa: ANN001
    client = Session(mcp_token)
    yield client
    client.close()


def test_a_session_opened_on_one_process_is_served_by_both_until_deleted(two_servers, session):
    a, b = two_servers
    initialized = session.initialize(a)
    assert initialized["result"]["protocolVersion"] == VERSION

    for server in (a, b, a, b):
        listed = session.request(server, "tools/list")
        assert "test_echo" in [tool["name"] for tool in listed["result"]["tools"]], (server.name, listed)
        echoed = session.request(server, "tools/call", {"name": "test_echo", "arguments": {"text": server.name}})
        assert echoed["result"]["structuredContent"] == {"echo": server.name}, (server.name, echoed)
        read = session.request(server, "resources/read", {"uri": "test://hello"})
        assert read["result"]["contents"][0]["text"] == "Hello, mcp-alice", (server.name, read)

    assert session.delete(b).status_code == 200
    after = session.http.post(f"{a.url}{MCP_PATH}", headers=session._headers(),
                              json={"jsonrpc": "2.0", "id": 99, "method": "tools/list"})
    assert after.status_code == 404, after.text
    assert session.delete(a).status_code == 404


def test_a_subscription_made_on_one_process_is_honoured_by_a_stream_on_the_other(two_servers, session, mcp_user):
    a, b = two_servers
    session.initialize(a)
    assert session.request(a, "resources/subscribe", {"uri": "test://hello"})["result"] == {}

    timeout = httpx.Timeout(TIMEOUT, read=1.0)  # every read on the stream must complete within 1 s
    with session.http.stream("GET", f"{b.url}{MCP_PATH}", headers={**session._headers(), "Accept": "text/event-stream"},
                             timeout=timeout) as stream:
        assert stream.status_code == 200
        events = iter_sse(stream.iter_lines())
        priming = next(events)  # B has joined the user's notification group once this arrives
        assert priming["data"] == ""

        published = time.monotonic()
        resource_updated(user_id=mcp_user.pk, uri="test://items/1")  # not subscribed: must not arrive
        resource_updated(user_id=mcp_user.pk, uri="test://hello")
        event = next(events)
        elapsed = time.monotonic() - published

    assert json.loads(event["data"]) == {
        "jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": "test://hello"},
    }
    assert elapsed < 1.0
