"""The tasks/* methods spend the caller's rate budget as tool calls do: following a task (tasks/get,
tasks/list, tasks/result, tasks/update) is a ``read``, tasks/cancel a ``cancel`` of its own, so a client
polling too fast is told when to come back and can still stop its task. Over HTTP and WebSocket."""

from __future__ import annotations

import pytest

from tests.mcp.clients import HttpMcp, error_of
from tests.mcp.test_behaviour import connect as connect  # fixtures: a client per transport, a frozen-clock limiter
from tests.mcp.test_behaviour import frozen_rate_limits as frozen_rate_limits
from users.services import token_for_user

pytestmark = pytest.mark.postgres

RATE_LIMITED = -31029


def test_following_tasks_faster_than_the_read_budget_is_refused_with_a_retry_time(connect, make_user,
                                                                                 frozen_rate_limits):
    user = make_user("mcp-task-poller", scopes=["calls:read", "calls:write"])
    user.rate_limits = {"read": "3/minute"}
    user.save(update_fields=["rate_limits"])
    client = connect(token_for_user(user=user), server=frozen_rate_limits)
    client.initialize()

    assert client.request("tasks/list", {})["result"]["tasks"] == []
    unknown = {"taskId": "no-such-task"}
    for method in ("tasks/get", "tasks/result"):
        answer = client.request(method, unknown)
        assert error_of(answer)["code"] != RATE_LIMITED, method  # answered: not found, and counted
    over = client.request("tasks/get", unknown)

    error = error_of(over)
    assert error["code"] == RATE_LIMITED
    assert error["data"]["class"] == "read"
    assert 1 <= error["data"]["retryAfter"] <= 60
    if isinstance(client, HttpMcp):
        response = client.responses[over["id"]]
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) == error["data"]["retryAfter"]
    assert error_of(client.request("tasks/list", {}))["code"] == RATE_LIMITED

    # stopping a task has a budget of its own: polling never leaves a client unable to cancel
    cancelled = client.request("tasks/cancel", unknown)
    assert error_of(cancelled)["code"] != RATE_LIMITED


def test_cancelling_tasks_faster_than_the_cancel_budget_is_refused(connect, make_user, frozen_rate_limits):
    user = make_user("mcp-task-canceller", scopes=["calls:read", "calls:write"])
    user.rate_limits = {"cancel": "2/minute"}
    user.save(update_fields=["rate_limits"])
    client = connect(token_for_user(user=user), server=frozen_rate_limits)
    client.initialize()

    for _ in range(2):
        assert error_of(client.request("tasks/cancel", {"taskId": "no-such-task"}))["code"] != RATE_LIMITED
    error = error_of(client.request("tasks/cancel", {"taskId": "no-such-task"}))
    assert (error["code"], error["data"]["class"]) == (RATE_LIMITED, "cancel")
    assert "tasks" in client.request("tasks/list", {})["result"]  # reads are not held up by cancels
