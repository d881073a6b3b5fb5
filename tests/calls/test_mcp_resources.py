"""What an MCP client sees of callmcp's resources, completions and prompts.

Every behaviour test runs over Streamable HTTP and over WebSocket (the ``connect`` fixture), the
official SDK client reads the same resources in both protocol generations, and one test (PostgreSQL
+ Redis only) proves a webhook served by one process reaches a subscriber held by another. Calls are
made in the database the way ``services.call_place`` leaves them and then moved by the real write
path (``services.call_apply_provider_update``); a new call is placed through the Bland simulator.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import httpx
import mcp_types as types
import pytest
from anyio.to_thread import run_sync
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from mcp import Client
from mcp.client.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from rest_framework.test import APIClient

from calls import services
from calls.models import Call, CallStatus
from calls.providers.bland import BlandClient
from calls.providers.simulator import BackgroundSimulator
from calls.webhooks import SIGNATURE_HEADER, signature_for
from mcp_gateway import notify
from tests.mcp import conftest as live_server
from tests.mcp.clients import HttpMcp, McpClient, McpTimeout, WsMcp, error_of, iter_sse, result_of, walk_pages
from tests.mcp.sdk import Inbox, streamable_client
from tests.servers import server_processes
from users import resource_cache
from users.models import CreditLedgerEntry, User
from users.services import credits_grant, credits_reserve, token_for_user

# The live server of tests/mcp (uvicorn in a thread, the test database): shared, not copied.
mcp_server = live_server.mcp_server
live_db = live_server.live_db

MCP_PATH = "/api/v1/mcp"
ACCEPT_BOTH = "application/json, text/event-stream"
MODERN = "2026-07-28"
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
RESOURCE_NOT_FOUND = -32002
INVALID_PARAMS = -32602
WAIT = 10  # seconds: the bound on every wait in this module
SIM_KEY = "sim-key"
HUMAN, OTHER_NUMBER = "+12125550100", "+12125550177"
CPM = settings.CALL_CREDITS_PER_MINUTE
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(32))
HISTORY_TEMPLATE = "calls://history{?status,answered_by,number,since,until,cursor,limit}"
USAGE_TEMPLATE = "credits://usage{?since,until,group_by}"
CALL_TEMPLATES = ("calls://{call_id}", "calls://{call_id}/transcript", "calls://{call_id}/recording")

Connect = Callable[..., McpClient]


# --- fixtures --------------------------------------------------------------------------------------


def _fresh(user: User) -> User:
    """Test databases reuse user ids; a new user must not inherit a cached value of an old one."""
    resource_cache.invalidate(user.pk, *resource_cache.HOT)
    return user


@pytest.fixture
def alice(live_db, make_user) -> User:  # noqa: ANN001
    return _fresh(make_user("res-alice", email="alice@example.com", credits=1_000))


@pytest.fixture
def bob(live_db, make_user) -> User:  # noqa: ANN001
    return _fresh(make_user("res-bob", email="bob@example.com", credits=250))


@pytest.fixture(params=["http", "websocket"])
def connect(request: pytest.FixtureRequest, mcp_server: str, live_db: None) -> Iterator[Connect]:
    """Open initialized clients of a user over this test's transport; all closed at the end."""
    opened: list[McpClient] = []

    def open_client(user: User, *, scopes: list[str] | None = None) -> McpClient:
        token = token_for_user(user=user, scopes=scopes)
        client: McpClient = (HttpMcp if request.param == "http" else WsMcp)(mcp_server, token)
        opened.append(client)
        assert "result" in client.initialize()
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture
def media(settings, tmp_path):  # noqa: ANN001, ANN201
    """Recordings stored under tmp_path (the live server runs in this process: same settings)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings


@pytest.fixture(scope="module")
def bland_simulator() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(time_scale=0, api_key=SIM_KEY, plan="enterprise", webhook_retries=0,
                             webhook_timeout=1) as simulator:
        yield simulator


@pytest.fixture
def provider(bland_simulator: BackgroundSimulator, settings) -> Iterator[BlandClient]:  # noqa: ANN001
    """A Bland client pointed at the simulator, so ``services.call_place`` really places calls."""
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # the simulator's webhooks go nowhere
    httpx.post(f"{bland_simulator.url}/_sim/reset", json={"balance": 50}, timeout=WAIT).raise_for_status()
    client = BlandClient(base_url=bland_simulator.url, api_key=SIM_KEY, retries=0)
    yield client
    client.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- calls -----------------------------------------------------------------------------------------


def make_call(owner: User, *, created_at: datetime | None = None, **fields: Any) -> Call:
    values: dict[str, Any] = {"owner": owner, "to_number": HUMAN, "task": "Book a table for two at 7pm.",
                              "max_duration": 5, "status": CallStatus.QUEUED}
    values.update(fields)
    call = Call.objects.create(**values)
    if created_at is not None:  # auto_now_add: only an update can set it
        Call.objects.filter(pk=call.pk).update(created_at=created_at)
        call.refresh_from_db()
    return call


_fresh_numbers = itertools.cycle(range(160, 200))  # the simulator's "human answers" numbers


def place_call(provider: BlandClient, owner: User) -> Call:
    """A new call placed for real (``services.call_place``) through the ``provider`` fixture's client."""
    number = f"+1212555{next(_fresh_numbers):04d}"  # Bland refuses a second call to one number within 10 s
    return services.call_place(provider=provider, user=owner, to_number=number, task="Say hello.", max_duration=2)


def placed_call(owner: User, **fields: Any) -> Call:
    """Queued with the provider, its credits held: as ``services.call_place`` leaves a call."""
    call = make_call(owner, provider_call_id=f"sim-{uuid.uuid4()}", reserved_credits=5 * CPM, **fields)
    credits_reserve(user=owner, amount=call.reserved_credits, reference=call.credit_reference)
    return call


