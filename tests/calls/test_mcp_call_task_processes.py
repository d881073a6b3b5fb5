"""A phone call task outlives the server process that started it.

Two real server processes (uvicorn serving ``config.asgi.application``) share the pytest test database
and Redis, and call the Bland simulator over HTTP. Server A places calls as MCP tasks and is killed
(SIGKILL: no shutdown, nothing flushed); server B, which never saw those requests, answers for the
tasks: it reads each call again (asking the provider, as the poller would: no webhook reaches anyone
here), so one task ends with the call's outcome and the other, cancelled through B, stops its call and
gives back its credits. Runs on PostgreSQL + Redis only (CI); the processes are always terminated.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from calls.models import Call, CallStatus
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import HUMAN, SIM_KEY, VOICEMAIL, WEBHOOK_SECRET, sim_advance, sim_details
from tests.calls.test_mcp_call_tasks import LEGACY, Tasks
from tests.calls.test_mcp_tools import GRANTED, balance, real_cost
from tests.mcp.clients import HttpMcp
from tests.servers import ServerProcess, server_processes
from users.services import token_for_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

WAIT = 30  # seconds: the bound on every wait here (two servers and the suite share two cores)


@pytest.fixture
def two_servers(sim: BackgroundSimulator, django_db_blocker, tmp_path) -> Iterator[tuple[ServerProcess, ServerProcess]]:  # noqa: ANN001
    """Servers A and B on the test database, Redis and the simulator; every read of a call in flight asks
    the provider (CALL_DETAILS_REFRESH_SECONDS=0); the provider's webhooks go nowhere."""
    env = {"BLAND_API_KEY": "", "BLAND_BASE_URL": sim.url, "BLAND_SIMULATOR_API_KEY": SIM_KEY, "BLAND_RETRIES": "1",
           "BLAND_WEBHOOK_SECRET": WEBHOOK_SECRET, "PUBLIC_BASE_URL": "http://127.0.0.1:9",
           "CALL_DETAILS_REFRESH_SECONDS": "0"}
    with django_db_blocker.unblock(), server_processes(["A", "B"], tmp_path, env=env) as (a, b):
        yield a, b


def place(tasks: Tasks, number: str) -> str:
    task = tasks.call_as_task("makePhoneCall", {"phone_number": number, "task": "Confirm the booking.",
                                                "max_duration": 3})
    assert task["status"] == "working"
    return task["taskId"]


def wait_terminal(tasks: Tasks, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while (task := tasks.get(task_id))["status"] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"task {task_id} still {task['status']}"
    return task


def test_a_call_task_started_on_a_killed_process_is_answered_by_another(two_servers, live_db, make_user, sim):
    a, b = two_servers
    user = make_user("mcp-alice", credits=GRANTED)
    token = token_for_user(user=user)
    clients = [HttpMcp(a.url, token), HttpMcp(a.url, token), HttpMcp(b.url, token), HttpMcp(b.url, token)]
    try:
        on_a_legacy, on_a_modern = Tasks(clients[0], modern=False), Tasks(clients[1], modern=True)
        finished = place(on_a_legacy, HUMAN)
        stopped = place(on_a_modern, VOICEMAIL)

        a.process.send_signal(signal.SIGKILL)
        assert a.process.wait(timeout=WAIT) == -signal.SIGKILL

        # The same legacy session continues on B (sessions live in Redis); modern requests need none.
        clients[2].session_id, clients[2].protocol_version = clients[0].session_id, LEGACY
        on_b_legacy = Tasks(clients[2], modern=False, initialize=False)
        on_b_modern = Tasks(clients[3], modern=True)

        assert on_b_modern.result("tasks/cancel", {"taskId": stopped})["resultType"] == "complete"
        assert on_b_modern.get(stopped)["status"] == "cancelled"
        cancelled = Call.objects.get(owner=user, to_number=VOICEMAIL)
        assert cancelled.status == CallStatus.CANCELED
        assert sim_details(sim, str(cancelled.provider_call_id))["completed"] is True

        assert on_b_legacy.get(finished)["status"] == "working"
        sim_advance(sim, 600)  # the provider ends the call; only B is left to hear about it
        assert wait_terminal(on_b_legacy, finished)["status"] == "completed"
        outcome = on_b_legacy.result("tasks/result", {"taskId": finished})
        call = Call.objects.get(owner=user, to_number=HUMAN)
        assert outcome["structuredContent"]["call_id"] == str(call.id)
        assert outcome["structuredContent"]["status"] == "completed"
        assert outcome["structuredContent"]["cost_credits"] == real_cost(sim, str(call.id))
        # The cancelled call gave everything back; the finished one paid what the provider charged.
        assert balance(user) == GRANTED - real_cost(sim, str(call.id))
    finally:
        for client in clients:
            client.close()
