"""makePhoneCall as an MCP task, as a client that takes tasks uses it: raw JSON-RPC against the live server.

Both revisions of tasks, over Streamable HTTP and WebSocket: the 2025-11-25 experimental tasks (a
session, ``params.task``, ``tasks/result``, ``tasks/list``) and the 2026-07-28 tasks extension (stateless
requests declaring ``io.modelcontextprotocol/tasks``, ``tasks/get`` inlining the result). The phone
provider is the Bland simulator over HTTP, clock frozen; tests move it and its signed webhooks reach the
live server, which records the call's end. Every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from calls.models import Call, CallStatus
from calls.providers.simulator import BackgroundSimulator
from mcp_gateway.models import McpTask
from tests.calls.conftest import HUMAN, sim_details
from tests.calls.test_mcp_tools import DEFAULT_HOLD, GRANTED, balance, finish_calls, real_cost
from tests.mcp.clients import HttpMcp, McpClient, WsMcp, iter_sse
from tests.mcp.test_websocket_interop import NODE, NODE_HOME, ROOT, TS_SDK
from tests.waiting import wait_until
from users.services import token_for_user

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
EXTENSION = "io.modelcontextprotocol/tasks"
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
RELATED_TASK = "io.modelcontextprotocol/related-task"
NAMED = {"tools/call": "name", "tasks/get": "taskId", "tasks/cancel": "taskId", "tasks/update": "taskId"}
TERMINAL = ("completed", "failed", "cancelled")
WAIT = 15
TS_TASKS_CLIENT = ROOT / "tests" / "interop" / "ts_tasks_client.mjs"


class Tasks:
    """One caller's MCP connection in one era: ``rpc`` sends a request and returns the full answer."""

    def __init__(self, client: McpClient, *, modern: bool, extension: bool = True, initialize: bool = True,
                 capabilities: dict[str, Any] | None = None) -> None:
        """``initialize=False``: the client continues a 2025-11-25 session opened elsewhere; ``capabilities``
        are the client's (the tasks extension is added on 2026-07-28 unless ``extension=False``)."""
        self.client = client
        self.modern = modern
        self.capabilities = dict(capabilities or {})
        if modern and extension:
            self.capabilities["extensions"] = {EXTENSION: {}}
        self._ids = itertools.count(1000)
        if not modern and initialize:
            assert "result" in client.initialize(LEGACY, capabilities=self.capabilities), "initialize failed"

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        params = dict(params or {})
        if not self.modern:
            return self.client.request(method, params)
        params["_meta"] = {PROTOCOL_VERSION_META: MODERN, CLIENT_CAPABILITIES_META: self.capabilities}
        request_id = next(self._ids)
        message = self.client.message(method, params, request_id)
        if isinstance(self.client, HttpMcp):
            headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
            if method in NAMED:
                headers["Mcp-Name"] = str(params.get(NAMED[method]))
            self.client.post(message, headers=headers)
        else:
            self.client.send(message)
        return self.client.wait_response(request_id)

    def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.rpc(method, params)
        assert "result" in answer, answer
        return answer["result"]

    def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.rpc(method, params)
        assert "error" in answer, answer
        return answer["error"]

    def call_as_task(self, name: str, arguments: dict[str, Any], *, ttl: int = 600_000) -> dict[str, Any]:
        """tools/call as a task (2025-11-25: asking for ``ttl``); the task (the flat one of either era's
        CreateTaskResult)."""
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if not self.modern:
            params["task"] = {"ttl": ttl}
        created = self.result("tools/call", params)
        assert not created.get("isError"), created
        if self.modern:
            assert created["resultType"] == "task", created
            assert "result" not in created
            assert "task" not in created
            return created
        return created["task"]

    def get(self, task_id: str) -> dict[str, Any]:
        return self.result("tasks/get", {"taskId": task_id})

    def wait_terminal(self, task_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while (task := self.get(task_id))["status"] not in TERMINAL:
            assert time.monotonic() < deadline, f"task {task_id} still {task['status']}"
        return task

    def outcome(self, task_id: str) -> dict[str, Any]:
        """The tool result of a finished task: inlined by tasks/get (2026-07-28) or from tasks/result."""
        task = self.wait_terminal(task_id)
        if self.modern:
            return task["result"]
        result = self.result("tasks/result", {"taskId": task_id})
        assert result["_meta"][RELATED_TASK] == {"taskId": task_id}
        return result


@pytest.fixture(params=[("http", False), ("http", True), ("websocket", False), ("websocket", True)],
                ids=["http-2025-11-25", "http-2026-07-28", "websocket-2025-11-25", "websocket-2026-07-28"])
def tasks(request: pytest.FixtureRequest, live_db: None, mcp_server: str, mcp_user: Any,
          live_sim: BackgroundSimulator) -> Iterator[Tasks]:
    transport, modern = request.param
    token = token_for_user(user=mcp_user)
    client: McpClient = HttpMcp(mcp_server, token) if transport == "http" else WsMcp(mcp_server, token)
    try:
        yield Tasks(client, modern=modern)
    finally:
        client.close()


def place_as_task(tasks: Tasks, **arguments: Any) -> dict[str, Any]:
    return tasks.call_as_task("makePhoneCall", {"phone_number": HUMAN, "task": "Confirm the booking.", **arguments})


def call_of(task: dict[str, Any], mcp_user: Any) -> Call:
    (call,) = Call.objects.filter(owner=mcp_user)
    return call


def test_make_phone_call_declares_task_support(tasks):
    listed = {tool["name"]: tool for tool in tasks.result("tools/list")["tools"]}
    assert listed["makePhoneCall"]["execution"] == {"taskSupport": "optional"}
    assert "execution" not in listed["getCallDetails"]


def test_a_phone_call_task_ends_with_the_calls_outcome(tasks, mcp_user, live_sim):
    task = place_as_task(tasks, max_duration=3)
    assert task["status"] == "working"
    assert task["createdAt"].endswith("Z")
    assert task["lastUpdatedAt"]
    # 2025-11-25: the ttl the client asked for; 2026-07-28: the server's default (a week)
    assert (task["ttlMs"] if tasks.modern else task["ttl"]) == (7 * 24 * 3600 * 1000 if tasks.modern else 600_000)
    call = call_of(task, mcp_user)
    assert call.status == CallStatus.QUEUED
    assert balance(mcp_user) == GRANTED - 3 * 14  # the call's credits are held while it runs

    got = tasks.get(task["taskId"])
    assert (got["taskId"], got["status"]) == (task["taskId"], "working")
    assert str(call.id) in got["statusMessage"]

    finish_calls(live_sim)  # the provider ends the call; its webhook tells the server

    outcome = tasks.outcome(task["taskId"])
    assert outcome.get("isError") is not True
    assert outcome["structuredContent"]["call_id"] == str(call.id)
    assert outcome["structuredContent"]["status"] == "completed"
    assert outcome["structuredContent"]["summary"]
    assert tasks.get(task["taskId"])["status"] == "completed"
    assert balance(mcp_user) == GRANTED - real_cost(live_sim, str(call.id))


def test_cancelling_a_call_task_stops_the_call_and_releases_its_credits(tasks, mcp_user, live_sim):
    task = place_as_task(tasks)
    call = call_of(task, mcp_user)
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD

    cancelled = tasks.result("tasks/cancel", {"taskId": task["taskId"]})

    if tasks.modern:
        assert cancelled == {"resultType": "complete", "_meta": cancelled["_meta"]}  # an empty acknowledgement
    else:
        assert (cancelled["taskId"], cancelled["status"]) == (task["taskId"], "cancelled")
    assert tasks.get(task["taskId"])["status"] == "cancelled"
    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED
    assert sim_details(live_sim, str(call.provider_call_id))["completed"] is True  # the provider stopped it
    assert balance(mcp_user) == GRANTED  # nothing was spoken: every reserved credit is back


def test_a_cancelled_task_stays_cancelled(tasks, mcp_user, live_sim):
    task = place_as_task(tasks)
    tasks.result("tasks/cancel", {"taskId": task["taskId"]})
    finish_calls(live_sim)
    assert tasks.get(task["taskId"])["status"] == "cancelled"
    if tasks.modern:
        assert tasks.result("tasks/cancel", {"taskId": task["taskId"]})["resultType"] == "complete"  # idempotent
    else:
        error = tasks.error("tasks/cancel", {"taskId": task["taskId"]})
        assert error["code"] == -32602
        assert "terminal" in error["message"]


def test_another_users_task_is_not_found(tasks, mcp_server, make_user, mcp_user):
    task = place_as_task(tasks)
    bob = make_user("mcp-bob", credits=1_000)
    other_client = HttpMcp(mcp_server, token_for_user(user=bob))
    try:
        other = Tasks(other_client, modern=tasks.modern)
        methods = ["tasks/get", "tasks/cancel"] + ([] if tasks.modern else ["tasks/result"])
        for method in methods:
            error = other.error(method, {"taskId": task["taskId"]})
            assert error["code"] == -32602, (method, error)
            assert "not found" in error["message"].lower()
        if not tasks.modern:
            assert other.result("tasks/list")["tasks"] == []
    finally:
        other_client.close()
    assert tasks.get(task["taskId"])["status"] == "working"  # untouched by the other user
    assert Call.objects.get(owner=mcp_user).status == CallStatus.QUEUED


def test_tasks_list_shows_the_callers_tasks_newest_first(live_db, mcp_server, live_sim, mcp_user):
    client = HttpMcp(mcp_server, token_for_user(user=mcp_user))
    try:
        tasks = Tasks(client, modern=False)
        first = place_as_task(tasks, phone_number=HUMAN)
        second = place_as_task(tasks, phone_number="+12125550110")
        listed = tasks.result("tasks/list")
        assert [t["taskId"] for t in listed["tasks"]] == [second["taskId"], first["taskId"]]
        assert "nextCursor" not in listed
        assert tasks.error("tasks/list", {"cursor": "not-a-cursor"})["code"] == -32602
    finally:
        client.close()


def test_a_call_that_cannot_be_placed_is_an_error_result_and_no_task(tasks, mcp_user):
    answer = tasks.result("tools/call", {"name": "makePhoneCall", "arguments": {"phone_number": "12", "task": "x"},
                                         **({} if tasks.modern else {"task": {}})})
    assert answer["isError"] is True
    assert "taskId" not in answer
    assert "task" not in answer
    assert not Call.objects.filter(owner=mcp_user).exists()
    assert balance(mcp_user) == GRANTED


# --- the official TypeScript SDK's tasks client ------------------------------------------------------------


def test_the_typescript_sdk_runs_make_phone_call_as_a_task_to_its_outcome(live_db, mcp_server, mcp_user, live_sim):
    if not (NODE.exists() and TS_SDK.exists()):
        pytest.fail(f"Node 22 or the MCP TypeScript SDK is missing under {NODE_HOME}: run tests/interop/node.sh.")
    env = {"PATH": os.environ.get("PATH", ""), "CALLMCP_TOKEN": token_for_user(user=mcp_user),
           "CALLMCP_TS_SDK": str(TS_SDK)}
    client = subprocess.Popen(  # noqa: S603 - our own script under the Node we installed
        [str(NODE), str(TS_TASKS_CLIENT), f"{mcp_server}/api/v1/mcp", HUMAN], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        def placed() -> bool:  # the SDK has placed the call as a task (and is still running)
            assert client.poll() is None, client.communicate()[1][-4000:]
            return Call.objects.filter(owner=mcp_user).exists()

        wait_until(placed, timeout=WAIT, what="the TypeScript client to place a call")
        finish_calls(live_sim)
        stdout, stderr = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0, stderr[-4000:]
    output = json.loads(stdout)
    assert output["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}
    assert output["tool"]["execution"] == {"taskSupport": "optional"}
    kinds = [message["type"] for message in output["messages"]]
    assert kinds[0] == "taskCreated"
    assert kinds[-1] == "result"
    finished, cancelled = Call.objects.filter(owner=mcp_user).order_by("created_at")
    assert output["result"]["structuredContent"]["call_id"] == str(finished.id)
    assert output["result"]["structuredContent"]["status"] == "completed"
    task_id = output["messages"][0]["taskId"]
    assert task_id in [task["taskId"] for task in output["listed"]]
    assert output["cancelled"]["status"] == "cancelled"
    assert output["afterCancel"]["status"] == "cancelled"
    assert cancelled.status == CallStatus.CANCELED
    assert balance(mcp_user) == GRANTED - real_cost(live_sim, str(finished.id))


# --- status notifications: the call's end reaches a listening client without polling ------------------------


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_a_2025_session_hears_notifications_tasks_status_when_the_call_ends(transport, live_db, mcp_server, mcp_user,
                                                                           live_sim):
    token = token_for_user(user=mcp_user)
    client: McpClient = HttpMcp(mcp_server, token) if transport == "http" else WsMcp(mcp_server, token)
    try:
        tasks = Tasks(client, modern=False)
        client.listen()
        task = place_as_task(tasks, max_duration=3)
        other = HttpMcp(mcp_server, token)
        try:  # the same user's 2026-07-28 task: its notifications/tasks are for listen streams only
            modern = place_as_task(Tasks(other, modern=True), phone_number="+12125550110", max_duration=3)
        finally:
            other.close()
        finish_calls(live_sim)  # the webhooks end the calls; nobody asks about the tasks
        notice = client.wait_notification("notifications/tasks/status",
                                          lambda params: params.get("taskId") == task["taskId"], timeout=WAIT)
        client.wait_until(lambda: McpTask.objects.get(pk=modern["taskId"]).status == "completed", timeout=WAIT)
    finally:
        client.close()
    assert McpTask.objects.get(pk=modern["taskId"]).status == "completed"  # its notification went out
    assert not [n for n in client.notifications if (n.get("params") or {}).get("taskId") == modern["taskId"]]
    assert notice["params"]["status"] == "completed"
    assert notice["params"]["ttl"] == 600_000
    assert RELATED_TASK not in notice["params"].get("_meta", {})


def test_a_2026_listen_stream_with_task_ids_hears_notifications_tasks_with_the_outcome(live_db, mcp_server, mcp_user,
                                                                                      live_sim):
    token = token_for_user(user=mcp_user)
    client = HttpMcp(mcp_server, token)
    try:
        task = place_as_task(Tasks(client, modern=True), max_duration=3)
    finally:
        client.close()
    meta = {PROTOCOL_VERSION_META: MODERN, CLIENT_CAPABILITIES_META: {"extensions": {EXTENSION: {}}}}
    body = {"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen",
            "params": {"notifications": {"taskIds": [task["taskId"]]}, "_meta": meta}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {token}", "MCP-Protocol-Version": MODERN, "Mcp-Method": "subscriptions/listen"}
    with (
        httpx.Client(base_url=mcp_server, timeout=httpx.Timeout(WAIT, read=WAIT), trust_env=False) as http,
        http.stream("POST", "/api/v1/mcp", headers=headers, json=body) as stream,
    ):
        assert stream.status_code == 200
        messages = (json.loads(event["data"]) for event in iter_sse(stream.iter_lines()) if event["data"])
        acknowledged = next(messages)
        finish_calls(live_sim)
        notice = next(messages)
    assert acknowledged["params"]["notifications"] == {"taskIds": [task["taskId"]]}
    assert notice["method"] == "notifications/tasks"
    assert (notice["params"]["taskId"], notice["params"]["status"]) == (task["taskId"], "completed")
    assert notice["params"]["result"]["structuredContent"]["status"] == "completed"
    assert notice["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1"
