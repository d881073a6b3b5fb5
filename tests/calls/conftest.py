"""Fixtures for the calls REST API, webhook and admin tests.

The phone provider is the bundled Bland simulator on a free port (the outside world, faked at its HTTP
boundary); our Bland client talks to it over real HTTP. Calls that need no provider are made directly
in the database, queued with a credit hold, the way ``services.call_place`` leaves them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from calls.models import Call, CallStatus
from calls.providers.bland import BlandClient
from calls.providers.simulator import BackgroundSimulator
from tests.mcp.conftest import live_db as live_db  # the live MCP server and its users, for test_mcp_tools.py
from tests.mcp.conftest import live_gateway as live_gateway
from tests.mcp.conftest import mcp_server as mcp_server
from tests.mcp.conftest import mcp_user as mcp_user
from tests.mcp.conftest import server_loop as server_loop
from users.models import User
from users.services import credits_reserve

SIM_KEY = "sim-key"
WEBHOOK_SECRET = "test-webhook-secret"
WEBHOOK_PATH = "/api/v1/webhooks/bland"
HUMAN, VOICEMAIL, BUSY, NO_ANSWER, FAILED = (
    "+12125550100", "+12125550110", "+12125550120", "+12125550130", "+12125550140",
)


@pytest.fixture(scope="session")
def bland_sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(time_scale=0, api_key=SIM_KEY, webhook_secret=WEBHOOK_SECRET, webhook_retries=0,
                             webhook_timeout=5) as sim:
        yield sim


@pytest.fixture
def calls_settings(settings, tmp_path):  # noqa: ANN001, ANN201
    """A known webhook secret, recordings stored under tmp_path, and a PUBLIC_BASE_URL nobody listens on
    (the simulator's own webhook posts go nowhere unless a test points it at a live server)."""
    settings.BLAND_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"
    return settings


def use_simulator(settings: Settings, sim: BackgroundSimulator) -> None:
    """Configure this process's provider to be ``sim`` (as BLAND_BASE_URL does in a deployment), with no retries."""
    settings.BLAND_API_KEY = ""
    settings.BLAND_BASE_URL = sim.url
    settings.BLAND_SIMULATOR_API_KEY = SIM_KEY
    settings.BLAND_RETRIES = 0


@pytest.fixture
def sim(bland_sim: BackgroundSimulator, calls_settings: Settings) -> Iterator[BackgroundSimulator]:
    """The simulator, reset, configured as the provider of this process (the settings come back afterwards)."""
    with httpx.Client(base_url=bland_sim.url, timeout=5) as control:
        control.post("/_sim/reset", json={"balance": 50}).raise_for_status()
    use_simulator(calls_settings, bland_sim)
    yield bland_sim
    with httpx.Client(base_url=bland_sim.url, timeout=5) as control:
        control.post("/_sim/faults", json={"outage": False, "error_rate": 0, "latency_ms": 0}).raise_for_status()


@pytest.fixture
def provider(sim: BackgroundSimulator) -> Iterator[BlandClient]:
    """A Bland client of our own pointed at the simulator, for calling services directly."""
    client = BlandClient(base_url=sim.url, api_key=SIM_KEY, retries=0)
    yield client
    client.close()


def sim_details(sim: BackgroundSimulator, provider_call_id: str) -> dict[str, Any]:
    """What Bland says about a call: its ``GET /v1/calls/{id}`` object, which is also the webhook body."""
    response = httpx.get(f"{sim.url}/v1/calls/{provider_call_id}", headers={"authorization": SIM_KEY}, timeout=5)
    response.raise_for_status()
    return response.json()


def sim_faults(sim: BackgroundSimulator, **faults: Any) -> None:
    httpx.post(f"{sim.url}/_sim/faults", json=faults, timeout=5).raise_for_status()


def sim_call_count(sim: BackgroundSimulator) -> int:
    response = httpx.get(f"{sim.url}/v1/calls", headers={"authorization": SIM_KEY}, timeout=5)
    response.raise_for_status()
    return int(response.json()["total_count"])


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def queued_call(user: User, *, max_duration: int = 5, to_number: str = HUMAN, **fields: Any) -> Call:
    """A call as ``services.call_place`` leaves it: queued with the provider, its credits on hold."""
    values: dict[str, Any] = {
        "owner": user, "to_number": to_number, "task": "Say hello.", "max_duration": max_duration,
        "status": CallStatus.QUEUED, "provider_call_id": str(uuid.uuid4()),
        "reserved_credits": max_duration * settings.CALL_CREDITS_PER_MINUTE,
    }
    values.update(fields)
    call = Call.objects.create(**values)
    if call.reserved_credits:
        credits_reserve(user=user, amount=call.reserved_credits, reference=call.credit_reference)
    return call


def bland_payload(provider_call_id: str, *, status: str = "completed", answered_by: str | None = "human",
                  seconds: int = 45, price: float | None = 0.105, error_message: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    """A post-call webhook body shaped like Bland's call details (bland_api.md sections 3 and 12)."""
    connected = status == "completed"
    payload: dict[str, Any] = {
        "call_id": provider_call_id, "c_id": provider_call_id, "call_length": round(seconds / 60, 4),
        "corrected_duration": str(seconds), "batch_id": None, "to": HUMAN, "from": "+14155550100",
        "request_data": {}, "completed": True, "inbound": False,
        "created_at": "2026-05-01T10:00:00.000000+00:00",
        "started_at": "2026-05-01T10:00:03.000000+00:00" if connected else None,
        "end_at": "2026-05-01T10:00:48.000Z", "queue_status": "complete", "status": status,
        "error_message": error_message, "answered_by": answered_by, "endpoint_url": "api.prod.bland.ai",
        "max_duration": 5, "record": False, "recording_url": None, "metadata": {},
        "summary": "The callee agreed." if connected else None, "price": price, "call_ended_by": "ASSISTANT",
        "disposition_tag": "COMPLETED_ACTION" if connected else "NO_CONTACT_MADE",
        "concatenated_transcript": "assistant: Hello! \n user: Hi. \n " if connected else "",
        "transcripts": [
            {"id": 1, "created_at": "2026-05-01T10:00:04Z", "text": "Hello!", "user": "assistant"},
            {"id": 2, "created_at": "2026-05-01T10:00:06Z", "text": "Hi.", "user": "user"},
        ] if connected else [],
    }
    payload.update(extra)
    return payload


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(client: Any, payload: Any, *, signature: str | None = None, raw: bytes | None = None) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {} if signature == "" else {"HTTP_X_WEBHOOK_SIGNATURE": signature or sign(body)}
    return client.post(WEBHOOK_PATH, data=body, content_type="application/json", **headers)


# --- the MCP tools end to end: the simulator's webhooks reach the live MCP server -----------------------


@pytest.fixture
def live_sim(sim: BackgroundSimulator, mcp_server: str, calls_settings: Settings, live_db: None
             ) -> Iterator[BackgroundSimulator]:
    """``sim`` (the provider of this process, clock frozen: tests move it with ``/_sim/advance``) whose signed
    post-call webhooks go to the live MCP server's ``/api/v1/webhooks/bland``. The server runs in this
    process, so these settings are its settings; makePhoneCall's wait loop polls every 50 ms, not every second.
    A webhook still on its way when the test ends is delivered (or dropped) before the database is emptied:
    one the server handled during the flush would deadlock with it."""
    calls_settings.PUBLIC_BASE_URL = mcp_server
    calls_settings.CALL_WAIT_POLL_SECONDS = 0.05
    yield sim
    httpx.post(f"{sim.url}/_sim/settle", json={"timeout": 10}, timeout=15).raise_for_status()


def sim_state(sim: BackgroundSimulator) -> dict[str, Any]:
    """``GET /_sim/state``: every call the provider was asked to place, and every webhook it posted."""
    response = httpx.get(f"{sim.url}/_sim/state", timeout=5)
    response.raise_for_status()
    return response.json()


def sim_advance(sim: BackgroundSimulator, seconds: float) -> list[str]:
    """``POST /_sim/advance``: move the simulated clock; the provider ids of the calls that ended on the way."""
    response = httpx.post(f"{sim.url}/_sim/advance", json={"seconds": seconds}, timeout=5)
    response.raise_for_status()
    return response.json()["ended"]