def bland_details(call: Call, *, status: str = "completed", answered_by: str | None = "human", seconds: int = 45,
                  price: float | None = 0.25) -> dict[str, Any]:
    """Bland's call-details object (GET /v1/calls/{id}, also the post-call webhook body)."""
    connected = status == "completed"
    return {
        "call_id": call.provider_call_id, "c_id": call.provider_call_id, "to": call.to_number,
        "from": "+14155550100", "completed": True, "queue_status": "complete", "status": status,
        "corrected_duration": str(seconds), "call_length": round(seconds / 60, 4), "answered_by": answered_by,
        "price": price, "summary": "The restaurant booked the table." if connected else None,
        "started_at": "2026-10-01T10:00:03Z" if connected else None, "end_at": "2026-10-01T10:00:48Z",
        "call_ended_by": "ASSISTANT", "disposition_tag": "COMPLETED_ACTION" if connected else "NO_CONTACT_MADE",
        "record": False, "recording_url": None, "metadata": {}, "request_data": {}, "inbound": False,
        "transcripts": [
            {"id": 1, "created_at": "2026-10-01T10:00:04Z", "text": "Hello! A table for two at 7pm?",
             "user": "assistant"},
            {"id": 2, "created_at": "2026-10-01T10:00:06Z", "text": "Yes, booked.", "user": "user"},
        ] if connected else [],
    }


def finish(call: Call, **details: Any) -> Call:
    """The provider reports the end of the call, through the one write path (settles credits, notifies)."""
    updated = services.call_apply_provider_update(update=BlandClient.parse_call(bland_details(call, **details)),
                                                  source="webhook")
    assert updated is not None
    return updated


def with_recording(call: Call, content: bytes = WAV) -> Call:
    call.recording_file.save(f"{call.id}.wav", ContentFile(content), save=False)
    call.record = True
    call.recording_content_type = "audio/wav"
    call.recording_bytes = len(content)
    call.save(update_fields=["recording_file", "record", "recording_content_type", "recording_bytes"])
    return call


def backdate_ledger(call: Call, when: datetime) -> None:
    """Put the credit movements of a call at ``when`` (the ledger is append-only for the app, not for tests)."""
    CreditLedgerEntry.objects.filter(reference=call.credit_reference).update(created_at=when)


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00")


# --- protocol helpers ------------------------------------------------------------------------------


def walk(client: McpClient, method: str, key: str) -> list[dict[str, Any]]:
    return [item for page in walk_pages(client, method, key) for item in page]


def read(client: McpClient, uri: str) -> dict[str, Any]:
    contents = result_of(client.request("resources/read", {"uri": uri}))["contents"]
    assert len(contents) == 1, contents
    assert contents[0]["uri"] == uri
    return contents[0]


def read_json(client: McpClient, uri: str) -> Any:
    content = read(client, uri)
    assert content["mimeType"] == "application/json"
    return json.loads(content["text"])


def read_error(client: McpClient, uri: str) -> dict[str, Any]:
    return error_of(client.request("resources/read", {"uri": uri}))


def history(**params: Any) -> str:
    """A URI of the history template, expanded as RFC 6570 does (values percent-encoded)."""
    return "calls://history?" + urlencode(params, quote_via=quote, safe="")


def usage(**params: Any) -> str:
    return "credits://usage?" + urlencode(params, quote_via=quote, safe="")


def complete(client: McpClient, ref: dict[str, Any], name: str, value: str) -> list[str]:
    params = {"ref": ref, "argument": {"name": name, "value": value}}
    return result_of(client.request("completion/complete", params))["completion"]["values"]


def template_ref(uri: str) -> dict[str, str]:
    return {"type": "ref/resource", "uri": uri}


def prompt_ref(name: str) -> dict[str, str]:
    return {"type": "ref/prompt", "name": name}


def newest_first(calls: list[Call]) -> list[str]:
    return [str(c.id) for c in sorted(calls, key=lambda c: (c.created_at, c.id), reverse=True)]


def updated_uris(client: McpClient, *, after: int = 0) -> list[str]:
    return [p["uri"] for p in client.notifications_of("notifications/resources/updated", after=after)]


def modern_meta() -> dict[str, Any]:
    return {PROTOCOL_VERSION_META_KEY: MODERN, CLIENT_CAPABILITIES_META_KEY: {}}


