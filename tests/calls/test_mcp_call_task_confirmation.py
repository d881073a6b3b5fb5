"""A makePhoneCall task above the user's spend threshold asks the user first, and places nothing until
they accept: the task starts ``input_required``.

2026-07-28: the question is in the task's ``inputRequests`` and the answer comes with ``tasks/update``.
2025-11-25: the client calls ``tasks/result`` and the server puts the question to it on that stream as
``elicitation/create`` (tagged with the related task). Raw JSON-RPC over HTTP and WebSocket, against the
live server and the Bland simulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from calls.models import Call, CallStatus
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import HUMAN, sim_state
from tests.calls.test_mcp_call_tasks import RELATED_TASK, WAIT, Tasks
from tests.calls.test_mcp_tools import GRANTED, balance, finish_calls, real_cost
from tests.mcp.clients import HttpMcp, McpClient, WsMcp
from users.models import User
from users.services import token_for_user

RATE = settings.CALL_CREDITS_PER_MINUTE
HOLD = settings.CALL_DEFAULT_MAX_DURATION_MINUTES * RATE
QUESTION = f"This will reserve {HOLD} credits for up to 10 minutes to call {HUMAN}; proceed?"
CALL = {"phone_number": HUMAN, "task": "Confirm tomorrow's 9 am delivery slot."}
ACCEPT = {"action": "accept", "content": {"confirm": True}}
TRANSPORTS = pytest.mark.parametrize("transport", ["http", "websocket"])


@pytest.fixture
def careful_user(mcp_user: User) -> User:
    User.objects.filter(pk=mcp_user.pk).update(spend_confirm_threshold=100, rate_limits={"place": "100/minute"})
    return mcp_user


@pytest.fixture
def connect(live_db: None, mcp_server: str, careful_user: User, live_sim: BackgroundSimulator) -> Iterator[Any]:
    clients: list[McpClient] = []

    def open_client(transport: str, *, modern: bool, capabilities: dict[str, Any] | None = None) -> Tasks:
        token = token_for_user(user=careful_user)
        client = HttpMcp(mcp_server, token) if transport == "http" else WsMcp(mcp_server, token)
        clients.append(client)
        return Tasks(client, modern=modern, capabilities=capabilities)

    yield open_client
    for client in clients:
        client.close()


def nothing_placed(user: User, sim: BackgroundSimulator) -> None:
    assert not Call.objects.filter(owner=user).exists()
    assert sim_state(sim)["total_calls"] == 0
    assert balance(user) == GRANTED


@TRANSPORTS
def test_a_2026_task_asks_for_confirmation_and_places_the_call_once_accepted(connect, transport, careful_user,
                                                                             live_sim):
    tasks = connect(transport, modern=True, capabilities={"elicitation": {}})
    task = tasks.call_as_task("makePhoneCall", CALL)
    assert task["status"] == "input_required"
    nothing_placed(careful_user, live_sim)

    asking = tasks.get(task["taskId"])
    assert asking["status"] == "input_required"
    (request,) = asking["inputRequests"].values()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == QUESTION
    (key,) = asking["inputRequests"]

    ack = tasks.result("tasks/update", {"taskId": task["taskId"], "inputResponses": {key: ACCEPT}})
    assert set(ack) == {"resultType", "_meta"}
    assert tasks.get(task["taskId"])["status"] == "working"
    call = Call.objects.get(owner=careful_user)
    assert call.status == CallStatus.QUEUED
    assert balance(careful_user) == GRANTED - HOLD

    finish_calls(live_sim)
    outcome = tasks.outcome(task["taskId"])
    assert outcome["structuredContent"]["call_id"] == str(call.id)
    assert balance(careful_user) == GRANTED - real_cost(live_sim, str(call.id))


@TRANSPORTS
@pytest.mark.parametrize("answer", [{"action": "decline"}, {"action": "cancel"},
                                    {"action": "accept", "content": {"confirm": False}}])
def test_a_2026_task_the_user_does_not_confirm_places_nothing(connect, transport, answer, careful_user, live_sim):
    tasks = connect(transport, modern=True, capabilities={"elicitation": {}})
    task = tasks.call_as_task("makePhoneCall", CALL)
    ignored = tasks.result("tasks/update", {"taskId": task["taskId"], "inputResponses": {"unknown": ACCEPT}})
    assert ignored["resultType"] == "complete"
    assert tasks.get(task["taskId"])["status"] == "input_required"  # an answer to nothing asked changes nothing

    tasks.result("tasks/update", {"taskId": task["taskId"], "inputResponses": {"confirm_spend": answer}})
    done = tasks.wait_terminal(task["taskId"])
    assert done["status"] == "completed"
    assert done["result"]["isError"] is True
    assert done["result"]["structuredContent"]["error"]["code"] == "spend_not_confirmed"
    nothing_placed(careful_user, live_sim)


@TRANSPORTS
def test_a_2026_task_cancelled_while_asking_places_nothing(connect, transport, careful_user, live_sim):
    tasks = connect(transport, modern=True, capabilities={"elicitation": {}})
    task = tasks.call_as_task("makePhoneCall", CALL)
    tasks.result("tasks/cancel", {"taskId": task["taskId"]})
    tasks.result("tasks/update", {"taskId": task["taskId"], "inputResponses": {"confirm_spend": ACCEPT}})
    assert tasks.get(task["taskId"])["status"] == "cancelled"
    nothing_placed(careful_user, live_sim)


@TRANSPORTS
def test_a_2025_task_puts_the_question_on_the_tasks_result_stream(connect, transport, careful_user, live_sim):
    tasks = connect(transport, modern=False, capabilities={"elicitation": {}})
    task = tasks.call_as_task("makePhoneCall", CALL)
    assert task["status"] == "input_required"
    nothing_placed(careful_user, live_sim)

    client = tasks.client
    waiting = client.start("tasks/result", {"taskId": task["taskId"]})
    assert client.wait_until(lambda: bool(client.server_requests), timeout=WAIT), "no elicitation/create came"
    (question,) = client.server_requests
    assert question["method"] == "elicitation/create"
    assert question["params"]["message"] == QUESTION
    assert question["params"]["_meta"][RELATED_TASK] == {"taskId": task["taskId"]}
    client.send({"jsonrpc": "2.0", "id": question["id"], "result": ACCEPT})

    assert client.wait_until(lambda: Call.objects.filter(owner=careful_user).exists(), timeout=WAIT)
    finish_calls(live_sim)
    answer = client.wait_response(waiting, timeout=WAIT)
    call = Call.objects.get(owner=careful_user)
    assert answer["result"]["structuredContent"]["call_id"] == str(call.id)
    assert answer["result"]["_meta"][RELATED_TASK] == {"taskId": task["taskId"]}
    assert tasks.get(task["taskId"])["status"] == "completed"


@TRANSPORTS
@pytest.mark.parametrize("modern", [False, True], ids=["2025-11-25", "2026-07-28"])
def test_a_task_for_a_client_without_elicitation_asks_for_confirm_spend(connect, transport, modern, careful_user,
                                                                        live_sim):
    tasks = connect(transport, modern=modern)
    params: dict[str, Any] = {"name": "makePhoneCall", "arguments": CALL, **({} if modern else {"task": {}})}
    answer = tasks.result("tools/call", params)
    assert answer["isError"] is True
    assert answer["structuredContent"]["error"]["code"] == "confirmation_required"
    assert "taskId" not in answer
    nothing_placed(careful_user, live_sim)

    confirmed = tasks.call_as_task("makePhoneCall", {**CALL, "confirm_spend": True})
    assert confirmed["status"] == "working"
    assert Call.objects.get(owner=careful_user).status == CallStatus.QUEUED
