"""The simulator's Bland v2 batches over HTTP: create (every call object checked, all or nothing), get, list,
stop (only what has not been dialled), logs, the status webhook, and each call an ordinary call."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from calls.providers.simulator import BackgroundSimulator
from tests.waiting import wait_until

KEY = "batch-key"


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(time_scale=0, api_key=KEY, batch_dispatch_rate=10, webhook_retries=0) as simulator:
        yield simulator


@pytest.fixture
def bland(sim: BackgroundSimulator) -> Iterator[httpx.Client]:
    httpx.post(f"{sim.url}/_sim/reset", json={}, timeout=5).raise_for_status()
    with httpx.Client(base_url=sim.url, headers={"authorization": KEY}, timeout=5) as client:
        yield client


def batch(count: int, **shared: Any) -> dict[str, Any]:
    return {"global": {"task": "Remind {{name}}.", "max_duration": 2, **shared}, "description": "reminders",
            "call_objects": [{"phone_number": f"+1212555{100 + i:04d}", "request_data": {"name": f"P{i}"}}
                             for i in range(count)]}


def test_a_batch_places_ordinary_calls_listed_with_its_id(bland: httpx.Client) -> None:
    created = bland.post("/v2/batches/create", json=batch(5))
    assert created.status_code == 200
    batch_id = created.json()["data"]["batch_id"]
    assert created.json()["errors"] is None

    shown = bland.get(f"/v2/batches/{batch_id}").json()["data"]
    assert shown["call_count"] == 5
    assert shown["description"] == "reminders"
    assert shown["status"] == "dispatching"
    listed = bland.get("/v1/calls", params={"batch_id": batch_id}).json()
    assert listed["total_count"] == 5
    first = bland.get(f"/v1/calls/{listed['calls'][-1]['call_id']}").json()
    assert first["batch_id"] == batch_id
    assert first["request_data"] == {"name": "P0"}
    assert [b["id"] for b in bland.get("/v2/batches/list").json()["data"]] == [batch_id]


def test_one_bad_call_object_refuses_the_whole_batch(bland: httpx.Client, sim: BackgroundSimulator) -> None:
    body = batch(4, voice="nobody")
    body["call_objects"][2]["phone_number"] = "12"
    refused = bland.post("/v2/batches/create", json=body)
    assert refused.status_code == 400
    messages = [e["message"] for e in refused.json()["errors"]]
    assert "call_objects[2]: Invalid phone number." in messages
    assert sum("Voice 'nobody' not found." in m for m in messages) == 4
    assert bland.post("/v2/batches/create", json={"global": {"phone_number": "+12125550100", "task": "x"},
                                                  "call_objects": []}).status_code == 400
    assert bland.get("/v1/calls").json()["total_count"] == 0
    assert bland.get("/v2/batches/nope").status_code == 404


def test_stop_cancels_only_the_calls_not_dialled(bland: httpx.Client, sim: BackgroundSimulator) -> None:
    batch_id = bland.post("/v2/batches/create", json=batch(40)).json()["data"]["batch_id"]
    sim.advance(4)  # ten a simulated second, each dialled 3 s after its turn: the first 11 are dialled
    assert bland.post(f"/v2/batches/{batch_id}/stop").json() == {"data": None, "errors": None}
    counts = bland.get(f"/v2/batches/{batch_id}").json()["data"]["call_status_counts"]
    assert 0 < counts["canceled"] < 40
    sim.advance(600)
    shown = bland.get(f"/v2/batches/{batch_id}").json()["data"]
    assert shown["status"] == "completed_partial"
    kinds = [entry["event_type"] for entry in bland.get(f"/v2/batches/{batch_id}/logs").json()["data"]]
    assert kinds[0] == "batch_created"
    assert "batch_stopped" in kinds


def test_status_changes_are_posted_to_the_status_webhook(sim: BackgroundSimulator, bland: httpx.Client) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/status", hook)
    receiver = _Serve(app)
    try:
        body = {**batch(2), "status_webhook": f"{receiver.url}/status"}
        batch_id = bland.post("/v2/batches/create", json=body).json()["data"]["batch_id"]
        sim.advance(600)
        bland.get(f"/v2/batches/{batch_id}")  # a request runs the clock's bookkeeping
        receiver.wait_for(lambda: any(r["status"] == "completed" for r in received))
    finally:
        receiver.stop()
    final = next(r for r in received if r["status"] == "completed")
    assert final["batch_id"] == batch_id
    assert final["calls_total"] == 2


class _Serve:
    """An aiohttp app on its own loop and thread (the receiving end of a webhook)."""

    def __init__(self, app: web.Application) -> None:
        self._loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        wait_until(predicate, timeout=timeout, what="a status webhook")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