def modern_headers(token: str, method: str, name: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH, "Authorization": f"Bearer {token}",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def modern_request(http: httpx.Client, token: str, method: str, params: dict[str, Any] | None = None, *,
                   name: str | None = None) -> dict[str, Any]:
    """One stateless 2026-07-28 request (no handshake); the JSON-RPC answer, from JSON or SSE."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**(params or {}), "_meta": modern_meta()}}
    response = http.post(MCP_PATH, headers=modern_headers(token, method, name), json=body)
    if response.headers["Content-Type"].startswith("text/event-stream"):
        for event in iter_sse(iter(response.text.splitlines())):
            if event["data"] and json.loads(event["data"]).get("id") == 1:
                return json.loads(event["data"])
        raise AssertionError(f"{method}: the stream ended without an answer")
    return response.json()


# --- resources/list and resources/templates/list ---------------------------------------------------


def test_resources_and_templates_are_listed_with_descriptions_and_the_callers_latest_calls(connect, alice, bob):
    start = timezone.now() - timedelta(days=2)
    mine = [make_call(alice, created_at=start + timedelta(minutes=i), status=CallStatus.COMPLETED)
            for i in range(25)]
    theirs = [make_call(bob, created_at=start + timedelta(minutes=30 + i)) for i in range(3)]
    client = connect(alice)

    resources = walk(client, "resources/list", "resources")
    templates = {t["uriTemplate"]: t for t in walk(client, "resources/templates/list", "resourceTemplates")}

    by_uri = {r["uri"]: r for r in resources}
    for uri in ("calls://history", "credits://balance", "credits://usage", "users://me"):
        assert by_uri[uri]["name"], uri
        assert len(by_uri[uri]["description"]) > 20, uri
        assert by_uri[uri]["mimeType"] == "application/json", uri
    listed_calls = [r for r in resources if r["uri"].startswith("calls://") and r["uri"] != "calls://history"]
    assert [r["uri"] for r in listed_calls] == [f"calls://{i}" for i in newest_first(mine)[:20]]
    for resource in listed_calls:
        assert resource["name"] == f"Call to {HUMAN}"
        assert "completed" in resource["description"]
        assert resource["mimeType"] == "application/json"
    assert not {f"calls://{c.id}" for c in theirs} & set(by_uri)

    expected = {HISTORY_TEMPLATE: "application/json", "calls://{call_id}": "application/json",
                "calls://{call_id}/transcript": "text/plain", "calls://{call_id}/recording": None,
                USAGE_TEMPLATE: "application/json"}
    assert set(expected) <= set(templates)
    for uri_template, mime_type in expected.items():
        assert templates[uri_template]["name"], uri_template
        assert len(templates[uri_template]["description"]) > 20, uri_template
        assert templates[uri_template].get("mimeType") == mime_type, uri_template
    for word in ("status", "answered_by", "number", "since", "until", "limit", "cursor"):
        assert word in templates[HISTORY_TEMPLATE]["description"]
    assert "group_by" in templates[USAGE_TEMPLATE]["description"]

    # A token without credits:read neither lists nor reads the credit resources.
    narrow = connect(alice, scopes=["calls:read"])
    assert "calls://history" in {r["uri"] for r in walk(narrow, "resources/list", "resources")}
    assert not {"credits://balance", "credits://usage"} & {r["uri"] for r in walk(narrow, "resources/list",
                                                                                     "resources")}
    assert USAGE_TEMPLATE not in {t["uriTemplate"] for t in walk(narrow, "resources/templates/list",
                                                                  "resourceTemplates")}
    for uri in ("credits://balance", "credits://usage", usage(group_by="month")):
        assert read_error(narrow, uri)["code"] == RESOURCE_NOT_FOUND, uri


# --- reading each resource -------------------------------------------------------------------------


def test_call_history_is_a_json_page_and_its_template_filters_and_pages(connect, alice, bob):
    start = timezone.now() - timedelta(hours=3)
    recent = [make_call(alice, created_at=start + timedelta(minutes=i)) for i in range(18)]
    human = finish(placed_call(alice, created_at=at("2026-10-02")))
    voicemail = finish(placed_call(alice, to_number=OTHER_NUMBER, created_at=at("2026-10-03")),
                       answered_by="voicemail")
    failed = make_call(alice, status=CallStatus.FAILED, created_at=at("2026-10-04"))
    no_answer = make_call(alice, status=CallStatus.NO_ANSWER, answered_by="no-answer", created_at=at("2026-09-15"))
    everything = [*recent, human, voicemail, failed, no_answer]
    make_call(bob)
    client = connect(alice)

    first = read_json(client, "calls://history")
    assert first["total"] == 22
    assert [c["call_id"] for c in first["calls"]] == newest_first(everything)[:20]
    assert set(first["calls"][0]) >= {"call_id", "to", "status", "answered_by", "created_at", "duration_seconds",
                                      "cost_credits"}
    rest = read_json(client, history(cursor=first["next_cursor"]))
    assert [c["call_id"] for c in rest["calls"]] == newest_first(everything)[20:]
    assert rest["total"] == 22
    assert rest["next_cursor"] is None

    def ids(uri: str) -> list[str]:
        page = read_json(client, uri)
        assert page["total"] == len(page["calls"]), page
        return [c["call_id"] for c in page["calls"]]

    assert ids(history(status="completed")) == newest_first([human, voicemail])
    assert ids(history(status="completed,failed")) == newest_first([human, voicemail, failed])
    assert ids(history(answered_by="voicemail")) == [str(voicemail.id)]
    assert ids(history(answered_by="human,no-answer")) == newest_first([human, no_answer])
    assert ids(history(number=OTHER_NUMBER)) == [str(voicemail.id)]
    assert ids(history(since="2026-10-01T00:00:00+00:00", until="2026-10-04T00:00:00+00:00")) == newest_first(
        [human, voicemail])
    assert ids(history(since="2026-10-01", until="2026-10-04")) == newest_first([human, voicemail])
    assert ids(history(until="2026-10-01T00:00:00Z")) == [str(no_answer.id)]

    filters = {"status": "completed", "answered_by": "human,voicemail", "number": OTHER_NUMBER,
               "since": "2026-10-01", "until": "2026-10-31"}
    assert ids(history(**filters)) == [str(voicemail.id)]
    del filters["number"]
    page = read_json(client, history(**filters, limit=1))
    assert [c["call_id"] for c in page["calls"]] == [str(voicemail.id)]
    assert page["total"] == 2
    last = read_json(client, history(**filters, limit=1, cursor=page["next_cursor"]))
    assert [c["call_id"] for c in last["calls"]] == [str(human.id)]
    assert last["next_cursor"] is None


def test_a_number_filter_written_with_a_literal_plus_finds_the_calls_to_that_number(connect, alice):
    call = make_call(alice, to_number=OTHER_NUMBER)
    make_call(alice)

    page = read_json(connect(alice), f"calls://history?number={OTHER_NUMBER}")

    assert [c["call_id"] for c in page["calls"]] == [str(call.id)]


def test_a_call_reads_as_json_its_transcript_as_text_and_its_recording_as_base64_or_a_link(connect, alice, media):
    call = with_recording(finish(placed_call(alice), seconds=45, price=0.25))
    unrecorded = finish(placed_call(alice))
    client = connect(alice)

    details = read_json(client, f"calls://{call.id}")
    transcript = read(client, f"calls://{call.id}/transcript")
    recording = read(client, f"calls://{call.id}/recording")

    assert details["call_id"] == str(call.id)
    assert details["to"] == HUMAN
    assert details["status"] == "completed"
    assert details["answered_by"] == "human"
    assert details["duration_seconds"] == 45
    assert details["cost_credits"] == 25
    assert details["summary"] == "The restaurant booked the table."
    assert details["task"] == "Book a table for two at 7pm."
    assert details["has_transcript"] is True
    assert details["has_recording"] is True
    assert transcript["mimeType"] == "text/plain"
    assert transcript["text"] == "Agent: Hello! A table for two at 7pm?\nCallee: Yes, booked."
    assert recording["mimeType"] == "audio/wav"
    assert "text" not in recording
    assert base64.b64decode(recording["blob"]) == WAV

    # Too large to inline: a time-limited download link instead.
    media.RECORDING_INLINE_MAX_BYTES = 16
    link = read(client, f"calls://{call.id}/recording")
    assert link["mimeType"] == "application/json"
    body = json.loads(link["text"])
    assert f"/api/v1/calls/{call.id}/recording/download?token=" in body["url"]
    assert body["bytes"] == len(WAV)
    assert body["content_type"] == "audio/wav"
    assert datetime.fromisoformat(body["expires_at"]) > timezone.now()

    # Placed without record=true: the error says so.
    error = read_error(client, f"calls://{unrecorded.id}/recording")
    assert error["code"] == INVALID_PARAMS
    assert "record=true" in error["message"]
    assert error["data"]["uri"] == f"calls://{unrecorded.id}/recording"


def test_users_me_and_credits_balance_describe_the_caller(connect, alice):
    placed_call(alice)

    everything = read_json(connect(alice), "users://me")
    narrow = read_json(connect(alice, scopes=["calls:read"]), "users://me")
    balance = read_json(connect(alice), "credits://balance")

    assert everything["username"] == "res-alice"
    assert everything["email"] == "alice@example.com"
    assert everything["scopes"] == ["calls:read", "calls:write", "credits:read"]
    assert narrow["scopes"] == ["calls:read"]
    assert everything["plan"] == "standard"
    assert everything["limits"]["rate"] == settings.MCP_RATE_LIMITS
    assert everything["limits"]["credits_per_minute"] == CPM
    assert everything["limits"]["max_call_minutes"] == 720
    assert datetime.fromisoformat(everything["created"]) == alice.date_joined
    assert balance == {"available": 1_000 - 5 * CPM, "reserved": 5 * CPM, "total": 1_000,
                       "unit": "credit (1/100 USD)"}


# --- usage -----------------------------------------------------------------------------------------


@pytest.fixture
def spending(alice: User, bob: User) -> None:
    """Alice: two answered calls in September, three calls in October (one answered); Bob: one in September."""
    for owner, day, clock, outcome in [
        (alice, "2026-09-10", "12:00", {"seconds": 120, "price": 0.5}),
        (alice, "2026-09-20", "08:30", {"seconds": 45, "price": 0.25}),
        (alice, "2026-10-05", "09:00", {"status": "no-answer", "answered_by": "no-answer", "seconds": 0,
                                        "price": 0}),
        (alice, "2026-10-05", "18:00", {"status": "busy", "answered_by": None, "seconds": 0, "price": 0}),
        (alice, "2026-10-06", "23:59", {"seconds": 90, "price": 0.375}),
        (bob, "2026-09-10", "13:00", {"seconds": 600, "price": 0.5}),
    ]:
        call = finish(placed_call(owner, created_at=at(day, clock)), **outcome)
        backdate_ledger(call, at(day, clock) + timedelta(seconds=30))


SEPTEMBER = {"period": "2026-09", "spent_credits": 75, "minutes": 2.75, "calls": 2, "by_status": {"completed": 2}}
OCTOBER = {"period": "2026-10", "spent_credits": 38, "minutes": 1.5, "calls": 3,
           "by_status": {"no_answer": 1, "busy": 1, "completed": 1}}
TOTALS = {"spent_credits": 113, "minutes": 4.25, "calls": 5, "by_status": {"completed": 3, "no_answer": 1, "busy": 1}}
DAYS = [
    {"period": "2026-09-10", "spent_credits": 50, "minutes": 2.0, "calls": 1, "by_status": {"completed": 1}},
    {"period": "2026-09-20", "spent_credits": 25, "minutes": 0.75, "calls": 1, "by_status": {"completed": 1}},
    {"period": "2026-10-05", "spent_credits": 0, "minutes": 0.0, "calls": 2, "by_status": {"no_answer": 1, "busy": 1}},
    {"period": "2026-10-06", "spent_credits": 38, "minutes": 1.5, "calls": 1, "by_status": {"completed": 1}},
]


def test_usage_sums_ledger_spend_minutes_and_calls_by_status_per_month_and_day_like_the_rest_api(
        connect, alice, spending):
    today = finish(placed_call(alice), seconds=60, price=0.25)
    client = connect(alice)

    month = read_json(client, usage(since="2026-09-01T00:00:00+00:00", until="2026-11-01T00:00:00+00:00",
                                    group_by="month"))
    day = read_json(client, usage(since="2026-09-01", until="2026-11-01", group_by="day"))
    default = read_json(client, "credits://usage")

    assert (month["group_by"], month["since"], month["until"]) == (
        "month", "2026-09-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00")
    assert month["periods"] == [SEPTEMBER, OCTOBER]
    assert month["totals"] == TOTALS
    assert day["periods"] == DAYS
    assert day["totals"] == TOTALS
    # Without a range: the last 30 days, per day (only today's call).
    assert default["group_by"] == "day"
    until = datetime.fromisoformat(default["until"])
    assert abs(until - timezone.now()) < timedelta(minutes=1)
    assert until - datetime.fromisoformat(default["since"]) == timedelta(days=30)
    assert default["periods"] == [{"period": f"{today.created_at:%Y-%m-%d}", "spent_credits": 25, "minutes": 1.0,
                                   "calls": 1, "by_status": {"completed": 1}}]

    # GET /api/v1/credits/usage/ (scope credits:read) reports the same numbers.
    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for_user(user=alice)}")
    for group_by, resource in (("month", month), ("day", day)):
        response = rest.get("/api/v1/credits/usage/", {"since": "2026-09-01T00:00:00Z",
                                                       "until": "2026-11-01T00:00:00Z", "group_by": group_by})
        assert response.status_code == 200, response.content
        assert response.json() == resource
    assert rest.get("/api/v1/credits/usage/", {"group_by": "year"}).status_code == 400
    no_credits = APIClient()
    no_credits.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for_user(user=alice, scopes=['calls:read'])}")
    assert no_credits.get("/api/v1/credits/usage/").status_code == 403


# --- completion ------------------------------------------------------------------------------------


def test_completion_offers_argument_values_and_only_the_callers_own_call_ids(connect, alice, bob):
    start = timezone.now() - timedelta(hours=1)
    mine = [make_call(alice, created_at=start + timedelta(minutes=i)) for i in range(3)]
    theirs = [make_call(bob, created_at=start + timedelta(minutes=10 + i)) for i in range(3)]
    client = connect(alice)

    assert complete(client, template_ref(HISTORY_TEMPLATE), "status", "") == list(CallStatus.values)
    assert complete(client, template_ref(HISTORY_TEMPLATE), "status", "c") == ["completed", "canceled"]
    assert complete(client, template_ref(HISTORY_TEMPLATE), "answered_by", "") == [
        "human", "voicemail", "no-answer", "unknown"]
    assert complete(client, template_ref(HISTORY_TEMPLATE), "answered_by", "v") == ["voicemail"]
    assert complete(client, template_ref(USAGE_TEMPLATE), "group_by", "") == ["day", "month"]
    assert complete(client, template_ref(USAGE_TEMPLATE), "group_by", "m") == ["month"]
    assert complete(client, prompt_ref("plan_call"), "tone", "f") == ["friendly", "formal"]
    assert complete(client, prompt_ref("plan_call"), "tone", "") == ["friendly", "formal", "brief", "warm",
                                                                      "assertive"]
    assert complete(client, prompt_ref("plan_call"), "goal", "book") == []
    assert complete(client, prompt_ref("spending_report"), "period", "") == ["day", "week", "month"]
    assert complete(client, prompt_ref("spending_report"), "period", "w") == ["week"]

    for ref in [*(template_ref(t) for t in CALL_TEMPLATES), prompt_ref("review_call")]:
        assert complete(client, ref, "call_id", "") == newest_first(mine), ref
        assert complete(client, ref, "call_id", str(mine[0].id)[:8]) == [str(mine[0].id)], ref
        for call in theirs:
            assert complete(client, ref, "call_id", str(call.id)[:8]) == [], ref
            assert complete(client, ref, "call_id", str(call.id)) == [], ref


# --- paging ----------------------------------------------------------------------------------------


def test_paging_through_1000_calls_while_new_calls_arrive_gives_each_call_exactly_once(connect, alice):
    base = timezone.now() - timedelta(days=1)
    Call.objects.bulk_create([Call(owner=alice, to_number=HUMAN, max_duration=5, status=CallStatus.COMPLETED)
                              for _ in range(1_000)])
    ids = list(Call.objects.filter(owner=alice).values_list("id", flat=True))
    for group in range(10):  # ten runs of 100 calls sharing one timestamp: the id breaks the ties
        Call.objects.filter(id__in=ids[group::10]).update(created_at=base - timedelta(minutes=group, microseconds=7))
    expected = newest_first(list(Call.objects.filter(owner=alice)))
    client = connect(alice)

    seen: list[str] = []
    cursor = None
    for _ in range(40):
        page = read_json(client, history(limit=37, **({"cursor": cursor} if cursor else {})))
        seen.extend(c["call_id"] for c in page["calls"])
        assert page["total"] == 1_000  # the total as the walk began: new calls stay out of later pages
        make_call(alice, status=CallStatus.QUEUED)  # a new call arrives between two pages
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 1_000
    assert seen == expected


# --- subscriptions (2025-11-25 sessions: WebSocket, Streamable HTTP GET stream) --------------------


def test_subscribers_hear_when_their_call_ends_and_when_it_moves_their_balance(connect, alice):
    call, other = placed_call(alice), placed_call(alice)
    client = connect(alice)
    client.listen()
    for uri in (f"calls://{call.id}", "credits://balance"):
        assert result_of(client.request("resources/subscribe", {"uri": uri})) == {}

    finish(call)

    client.wait_notification("notifications/resources/updated", lambda p: p["uri"] == "credits://balance")
    assert updated_uris(client) == [f"calls://{call.id}", "credits://balance"]
    assert read_json(client, f"calls://{call.id}")["status"] == "completed"
    assert read_json(client, "credits://balance")["reserved"] == 5 * CPM  # only the other call's hold is left

    mark = len(client.notifications)
    finish(other, status="busy", answered_by=None)  # not subscribed to this call: only the balance is news
    client.wait_notification("notifications/resources/updated", lambda p: p["uri"] == "credits://balance",
                             after=mark)
    assert updated_uris(client, after=mark) == ["credits://balance"]


def test_a_new_call_announces_list_changed_to_its_owner_and_nothing_to_anyone_else(connect, alice, bob, provider):
    bob_call = placed_call(bob)
    owner, watcher = connect(alice), connect(bob)
    for client, uris in ((owner, ["calls://history"]),
                         (watcher, ["calls://history", "credits://balance", f"calls://{bob_call.id}"])):
        client.listen()
        for uri in uris:
            assert result_of(client.request("resources/subscribe", {"uri": uri})) == {}

    call = place_call(provider, alice)

    owner.wait_notification("notifications/resources/list_changed")
    owner.wait_notification("notifications/resources/updated", lambda p: p["uri"] == "calls://history")
    assert f"calls://{call.id}" in [r["uri"] for r in walk(owner, "resources/list", "resources")]
    assert read_json(owner, "calls://history")["calls"][0]["call_id"] == str(call.id)

    finish(call)
    finish(bob_call)  # published last: once Bob has it, anything of Alice's would have reached him too
    watcher.wait_notification("notifications/resources/updated", lambda p: p["uri"] == "credits://balance")
    assert updated_uris(watcher) == [f"calls://{bob_call.id}", "credits://balance"]
    assert watcher.notifications_of("notifications/resources/list_changed") == []


def test_subscribing_to_another_users_call_is_resource_not_found(connect, alice, bob):
    theirs = placed_call(bob)
    client = connect(alice)

    for uri in (f"calls://{theirs.id}", f"calls://{theirs.id}/transcript"):
        error = error_of(client.request("resources/subscribe", {"uri": uri}))
        assert error["code"] == RESOURCE_NOT_FOUND, uri
        assert error["data"]["uri"] == uri


def test_a_credit_grant_notifies_balance_subscribers(connect, alice):
    client = connect(alice)
    client.listen()
    assert result_of(client.request("resources/subscribe", {"uri": "credits://balance"})) == {}

    credits_grant(user=alice, amount=500, memo="top-up")

    client.wait_notification("notifications/resources/updated", lambda p: p["uri"] == "credits://balance",
                             timeout=2)
    assert read_json(client, "credits://balance")["available"] == 1_500


# --- isolation -------------------------------------------------------------------------------------


def test_each_user_reads_only_their_own_calls_balance_profile_and_usage(connect, alice, bob, make_user, media):
    mine = finish(placed_call(alice), price=0.25)
    theirs = with_recording(finish(placed_call(bob, to_number=OTHER_NUMBER), price=0.5))
    client = connect(alice)

    for uri in (f"calls://{theirs.id}", f"calls://{theirs.id}/transcript", f"calls://{theirs.id}/recording"):
        error = read_error(client, uri)
        assert error["code"] == RESOURCE_NOT_FOUND, uri
        assert error["data"]["uri"] == uri
        assert "not found" in error["message"].lower()
        assert OTHER_NUMBER not in json.dumps(error)

    listed = read_json(client, "calls://history")
    filtered = read_json(client, history(status="completed", limit=100))
    assert [c["call_id"] for c in listed["calls"]] == [str(mine.id)]
    assert [c["call_id"] for c in filtered["calls"]] == [str(mine.id)]
    assert read_json(client, "credits://balance") == {"available": 975, "reserved": 0, "total": 975,
                                                      "unit": "credit (1/100 USD)"}
    assert read_json(client, "users://me")["username"] == "res-alice"
    assert read_json(client, "credits://usage")["totals"] == {"spent_credits": 25, "minutes": 0.75, "calls": 1,
                                                              "by_status": {"completed": 1}}

    # Staff may read anyone's call, but their history and completions are their own.
    staff = connect(_fresh(make_user("res-staff", is_staff=True)))
    assert read_json(staff, f"calls://{theirs.id}")["call_id"] == str(theirs.id)
    assert complete(staff, template_ref("calls://{call_id}"), "call_id", "") == []
    assert read_json(staff, "calls://history")["total"] == 0


# --- caching ---------------------------------------------------------------------------------------


def test_cached_balance_and_history_are_fresh_after_every_change_and_never_shared(connect, alice, bob, provider):
    theirs = make_call(bob)
    client, other = connect(alice), connect(bob)
    for _ in range(2):  # the second round is served from the cache
        assert read_json(client, "credits://balance")["available"] == 1_000
        assert read_json(client, "calls://history") == {"calls": [], "total": 0, "next_cursor": None}
        assert read_json(other, "credits://balance")["available"] == 250
        assert [c["call_id"] for c in read_json(other, "calls://history")["calls"]] == [str(theirs.id)]

    credits_grant(user=alice, amount=500, memo="top-up")
    assert read_json(client, "credits://balance") == {"available": 1_500, "reserved": 0, "total": 1_500,
                                                      "unit": "credit (1/100 USD)"}
    assert read_json(other, "credits://balance")["available"] == 250

    call = place_call(provider, alice)
    page = read_json(client, "calls://history")
    assert [(c["call_id"], c["status"]) for c in page["calls"]] == [(str(call.id), "queued")]
    assert read_json(client, "credits://balance") == {"available": 1_500 - 2 * CPM, "reserved": 2 * CPM,
                                                      "total": 1_500, "unit": "credit (1/100 USD)"}
    assert [c["call_id"] for c in read_json(other, "calls://history")["calls"]] == [str(theirs.id)]

    finish(call, seconds=60, price=0.25)
    assert read_json(client, "calls://history")["calls"][0]["status"] == "completed"
    assert read_json(client, "credits://balance") == {"available": 1_475, "reserved": 0, "total": 1_475,
                                                      "unit": "credit (1/100 USD)"}
    assert read_json(other, "credits://balance")["available"] == 250


# --- bad URIs and template values ------------------------------------------------------------------


def test_bad_uris_and_template_values_are_refused_with_a_clear_message(connect, alice):
    client = connect(alice)
    cases = {
        "ftp://example.com/calls": (RESOURCE_NOT_FOUND, "Resource not found"),
        "calls://not-a-uuid": (RESOURCE_NOT_FOUND, "Resource not found"),
        "calls://not-a-uuid/transcript": (RESOURCE_NOT_FOUND, "Resource not found"),
        f"calls://{uuid.uuid4()}": (RESOURCE_NOT_FOUND, "Resource not found"),
        "users://someone-else": (RESOURCE_NOT_FOUND, "Resource not found"),
        history(status="bogus"): (INVALID_PARAMS, "status: must be one of: pending"),
        history(answered_by="robot"): (INVALID_PARAMS, "answered_by: must be one of: human, voicemail"),
        history(limit=0): (INVALID_PARAMS, "limit: must be at least 1"),
        history(limit=101): (INVALID_PARAMS, "limit: must be at most 100"),
        history(limit="ten"): (INVALID_PARAMS, "limit: must be a whole number"),
        history(since="garbage"): (INVALID_PARAMS, "since: must be an ISO 8601"),
        history(until="31/12/2026"): (INVALID_PARAMS, "until: must be an ISO 8601"),
        history(cursor="garbage"): (INVALID_PARAMS, "Invalid cursor"),
        history(number="12125550100"): (INVALID_PARAMS, "E.164"),
        usage(group_by="year"): (INVALID_PARAMS, "group_by must be one of day, month"),
        usage(since="garbage"): (INVALID_PARAMS, "since must be an ISO 8601"),
        usage(since="2026-10-02", until="2026-10-01"): (INVALID_PARAMS, "since must be before until"),
        usage(since="2020-01-01", until="2026-01-01"): (INVALID_PARAMS, "at most three years"),
    }

    wrong = {}
    for uri, (code, explanation) in cases.items():
        error = read_error(client, uri)
        if error["code"] != code or explanation not in error["message"]:
            wrong[uri] = (error["code"], error["message"])
        elif code == RESOURCE_NOT_FOUND:
            assert error["data"]["uri"] == uri

    assert wrong == {}


# --- prompts ---------------------------------------------------------------------------------------


def test_prompts_are_described_and_fill_in_goals_call_details_transcripts_and_periods(connect, alice):
    call = finish(placed_call(alice))
    client = connect(alice)

    prompts = {p["name"]: p for p in walk(client, "prompts/list", "prompts")}
    assert {"plan_call", "review_call", "spending_report"} <= set(prompts)
    for name in ("plan_call", "review_call", "spending_report"):
        assert len(prompts[name]["description"]) > 20, name
        for argument in prompts[name]["arguments"]:
            assert len(argument["description"]) > 5, (name, argument)
    required = {name: [a["name"] for a in prompts[name]["arguments"] if a["required"]]
                for name in ("plan_call", "review_call", "spending_report")}
    assert required == {"plan_call": ["goal"], "review_call": ["call_id"], "spending_report": []}
    assert [a["name"] for a in prompts["plan_call"]["arguments"]] == ["goal", "callee", "tone", "language"]

    plan = result_of(client.request("prompts/get", {"name": "plan_call", "arguments": {
        "goal": "book a table for 4 at 7pm Friday", "callee": "a restaurant", "tone": "formal"}}))
    (message,) = plan["messages"]
    assert message["role"] == "user"
    for expected in ("book a table for 4 at 7pm Friday", "a restaurant", "Tone: formal", "makePhoneCall"):
        assert expected in message["content"]["text"]

    review = result_of(client.request("prompts/get", {"name": "review_call", "arguments": {"call_id": str(call.id)}}))
    details, transcript, instruction = review["messages"]
    assert details["content"]["type"] == "resource"
    assert details["content"]["resource"]["uri"] == f"calls://{call.id}"
    assert json.loads(details["content"]["resource"]["text"])["summary"] == "The restaurant booked the table."
    assert transcript["content"]["resource"]["uri"] == f"calls://{call.id}/transcript"
    assert transcript["content"]["resource"]["mimeType"] == "text/plain"
    assert transcript["content"]["resource"]["text"] == "Agent: Hello! A table for two at 7pm?\nCallee: Yes, booked."
    assert "Review this call" in instruction["content"]["text"]

    week = result_of(client.request("prompts/get", {"name": "spending_report", "arguments": {"period": "week"}}))
    default = result_of(client.request("prompts/get", {"name": "spending_report"}))
    assert "last week" in week["messages"][0]["content"]["text"]
    assert "credits://usage?group_by=day" in week["messages"][0]["content"]["text"]
    assert "credits://usage?group_by=month" in default["messages"][0]["content"]["text"]
    assert "credits://balance" in default["messages"][0]["content"]["text"]


def test_prompts_refuse_another_users_call_and_missing_required_arguments(connect, alice, bob):
    theirs = finish(placed_call(bob, to_number=OTHER_NUMBER))
    client = connect(alice)

    error = error_of(client.request("prompts/get", {"name": "review_call", "arguments": {"call_id": str(theirs.id)}}))
    assert error["code"] == INVALID_PARAMS
    assert "not found" in error["message"]
    assert OTHER_NUMBER not in json.dumps(error)
    assert "booked" not in json.dumps(error)

    for name, arguments in (("plan_call", {"tone": "warm"}), ("review_call", {})):
        error = error_of(client.request("prompts/get", {"name": name, "arguments": arguments}))
        assert error["code"] == INVALID_PARAMS, name
        assert "Missing required argument" in error["message"], name


# --- 2026-07-28: stateless requests over raw HTTP --------------------------------------------------


def test_on_2026_07_28_results_are_private_and_another_users_call_is_invalid_params(mcp_server, alice, bob, media):
    call = with_recording(finish(placed_call(alice)))
    theirs = placed_call(bob)
    token = token_for_user(user=alice)
    uris = ["calls://history", history(status="completed"), f"calls://{call.id}", f"calls://{call.id}/transcript",
            f"calls://{call.id}/recording", "users://me", "credits://balance", "credits://usage",
            usage(group_by="month")]

    with httpx.Client(base_url=mcp_server, timeout=WAIT, trust_env=False) as http:
        answers = {method: modern_request(http, token, method) for method in
                   ("resources/list", "resources/templates/list", "prompts/list")}
        answers |= {uri: modern_request(http, token, "resources/read", {"uri": uri}, name=uri) for uri in uris}
        refusals = {uri: modern_request(http, token, "resources/read", {"uri": uri}, name=uri) for uri in (
            f"calls://{theirs.id}", f"calls://{theirs.id}/transcript", f"calls://{theirs.id}/recording",
            "calls://not-a-uuid")}
        completion = result_of(modern_request(http, token, "completion/complete", {
            "ref": template_ref("calls://{call_id}"), "argument": {"name": "call_id", "value": ""}}))

    for what, answer in answers.items():
        result = result_of(answer)
        assert result["resultType"] == "complete", what
        assert isinstance(result["ttlMs"], int), what
        assert result["ttlMs"] >= 0, what
        assert result["cacheScope"] == "private", what
    assert f"calls://{call.id}" in {r["uri"] for r in result_of(answers["resources/list"])["resources"]}
    assert base64.b64decode(result_of(answers[f"calls://{call.id}/recording"])["contents"][0]["blob"]) == WAV
    for uri, answer in refusals.items():
        assert error_of(answer)["code"] == INVALID_PARAMS, uri
        assert error_of(answer)["data"]["uri"] == uri
    assert completion["completion"]["values"] == [str(call.id)]


def test_subscriptions_listen_on_a_raw_post_stream_delivers_call_and_balance_updates(mcp_server, alice):
    call, other = placed_call(alice), placed_call(alice)
    token = token_for_user(user=alice)
    wanted = [f"calls://{call.id}", "credits://balance"]
    body = {"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen", "params": {
        "notifications": {"resourcesListChanged": True, "resourceSubscriptions": wanted}, "_meta": modern_meta()}}

    with (
        httpx.Client(base_url=mcp_server, timeout=httpx.Timeout(WAIT, read=5), trust_env=False) as http,
        http.stream("POST", MCP_PATH, headers=modern_headers(token, "subscriptions/listen"), json=body) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        messages = (json.loads(event["data"]) for event in iter_sse(stream.iter_lines()) if event["data"])
        acknowledged = next(messages)
        finish(call)
        finish(other, status="no-answer", answered_by="no-answer")
        received = [next(messages) for _ in range(3)]

    assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
    assert acknowledged["params"]["notifications"] == {"resourcesListChanged": True, "resourceSubscriptions": wanted}
    assert acknowledged["params"]["_meta"][SUBSCRIPTION_ID] == "listen-1"
    assert [(m["method"], m["params"]["uri"]) for m in received] == [
        ("notifications/resources/updated", f"calls://{call.id}"),
        ("notifications/resources/updated", "credits://balance"),
        ("notifications/resources/updated", "credits://balance"),  # the other call is not watched
    ]
    assert all(m["params"]["_meta"][SUBSCRIPTION_ID] == "listen-1" for m in received)


# --- the official SDK client -----------------------------------------------------------------------


@asynccontextmanager
async def sdk_client(base_url: str, user: User, **options: Any) -> AsyncIterator[Client]:
    token = await run_sync(lambda: token_for_user(user=user))
    async with streamable_client(base_url, token, **options) as client:
        yield client


@pytest.fixture
def recorded_call(alice: User, media) -> Call:  # noqa: ANN001
    return with_recording(finish(placed_call(alice)))


async def _read_every_resource(client: Client, call: Call) -> None:
    listed = await client.list_resources()
    uris = {r.uri: r for r in listed.resources}
    assert uris["credits://balance"].mime_type == "application/json"
    assert uris["credits://balance"].description
    assert f"calls://{call.id}" in uris
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert {HISTORY_TEMPLATE, USAGE_TEMPLATE, *CALL_TEMPLATES} <= templates

    page = json.loads((await client.read_resource("calls://history")).contents[0].text)
    assert [c["call_id"] for c in page["calls"]] == [str(call.id)]
    filtered = json.loads((await client.read_resource(history(status="completed", limit=5))).contents[0].text)
    assert filtered["total"] == 1
    details = json.loads((await client.read_resource(f"calls://{call.id}")).contents[0].text)
    assert details["status"] == "completed"
    (transcript,) = (await client.read_resource(f"calls://{call.id}/transcript")).contents
    assert isinstance(transcript, types.TextResourceContents)
    assert transcript.mime_type == "text/plain"
    assert transcript.text.startswith("Agent: Hello!")
    (recording,) = (await client.read_resource(f"calls://{call.id}/recording")).contents
    assert isinstance(recording, types.BlobResourceContents)
    assert recording.mime_type == "audio/wav"
    assert base64.b64decode(recording.blob) == WAV
    assert json.loads((await client.read_resource("users://me")).contents[0].text)["username"] == "res-alice"
    balance = json.loads((await client.read_resource("credits://balance")).contents[0].text)
    assert balance["available"] == 1_000 - 25
    report = json.loads((await client.read_resource(usage(group_by="month"))).contents[0].text)
    assert report["totals"]["spent_credits"] == 25

    completion = await client.complete(types.ResourceTemplateReference(type="ref/resource", uri="calls://{call_id}"),
                                       {"name": "call_id", "value": ""})
    assert completion.completion.values == [str(call.id)]
    statuses = await client.complete(types.ResourceTemplateReference(type="ref/resource", uri=HISTORY_TEMPLATE),
                                     {"name": "status", "value": "no"})
    assert statuses.completion.values == ["no_answer"]
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert prompts["review_call"].arguments[0].description
    review = await client.get_prompt("review_call", {"call_id": str(call.id)})
    assert isinstance(review.messages[0].content, types.EmbeddedResource)
    assert review.messages[0].content.resource.uri == f"calls://{call.id}"


@pytest.mark.anyio
async def test_sdk_client_on_2025_11_25_reads_every_resource_and_hears_its_subscriptions(
        mcp_server, recorded_call, bob):
    alice = recorded_call.owner
    theirs = await run_sync(lambda: placed_call(bob))
    inbox = Inbox()
    async with sdk_client(mcp_server, alice, mode="legacy", message_handler=inbox.message_handler) as client:
        assert client.protocol_version == "2025-11-25"
        with anyio.fail_after(WAIT):
            await _read_every_resource(client, recorded_call)
            with pytest.raises(MCPError) as refused:
                await client.read_resource(f"calls://{theirs.id}")
            call = await run_sync(lambda: placed_call(alice))
            for uri in (f"calls://{call.id}", "credits://balance", "calls://history"):
                with pytest.warns(MCPDeprecationWarning):
                    await client.subscribe_resource(uri)
            # The SDK opens its GET stream on its own, with no signal when it is live: publish until one arrives.
            while "calls://history" not in inbox.updated_uris():
                await run_sync(lambda: notify.resource_updated(user_id=alice.pk, uri="calls://history"))
                await inbox.wait_changed(0.25)
            await run_sync(lambda: finish(call))
            while not {f"calls://{call.id}", "credits://balance"} <= set(inbox.updated_uris()):
                await inbox.wait_changed(0.25)
            details = json.loads((await client.read_resource(f"calls://{call.id}")).contents[0].text)
    assert refused.value.code == RESOURCE_NOT_FOUND
    assert refused.value.data["uri"] == f"calls://{theirs.id}"
    assert details["status"] == "completed"


@pytest.mark.anyio
async def test_sdk_client_on_2026_07_28_reads_every_resource_and_listens_for_changes(
        mcp_server, recorded_call, bob, provider):
    alice = recorded_call.owner
    theirs = await run_sync(lambda: placed_call(bob))
    async with sdk_client(mcp_server, alice, mode=MODERN) as client:
        assert client.protocol_version == MODERN
        with anyio.fail_after(WAIT):
            await _read_every_resource(client, recorded_call)
            listed = await client.list_resources(cache_mode="bypass")
            read = await client.read_resource("credits://balance", cache_mode="bypass")
            with pytest.raises(MCPError) as refused:
                await client.read_resource(f"calls://{theirs.id}")
            call = await run_sync(lambda: placed_call(alice))
            wanted = [f"calls://{call.id}", "credits://balance"]
            async with client.listen(resource_subscriptions=wanted, resources_list_changed=True) as subscription:
                assert subscription.honored.resource_subscriptions == wanted
                assert subscription.honored.resources_list_changed is True
                await run_sync(lambda: finish(call))
                events = [await anext(aiter(subscription)), await anext(aiter(subscription))]
                await run_sync(lambda: place_call(provider, alice))
                # placing holds credits (the balance changes) and adds a call to the list
                after_placing = [await anext(aiter(subscription)), await anext(aiter(subscription))]
    assert listed.cache_scope == "private"
    assert read.cache_scope == "private"
    assert read.ttl_ms is not None
    assert refused.value.code == INVALID_PARAMS
    assert refused.value.data["uri"] == f"calls://{theirs.id}"
    assert events == [ResourceUpdated(uri=f"calls://{call.id}"), ResourceUpdated(uri="credits://balance")]
    assert sorted(map(repr, after_placing)) == sorted(
        map(repr, [ResourceUpdated(uri="credits://balance"), ResourcesListChanged()])
    )


# --- two processes (PostgreSQL + Redis) ------------------------------------------------------------

B_SECRET = "process-b-webhook-secret"


@pytest.fixture
def process_b(live_db, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A second server process on the test database and Redis; its base URL once /healthz answers."""
    with server_processes(["B"], tmp_path, env={"BLAND_WEBHOOK_SECRET": B_SECRET}) as (b,):
        yield b.url


def _post_webhook(url: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(f"{url}/api/v1/webhooks/bland", content=body, timeout=WAIT, headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: signature_for(B_SECRET, body)})


@pytest.mark.postgres
@pytest.mark.redis
def test_a_subscription_receives_an_update_within_one_second_of_a_webhook_on_another_process(
        mcp_server, process_b, alice):
    call = placed_call(alice)
    subscriber = HttpMcp(mcp_server, token_for_user(user=alice))  # process A: the live server of this process
    try:
        assert "result" in subscriber.initialize()
        assert result_of(subscriber.request("resources/subscribe", {"uri": f"calls://{call.id}"})) == {}
        subscriber.listen()
        warm_up = _post_webhook(process_b, {**bland_details(call), "call_id": "unknown", "c_id": "unknown"})
        assert warm_up.status_code == 200, warm_up.text

        posted = time.monotonic()
        response = _post_webhook(process_b, bland_details(call))
        try:
            subscriber.wait_notification("notifications/resources/updated",
                                         lambda p: p["uri"] == f"calls://{call.id}", timeout=1.0)
        except McpTimeout:
            pytest.fail("no notifications/resources/updated on process A within 1 s of the webhook on process B")
        elapsed = time.monotonic() - posted
    finally:
        subscriber.close()

    assert response.status_code == 200, response.text
    assert elapsed < 1.0
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
