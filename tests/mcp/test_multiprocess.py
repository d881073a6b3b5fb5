"""Legacy-era sessions live in the shared store: any server process can serve any request of a session.

Two real server processes (uvicorn serving ``config.asgi.application`` plus the test primitives)
share the pytest test database and Redis. A session opened on one is served by the other, ended by
either, and a notification published from a third process (this one) reaches a stream held by
either. Runs on PostgreSQL + Redis only (CI); the processes are always terminated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mcp_gateway.notify import resource_updated
from tests.mcp.clients import iter_sse
from tests.servers import ServerProcess, server_processes

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

MCP_PATH = "/api/v1/mcp"
VERSION = "2025-11-25"
TIMEOUT = 10.0

# The same application production serves, plus the test primitives (test_echo, test://hello) that
# the in-process live server of tests/mcp/conftest.py serves too.
FIXTURES = {"MCP_PRIMITIVE_MODULES": "tests.mcp.fixture_tools"}


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[ServerProcess, ServerProcess]]:  # noqa: ANN001
    """Servers A and B: separate processes on the test database and Redis, ready to serve."""
    with django_db_blocker.unblock(), server_processes(
        ["A", "B"], tmp_path_factory.mktemp("servers"), env=FIXTURES
    ) as (a, b):
        yield a, b


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

    assert session.delete(b).status_code == 204
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
