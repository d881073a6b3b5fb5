"""What an MCP client sees when the provider's webhooks never come: calls placed with makePhoneCall reach
their final state through the poller alone, and a client subscribed to them hears each one end.

The MCP server is a process of its own (uvicorn on the test database and Redis), so the poller's updates
reach the subscriber the way they do in production: through Redis, from another process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from calls.models import Call, CallStatus
from tests.calls.poller.conftest import control, numbers, run_pass, settled_once
from tests.mcp.clients import HttpMcp, result_of
from tests.servers import ServerProcess, server_processes
from users.services import token_for_user

CALLS = 500
WAIT = 120  # seconds: the bound on waiting for the subscriber's notifications


@pytest.fixture
def mcp_process(sim, tmp_path) -> Iterator[ServerProcess]:  # noqa: ANN001
    env = {"BLAND_BASE_URL": sim.url, "BLAND_SIMULATOR_API_KEY": "sim-key", "PUBLIC_BASE_URL": "http://127.0.0.1:9"}
    with server_processes(["mcp"], tmp_path, env=env) as (server,):
        yield server


@pytest.fixture
def subscriber(mcp_process: ServerProcess, owner) -> Iterator[HttpMcp]:  # noqa: ANN001
    client = HttpMcp(mcp_process.url, token_for_user(user=owner), timeout=30)
    assert "result" in client.initialize()
    yield client
    client.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(900)  # 500 calls placed and subscribed one request at a time on a shared machine
def test_with_webhooks_off_500_calls_placed_over_mcp_end_through_the_poller_and_subscribers_hear_it(
        sim, owner, subscriber):
    control(sim, "faults", {"webhooks": False})
    placed = []
    for number in numbers(CALLS // 2, "human") + numbers(CALLS // 2, "busy", area="646"):
        result = result_of(subscriber.request("tools/call", {"name": "makePhoneCall", "arguments": {
            "phone_number": number, "task": "Confirm the delivery.", "max_duration": 2}}))
        assert not result.get("isError"), result
        placed.append(result["structuredContent"]["call_id"])
    for call_id in placed:
        assert result_of(subscriber.request("resources/subscribe", {"uri": f"calls://{call_id}"})) == {}
    subscriber.listen()
    sim.advance(600)

    summary = run_pass(sim)

    assert summary.counts.changed == CALLS
    assert summary.counts.list_requests == 1
    wanted = {f"calls://{call_id}" for call_id in placed}
    heard = subscriber.wait_until(
        lambda: wanted <= {n["params"]["uri"] for n in subscriber.notifications
                           if n.get("method") == "notifications/resources/updated"}, timeout=WAIT)
    assert heard, "the subscriber did not hear of every call's end"
    calls = list(Call.objects.filter(pk__in=placed))
    assert len(calls) == CALLS
    assert sorted({c.status for c in calls}) == [CallStatus.BUSY, CallStatus.COMPLETED]
    assert all(settled_once(call) for call in calls)
    state = httpx.get(f"{sim.url}/_sim/state", timeout=30).json()
    assert state["webhooks"] == []  # not one webhook was sent
    details = result_of(subscriber.request("tools/call", {"name": "getCallDetails", "arguments": {
        "call_id": placed[0]}}))["structuredContent"]
    assert details["status"] == "completed"
