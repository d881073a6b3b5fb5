"""Bad task requests get clear, specific JSON-RPC errors, in both revisions of MCP tasks, and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from calls.models import Call
from calls.providers.simulator import BackgroundSimulator
from mcp_gateway.models import McpTask
from tests.calls.conftest import HUMAN
from tests.calls.test_mcp_call_tasks import MODERN, Tasks
from tests.calls.test_mcp_tools import GRANTED, balance
from tests.mcp.clients import HttpMcp
from users.services import token_for_user

CALL = {"phone_number": HUMAN, "task": "Confirm the booking."}


@pytest.fixture
def http(live_db: None, mcp_server: str, mcp_user: Any, live_sim: BackgroundSimulator) -> Iterator[HttpMcp]:
    client = HttpMcp(mcp_server, token_for_user(user=mcp_user))
    yield client
    client.close()


@pytest.mark.parametrize("task_id", ["no-such-task", "", 42, None])
@pytest.mark.parametrize("method", ["tasks/get", "tasks/result", "tasks/cancel"])
def test_an_unknown_task_id_is_invalid_params_in_2025(http, method, task_id):
    error = Tasks(http, modern=False).error(method, {} if task_id is None else {"taskId": task_id})
    assert error["code"] == -32602
    assert "task not found" in error["message"].lower()


def test_an_unknown_task_id_is_invalid_params_in_2026(http):
    tasks = Tasks(http, modern=True)
    for method in ("tasks/get", "tasks/cancel"):
        error = tasks.error(method, {"taskId": "no-such-task"})
        assert error["code"] == -32602, method
    error = tasks.error("tasks/update", {"taskId": "no-such-task", "inputResponses": {}})
    assert error["code"] == -32602


def test_asking_a_tool_without_task_support_for_a_task_is_method_not_found(http, mcp_user):
    error = Tasks(http, modern=False).error("tools/call", {"name": "getCallHistory", "arguments": {},
                                                          "task": {"ttl": 60_000}})
    assert error["code"] == -32601
    assert "getCallHistory" in error["message"]
    assert "taskSupport" in error["message"]


def test_2026_task_methods_need_the_tasks_extension(http):
    tasks = Tasks(http, modern=True, extension=False)
    for method, params in (("tasks/get", {"taskId": "x"}), ("tasks/cancel", {"taskId": "x"}),
                           ("tasks/update", {"taskId": "x", "inputResponses": {}})):
        error = tasks.error(method, params)
        assert error["code"] == -32021, method
        assert error["data"]["requiredCapabilities"] == {"extensions": {"io.modelcontextprotocol/tasks": {}}}


def test_2026_has_no_tasks_result_or_tasks_list(http):
    tasks = Tasks(http, modern=True)
    for method in ("tasks/result", "tasks/list"):
        assert tasks.error(method, {"taskId": "x"} if method == "tasks/result" else {})["code"] == -32601, method


def test_tasks_update_needs_an_object_of_answers(http, mcp_user):
    tasks = Tasks(http, modern=True)
    task = tasks.call_as_task("makePhoneCall", CALL)
    error = tasks.error("tasks/update", {"taskId": task["taskId"], "inputResponses": ["yes"]})
    assert error["code"] == -32602
    assert "inputResponses" in error["message"]
    assert tasks.get(task["taskId"])["status"] == "working"


def test_a_routing_header_naming_another_task_is_refused(http, mcp_user):
    tasks = Tasks(http, modern=True)
    task = tasks.call_as_task("makePhoneCall", CALL)
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}
    response = http.post(http.message("tasks/cancel", {"taskId": task["taskId"], "_meta": meta}, 7),
                         headers={"MCP-Protocol-Version": MODERN, "Mcp-Method": "tasks/cancel", "Mcp-Name": "another"})
    assert response.status_code == 400
    assert http.wait_response(7)["error"]["code"] == -32020
    assert tasks.get(task["taskId"])["status"] == "working"  # not cancelled


def test_a_2026_client_without_the_extension_gets_the_call_at_once(http, mcp_user):
    result = Tasks(http, modern=True, extension=False).result("tools/call", {"name": "makePhoneCall",
                                                                              "arguments": CALL})
    assert result["resultType"] == "complete"
    assert "taskId" not in result
    assert result["structuredContent"]["status"] == "queued"


def test_before_2025_11_25_the_task_param_is_ignored(http, mcp_user):
    assert "result" in http.initialize("2025-06-18")
    answer = http.request("tools/call", {"name": "makePhoneCall", "arguments": CALL, "task": {"ttl": 60_000}})
    assert "task" not in answer["result"]
    assert answer["result"]["structuredContent"]["status"] == "queued"
    assert http.request("tasks/get", {"taskId": "x"})["error"]["code"] == -32601
    assert Call.objects.filter(owner=mcp_user).count() == 1
    assert balance(mcp_user) < GRANTED


def test_a_task_past_its_ttl_is_gone(http, mcp_user):
    tasks = Tasks(http, modern=False)
    short = tasks.call_as_task("makePhoneCall", {**CALL, "max_duration": 1}, ttl=1)
    assert short["ttl"] == 60_000  # asked for 1 ms: a task outlives its first poll
    McpTask.objects.filter(pk=short["taskId"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.error("tasks/get", {"taskId": short["taskId"]})["code"] == -32602
    assert tasks.result("tasks/list")["tasks"] == []
    tasks.call_as_task("makePhoneCall", {**CALL, "phone_number": "+12125550110"})
    assert not McpTask.objects.filter(pk=short["taskId"]).exists()  # expired tasks are cleared away
