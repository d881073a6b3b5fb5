"""The six call tools end to end, as an AI agent uses them: over MCP, against the live server.

Each test talks to the live uvicorn server through the official ``mcp`` SDK client (Streamable HTTP) or
the WebSocket test client, and the server talks to the Bland simulator over HTTP: the only fake is the
phone provider, at its HTTP boundary. The simulator's clock is frozen; tests move it with
``/_sim/advance`` (from makePhoneCall's own progress notifications when it waits), and its signed
post-call webhooks reach the live server. Every wait is bounded.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
import uuid
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from anyio.to_thread import run_sync
from django.db.models import Sum
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from calls.models import Call
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import (
    BUSY,
    FAILED,
    HUMAN,
    NO_ANSWER,
    VOICEMAIL,
    sign,
    sim_advance,
    sim_details,
    sim_faults,
    sim_state,
)
from tests.mcp.clients import WsMcp
from users.models import CreditAccount, CreditLedgerEntry, User
from users.services import token_for_user

LONG = "+12125550150"
MCP_PATH = "/api/v1/mcp"
WAIT = 15  # seconds: the bound on every wait in this module
TASK = "Book a table for two at 7 pm tonight. Confirm the booking name is Alice."
RATE = 14  # credits per minute (settings.CALL_CREDITS_PER_MINUTE)
DEFAULT_HOLD = 10 * RATE  # makePhoneCall reserves max_duration (default 10 minutes) x the rate
GRANTED = 1_000  # mcp_user's credits


# --- one tool-calling interface over two transports -------------------------------------------------------

Progress = Callable[[float, "float | None", "str | None"], None]


@dataclass(frozen=True)
class Answer:
    """A tools/call result as the agent sees it, whatever the transport."""

    is_error: bool
    structured: dict[str, Any] | None
    content: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return next(item["text"] for item in self.content if item["type"] == "text")


@asynccontextmanager
async def sdk_client(base_url: str, token: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(WAIT, read=60))
    async with http, Client(streamable_http_client(f"{base_url}{MCP_PATH}", http_client=http), mode="legacy") as client:
        yield client


class SdkTools:
    """The official SDK client over Streamable HTTP; a session per call, as a short-lived agent run."""

    transport = "http"

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def call(self, name: str, arguments: dict[str, Any] | None = None, *, progress: Progress | None = None) -> Answer:
        return anyio.run(self._call, name, arguments or {}, progress)

    async def _call(self, name: str, arguments: dict[str, Any], progress: Progress | None) -> Answer:
        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            assert progress is not None
            await run_sync(progress, value, total, message)

        async with sdk_client(self.base_url, self.token) as client:
            with anyio.fail_after(WAIT):
                result = await client.call_tool(name, arguments, progress_callback=on_progress if progress else None)
        content = [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in result.content]
        return Answer(bool(result.is_error), result.structured_content, content)

    def close(self) -> None:
        pass


class WsTools:
    """The WebSocket test client: one initialized connection for the whole test."""

    transport = "websocket"

    def __init__(self, base_url: str, token: str) -> None:
        self.client = WsMcp(base_url, token, timeout=WAIT)
        assert "result" in self.client.initialize()

    def call(self, name: str, arguments: dict[str, Any] | None = None, *, progress: Progress | None = None) -> Answer:
        params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
        token = uuid.uuid4().hex
        if progress is not None:
            params["_meta"] = {"progressToken": token}
        request_id = self.client.start("tools/call", params)

        def updates() -> list[dict[str, Any]]:
            return [p for p in self.client.notifications_of("notifications/progress")
                    if p.get("progressToken") == token]

        handled: list[dict[str, Any]] = []
        while not self.client.has_response(request_id):
            arrived = self.client.wait_until(
                lambda: self.client.has_response(request_id) or len(updates()) > len(handled), timeout=WAIT)
            assert arrived, f"no answer to {name} within {WAIT}s"
            for update in updates()[len(handled):]:
                assert progress is not None
                progress(update["progress"], update.get("total"), update.get("message"))
                handled.append(update)
        answer = self.client.wait_response(request_id)
        assert "result" in answer, answer
        result = answer["result"]
        return Answer(bool(result.get("isError")), result.get("structuredContent"), result["content"])

    def close(self) -> None:
        self.client.close()


Tools = SdkTools | WsTools


@pytest.fixture(params=["http", "websocket"])
def connect(request: pytest.FixtureRequest, mcp_server: str, live_sim: BackgroundSimulator) -> Iterator[
        Callable[[User], Tools]]:
    """Open the parametrised transport as a user (with room for more than 10 placements a minute)."""
    opened: list[Tools] = []

    def open_as(user: User) -> Tools:
        User.objects.filter(pk=user.pk).update(rate_limits={"place": "1000/minute"})
        tools = (SdkTools if request.param == "http" else WsTools)(mcp_server, token_for_user(user=user))
        opened.append(tools)
        return tools

    yield open_as
    for tools in opened:
        tools.close()


@pytest.fixture
def tools(connect: Callable[[User], Tools], mcp_user: User) -> Tools:
    return connect(mcp_user)


@pytest.fixture
def sdk(mcp_server: str, mcp_user: User, live_sim: BackgroundSimulator) -> SdkTools:
    """The official SDK client only: for progress callbacks and the tests that need one transport."""
    User.objects.filter(pk=mcp_user.pk).update(rate_limits={"place": "1000/minute"})
    return SdkTools(mcp_server, token_for_user(user=mcp_user))


# --- helpers ---------------------------------------------------------------------------------------------


def place(tools: Tools, number: str = HUMAN, **arguments: Any) -> dict[str, Any]:
    answer = tools.call("makePhoneCall", {"phone_number": number, "task": TASK, **arguments})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    return answer.structured


def details(tools: Tools, call_id: str) -> dict[str, Any]:
    answer = tools.call("getCallDetails", {"call_id": call_id})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    return answer.structured


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``predicate`` (each try is a request to the simulator or a query) until it is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
    return value


def finish_calls(sim: BackgroundSimulator) -> dict[str, Any]:
    """Let every simulated call run to its end; return once each one's webhook reached the live server."""
    sim_advance(sim, 3600)

    def settled() -> dict[str, Any] | None:
        state = sim_state(sim)
        attempted = {d["call_id"] for d in state["webhooks"] if d["statuses"]}
        return state if all(c["completed"] and c["call_id"] in attempted for c in state["calls"]) else None

    state = wait_for(settled, "every webhook to be posted")
    assert all(d["delivered"] for d in state["webhooks"]), state["webhooks"]
    return state


def provider_call(call_id: str) -> str:
    return str(Call.objects.get(pk=call_id).provider_call_id)


def ledger(user: User, call_id: str | None = None) -> list[tuple[str, int, int, int]]:
    """(kind, amount, reserved_delta, spent) of the user's ledger rows, oldest first."""
    rows = CreditLedgerEntry.objects.filter(account__user=user).order_by("id")
    if call_id is not None:
        rows = rows.filter(reference=f"call:{call_id}")
    return list(rows.values_list("kind", "amount", "reserved_delta", "spent"))


def balance(user: User) -> int:
    """The spendable balance, after checking the account still equals its ledger."""
    account = CreditAccount.objects.get(user=user)
    sums = CreditLedgerEntry.objects.filter(account=account).aggregate(amount=Sum("amount"), held=Sum("reserved_delta"))
    assert account.balance == sums["amount"], "the balance drifted from the ledger"
    assert account.reserved == (sums["held"] or 0), "the reserved amount drifted from the ledger"
    return account.balance


def real_cost(sim: BackgroundSimulator, call_id: str) -> int:
    """What the provider charged for the call, in credits (cents, rounded up)."""
    return math.ceil(Decimal(str(sim_details(sim, provider_call(call_id))["price"])) * 100)


class DriveClock:
    """A progress callback that moves the simulated clock one stage per progress notification, so a waiting
    makePhoneCall sees queued, ringing, in progress and the end, and records what it was told."""

    STEPS = {"Call queued": 2, "Call ringing": 1, "Call in progress": 3600}

    def __init__(self, sim: BackgroundSimulator, steps: dict[str, float] | None = None) -> None:
        self.sim = sim
        self.steps = steps or self.STEPS
        self.seen: list[tuple[float, float | None, str | None]] = []

    def __call__(self, value: float, total: float | None, message: str | None) -> None:
        self.seen.append((value, total, message))
        if message in self.steps:
            sim_advance(self.sim, self.steps[message])


def not_found_text(tools: Tools, tool: str, call_id: str) -> str:
    answer = tools.call(tool, {"call_id": call_id})
    assert answer.is_error, f"{tool} answered {answer.structured}"
    assert answer.structured is None
    return answer.text


# --- makePhoneCall and getCallDetails ---------------------------------------------------------------------


def test_make_phone_call_returns_the_call_id_and_status_as_structured_content_and_text(tools, mcp_user, live_sim):
    answer = tools.call("makePhoneCall", {"phone_number": "+1 (212) 555-0101", "task": TASK,
                                          "metadata": {"order": 42}})

    assert not answer.is_error, answer.text
    call = answer.structured
    assert call is not None
    assert uuid.UUID(call["call_id"])
    assert call["status"] == "queued"
    assert call["to"] == "+12125550101"
    assert call["reserved_credits"] == DEFAULT_HOLD
    assert call["metadata"] == {"order": 42}
    assert json.loads(answer.text) == call
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD
    assert ledger(mcp_user, call["call_id"]) == [("reserve", -DEFAULT_HOLD, DEFAULT_HOLD, 0)]
    (placed,) = sim_state(live_sim)["calls"]
    assert placed["to"] == "+12125550101"

    shown = details(tools, call["call_id"])
    assert shown["call_id"] == call["call_id"]
    assert shown["status"] == "queued"
    assert shown["to"] == "+12125550101"


def test_get_call_details_shows_how_a_finished_call_went(tools, live_sim):
    call_id = place(tools, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)

    answer = tools.call("getCallDetails", {"call_id": call_id})

    assert not answer.is_error, answer.text
    shown = answer.structured
    assert shown is not None
    assert json.loads(answer.text) == shown
    assert shown["status"] == "completed"
    assert shown["answered_by"] == "human"
    assert shown["duration_seconds"] == 45
    assert shown["cost_credits"] == real_cost(live_sim, call_id) == 11  # 45 s at $0.14 a minute
    assert shown["from"] == "+14155550100"
    assert shown["started_at"]
    assert shown["ended_at"]
    assert "Topic: Book a table for two at 7 pm tonight." in shown["summary"]
    assert shown["has_transcript"] is True
    assert shown["has_recording"] is False
    assert shown["error"] is None


@pytest.mark.parametrize("call_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_get_call_details_of_an_unknown_call_is_an_error(tools, call_id):
    answer = tools.call("getCallDetails", {"call_id": call_id})
    assert answer.is_error
    assert "not found" in answer.text.lower() or "invalid arguments" in answer.text.lower()


# --- every scenario, waited for with progress --------------------------------------------------------------

SCENARIOS = [
    # number, max_duration, status, answered_by, duration
    pytest.param(HUMAN, 3, "completed", "human", 45, id="human"),
    pytest.param(VOICEMAIL, 3, "completed", "voicemail", 20, id="voicemail"),
    pytest.param(BUSY, 3, "busy", "unknown", 0, id="busy"),
    pytest.param(NO_ANSWER, 3, "no_answer", "no-answer", 0, id="no-answer"),
    pytest.param(FAILED, 3, "failed", "unknown", 0, id="failed"),
    pytest.param(LONG, 2, "completed", "human", 120, id="long"),  # 10 minutes, cut at max_duration
]


@pytest.mark.parametrize(("number", "minutes", "status", "answered_by", "duration"), SCENARIOS)
def test_each_scenario_ends_as_expected_while_make_phone_call_waits_with_progress(
        sdk, mcp_user, live_sim, number, minutes, status, answered_by, duration):
    clock = DriveClock(live_sim)

    answer = sdk.call("makePhoneCall", {"phone_number": number, "task": TASK, "max_duration": minutes,
                                        "wait_for_completion": True, "max_wait_seconds": WAIT}, progress=clock)

    assert not answer.is_error, answer.text
    call = answer.structured
    assert call is not None
    assert call["status"] == status
    assert call["answered_by"] == answered_by
    assert call["duration_seconds"] == duration
    assert "note" not in call, call.get("note")
    values = [value for value, _, _ in clock.seen]
    messages = [message for _, _, message in clock.seen]
    assert values == sorted(set(values)), f"progress went backwards or repeated: {clock.seen}"
    assert messages[0] == "Call queued"
    assert {"Call ringing", "Call in progress"} & set(messages[1:-1]), clock.seen
    assert clock.seen[-1] == (4, 4, f"Call {status.replace('_', ' ')}")
    if status == "failed":
        assert "not found" in call["error"]
    if status == "busy":
        assert "busy" in call["error"]
    expected_cost = real_cost(live_sim, call["call_id"]) if status == "completed" else 0
    assert call["cost_credits"] == expected_cost
    assert balance(mcp_user) == GRANTED - expected_cost


# --- getCallHistory -----------------------------------------------------------------------------------------


@pytest.fixture
def history(tools: Tools, live_sim: BackgroundSimulator) -> list[dict[str, Any]]:
    """Five calls, oldest first: human (45 s), voicemail (20 s), busy, no answer (all ended), then a second
    call to the human's number that is still queued."""
    calls = [place(tools, number) for number in (HUMAN, VOICEMAIL, BUSY, NO_ANSWER)]
    finish_calls(live_sim)
    calls.append(place(tools, HUMAN))
    return calls


def history_ids(tools: Tools, **filters: Any) -> tuple[list[str], int]:
    answer = tools.call("getCallHistory", filters)
    assert not answer.is_error, answer.text
    page = answer.structured
    assert page is not None
    assert json.loads(answer.text) == page
    assert page["next_cursor"] is None, "a filtered page was cut"
    return [call["call_id"] for call in page["calls"]], page["total"]


def test_get_call_history_filters_by_status_outcome_number_dates_and_duration(tools, history):
    human, voicemail, busy, no_answer, queued = (call["call_id"] for call in history)
    newest_first = [queued, no_answer, busy, voicemail, human]

    assert history_ids(tools) == (newest_first, 5)
    assert history_ids(tools, status="completed") == ([voicemail, human], 2)
    assert history_ids(tools, status=["busy", "no_answer"]) == ([no_answer, busy], 2)
    assert history_ids(tools, status="queued") == ([queued], 1)
    assert history_ids(tools, answered_by="human") == ([human], 1)
    assert history_ids(tools, answered_by=["voicemail", "no-answer"]) == ([no_answer, voicemail], 2)
    assert history_ids(tools, number=HUMAN) == ([queued, human], 2)
    assert history_ids(tools, number="+1 212-555-0110") == ([voicemail], 1)
    assert history_ids(tools, since=history[2]["created_at"]) == ([queued, no_answer, busy], 3)
    assert history_ids(tools, until=history[2]["created_at"]) == ([voicemail, human], 2)
    assert history_ids(tools, since=history[1]["created_at"], until=history[3]["created_at"]) == ([busy, voicemail], 2)
    assert history_ids(tools, min_duration=30) == ([human], 1)
    assert history_ids(tools, min_duration=1, max_duration=30) == ([voicemail], 1)
    assert history_ids(tools, max_duration=0) == ([no_answer, busy], 2)
    assert history_ids(tools, number="+12125550199") == ([], 0)

    rows = tools.call("getCallHistory", {"status": "completed"}).structured
    assert rows is not None
    assert rows["calls"][1] | {"created_at": None} == {
        "call_id": human, "to": HUMAN, "status": "completed", "answered_by": "human", "created_at": None,
        "duration_seconds": 45, "cost_credits": 11,
    }


def test_get_call_history_pages_with_a_cursor_and_always_reports_the_full_total(tools, history):
    newest_first = [call["call_id"] for call in reversed(history)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        arguments: dict[str, Any] = {"limit": 2}
        if cursor:
            arguments["cursor"] = cursor
        page = tools.call("getCallHistory", arguments).structured
        assert page is not None
        assert page["total"] == 5
        assert len(page["calls"]) <= 2
        seen += [call["call_id"] for call in page["calls"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == newest_first

    one = tools.call("getCallHistory", {"limit": 1, "status": ["completed", "busy", "no_answer"]}).structured
    assert one is not None
    assert (len(one["calls"]), one["total"]) == (1, 4)
    assert one["next_cursor"]


def test_get_call_history_rejects_bad_filters_with_a_clear_error(tools):
    for filters, mentions in (({"cursor": "garbage"}, "cursor"), ({"since": "yesterday"}, "since"),
                              ({"number": "12"}, "number"), ({"status": "done"}, "status")):
        answer = tools.call("getCallHistory", filters)
        assert answer.is_error, filters
        assert mentions in answer.text


# --- getCallTranscript ------------------------------------------------------------------------------------


@pytest.fixture
def recorded_call(sdk: SdkTools, live_sim: BackgroundSimulator) -> str:
    """A human answered, record=true call that has ended (its webhook applied, its audio fetched)."""
    call_id = place(sdk, HUMAN, record=True, max_duration=3)["call_id"]
    finish_calls(live_sim)
    return call_id


def test_get_call_transcript_as_text_segments_and_corrected_with_confidence(sdk, recorded_call):
    text = sdk.call("getCallTranscript", {"call_id": recorded_call})
    assert not text.is_error, text.text
    assert text.structured is not None
    assert json.loads(text.text) == text.structured
    assert text.structured["format"] == "text"
    assert text.structured["truncated"] is False
    lines = text.structured["transcript"].splitlines()
    assert lines[0] == "Agent: Hello! This is an AI assistant calling on someone's behalf."
    assert lines[1] == "Callee: Hi. Sure, what is this about?"
    assert "Agent: I'm calling about this: Book a table for two at 7 pm tonight." in lines

    segments = sdk.call("getCallTranscript", {"call_id": recorded_call, "format": "segments"}).structured
    assert segments is not None
    assert [s["speaker"] for s in segments["transcript"][:2]] == ["agent", "callee"]
    assert segments["transcript"][1]["text"] == "Hi. Sure, what is this about?"

    corrected = sdk.call("getCallTranscript", {"call_id": recorded_call, "format": "corrected"}).structured
    assert corrected is not None
    assert "note" not in corrected, corrected.get("note")
    turns = corrected["transcript"]
    assert turns[0]["speaker"] == "agent"
    assert turns[0]["text"] == "Hello! This is an AI assistant calling on someone's behalf."
    assert all(0 < turn["confidence"] <= 1 for turn in turns)
    assert all(turn["start"] < turn["end"] for turn in turns)


def test_get_call_transcript_is_cut_at_max_chars_with_a_note(sdk, recorded_call):
    full = sdk.call("getCallTranscript", {"call_id": recorded_call}).structured
    cut = sdk.call("getCallTranscript", {"call_id": recorded_call, "max_chars": 100}).structured
    assert full is not None
    assert cut is not None
    assert len(full["transcript"]) > 100
    assert cut["truncated"] is True
    assert cut["transcript"] == full["transcript"][:100]
    assert "max_chars=100" in cut["note"]

    segments = sdk.call("getCallTranscript", {"call_id": recorded_call, "format": "segments", "max_chars": 100})
    assert segments.structured is not None
    assert segments.structured["truncated"] is True
    assert 0 < len(segments.structured["transcript"]) < len(full["transcript"].splitlines())
    assert "max_chars" in segments.structured["note"]


def test_get_call_transcript_of_a_call_not_answered_says_so(sdk, live_sim):
    call_id = place(sdk, BUSY)["call_id"]
    finish_calls(live_sim)
    answer = sdk.call("getCallTranscript", {"call_id": call_id})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert answer.structured["transcript"] == ""
    assert "not answered" in answer.structured["note"]


# --- getCallRecording ----------------------------------------------------------------------------------------


def test_get_call_recording_links_a_wav_download_and_the_recording_resource(sdk, recorded_call):
    answer = sdk.call("getCallRecording", {"call_id": recorded_call})

    assert not answer.is_error, answer.text
    info = answer.structured
    assert info is not None
    assert json.loads(answer.text) == info
    assert info["call_id"] == recorded_call
    assert info["content_type"] == "audio/wav"
    assert datetime.fromisoformat(info["expires_at"]) > timezone.now()
    link = next(item for item in answer.content if item["type"] == "resource_link")
    assert link["uri"] == f"calls://{recorded_call}/recording"
    assert link["mimeType"] == "audio/wav"

    download = httpx.get(info["url"], timeout=WAIT)  # no token: the signed link is the credential
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/wav"
    assert len(download.content) == info["bytes"]
    with wave.open(io.BytesIO(download.content)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert audio.getnframes() > 0
    assert info["duration_seconds"] == pytest.approx(seconds, abs=0.01)

    tampered = httpx.get(info["url"][:-3] + "xyz", timeout=WAIT)
    assert tampered.status_code == 404


def test_get_call_recording_of_a_call_placed_without_record_is_an_error(tools, live_sim):
    call_id = place(tools, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)

    answer = tools.call("getCallRecording", {"call_id": call_id})

    assert answer.is_error
    assert "without record=true" in answer.text
    assert "no recording" in answer.text


def test_get_call_recording_of_a_call_still_running_is_an_error(sdk):
    call_id = place(sdk, HUMAN, record=True)["call_id"]
    answer = sdk.call("getCallRecording", {"call_id": call_id})
    assert answer.is_error
    assert "has not ended yet" in answer.text


# --- cancelCall ------------------------------------------------------------------------------------------------


def test_cancel_call_stops_a_queued_call_gives_the_credits_back_and_is_idempotent(tools, mcp_user, live_sim):
    call_id = place(tools, HUMAN)["call_id"]
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD

    answer = tools.call("cancelCall", {"call_id": call_id})

    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert json.loads(answer.text) == answer.structured
    assert answer.structured["status"] == "canceled"
    assert answer.structured["cost_credits"] == 0
    assert balance(mcp_user) == GRANTED
    rows = [("reserve", -DEFAULT_HOLD, DEFAULT_HOLD, 0), ("release", DEFAULT_HOLD, -DEFAULT_HOLD, 0)]
    assert ledger(mcp_user, call_id) == rows
    assert sim_details(live_sim, provider_call(call_id))["status"] == "canceled"

    again = tools.call("cancelCall", {"call_id": call_id})
    assert not again.is_error, again.text
    assert again.structured is not None
    assert again.structured["status"] == "canceled"
    assert ledger(mcp_user, call_id) == rows
    assert details(tools, call_id)["status"] == "canceled"


def test_cancel_call_stops_a_scheduled_call_and_gives_the_credits_back(tools, mcp_user, live_sim):
    start = (timezone.now() + timedelta(minutes=30)).replace(microsecond=0)
    call = place(tools, HUMAN, start_time=start.isoformat())
    assert call["status"] == "scheduled"
    assert datetime.fromisoformat(call["scheduled_for"]) == start

    answer = tools.call("cancelCall", {"call_id": call["call_id"]})

    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert answer.structured["status"] == "canceled"
    assert balance(mcp_user) == GRANTED
    assert sim_details(live_sim, provider_call(call["call_id"]))["status"] == "canceled"


def test_cancel_call_stops_a_live_call_while_make_phone_call_waits_for_it(sdk, mcp_user, live_sim):
    live = threading.Event()

    def on_progress(value: float, total: float | None, message: str | None) -> None:
        if message == "Call queued":
            sim_advance(live_sim, 15)  # dialled at 3 s, picked up at 8 s: talking
        if message == "Call in progress":
            live.set()

    outcome: list[Answer] = []
    waiter = threading.Thread(target=lambda: outcome.append(sdk.call(
        "makePhoneCall", {"phone_number": HUMAN, "task": TASK, "wait_for_completion": True, "max_wait_seconds": WAIT},
        progress=on_progress)), daemon=True)
    waiter.start()
    assert live.wait(WAIT), "the call never went live"
    call_id = str(Call.objects.get(owner=mcp_user).pk)

    answer = sdk.call("cancelCall", {"call_id": call_id})
    waiter.join(WAIT)

    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert answer.structured["status"] == "canceled"
    (waited,) = outcome
    assert waited.structured is not None
    assert waited.structured["call_id"] == call_id
    assert waited.structured["status"] == "canceled"
    assert sim_details(live_sim, provider_call(call_id))["completed"] is True
    assert balance(mcp_user) == GRANTED
    assert [kind for kind, *_ in ledger(mcp_user, call_id)] == ["reserve", "release"]


def test_cancelling_a_call_that_already_ended_is_an_error(tools, mcp_user, live_sim):
    call_id = place(tools, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)
    before = ledger(mcp_user)

    answer = tools.call("cancelCall", {"call_id": call_id})

    assert answer.is_error
    assert "already ended (completed)" in answer.text
    assert details(tools, call_id)["status"] == "completed"
    assert ledger(mcp_user) == before


# --- credits ---------------------------------------------------------------------------------------------------


def test_a_completed_call_is_charged_its_real_cost_once_when_webhook_and_refresh_both_report_it(
        sdk, mcp_server, mcp_user, live_sim):
    answer = sdk.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK, "wait_for_completion": True,
                                        "max_wait_seconds": WAIT}, progress=DriveClock(live_sim))
    assert answer.structured is not None
    call_id = answer.structured["call_id"]
    assert answer.structured["status"] == "completed"  # the wait loop's refresh saw the end...
    (webhook,) = finish_calls(live_sim)["webhooks"]  # ...and the provider's webhook reported it too
    assert webhook["statuses"] == [200]

    # Bland redelivers the same webhook: still charged once.
    body = json.dumps(sim_details(live_sim, provider_call(call_id))).encode()
    redelivery = httpx.post(f"{mcp_server}/api/v1/webhooks/bland", content=body, timeout=WAIT,
                            headers={"Content-Type": "application/json", "X-Webhook-Signature": sign(body)})
    assert redelivery.status_code == 200

    cost = real_cost(live_sim, call_id)
    assert cost == 11
    assert ledger(mcp_user, call_id) == [
        ("reserve", -DEFAULT_HOLD, DEFAULT_HOLD, 0), ("settle", DEFAULT_HOLD - cost, -DEFAULT_HOLD, cost),
    ]
    assert balance(mcp_user) == GRANTED - cost
    assert details(sdk, call_id)["cost_credits"] == cost


def test_a_failed_call_gives_back_everything_it_reserved(sdk, mcp_user, live_sim):
    answer = sdk.call("makePhoneCall", {"phone_number": FAILED, "task": TASK, "wait_for_completion": True,
                                        "max_wait_seconds": WAIT}, progress=DriveClock(live_sim))
    assert answer.structured is not None
    call_id = answer.structured["call_id"]
    assert answer.structured["status"] == "failed"
    finish_calls(live_sim)

    assert ledger(mcp_user, call_id) == [
        ("reserve", -DEFAULT_HOLD, DEFAULT_HOLD, 0), ("release", DEFAULT_HOLD, -DEFAULT_HOLD, 0),
    ]
    assert balance(mcp_user) == GRANTED
    assert details(sdk, call_id)["cost_credits"] == 0


def test_without_enough_credits_make_phone_call_is_an_error_and_places_nothing(connect, make_user, live_sim):
    poor = make_user("mcp-poor", credits=10)
    tools = connect(poor)

    answer = tools.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK})

    assert answer.is_error
    assert "insufficient credits" in answer.text.lower()
    assert "140 needed, 10 available" in answer.text
    assert not Call.objects.filter(owner=poor).exists()
    assert sim_state(live_sim)["total_calls"] == 0
    assert balance(poor) == 10
    assert [kind for kind, *_ in ledger(poor)] == ["grant"]


@pytest.mark.parametrize(("arguments", "mentions"), [
    pytest.param({"phone_number": "2125550100", "task": TASK}, "E.164", id="no-plus"),
    pytest.param({"phone_number": "+1 555", "task": TASK}, "+1 555", id="too-short"),
    pytest.param({"phone_number": "+999 1234567", "task": TASK}, "phone number", id="no-such-country"),
    pytest.param({"phone_number": "call mom", "task": TASK}, "E.164", id="words"),
    pytest.param({"phone_number": HUMAN}, "task", id="no-task"),
    pytest.param({"phone_number": HUMAN, "task": "   "}, "task", id="blank-task"),
    pytest.param({"task": TASK}, "phone_number", id="no-number"),
    pytest.param({"phone_number": HUMAN, "task": TASK, "max_duration": 0}, "max_duration", id="zero-minutes"),
    pytest.param({"phone_number": HUMAN, "task": TASK, "start_time": "soon"}, "start_time", id="bad-start"),
])
def test_an_invalid_request_is_an_error_and_reserves_nothing(tools, mcp_user, live_sim, arguments, mentions):
    answer = tools.call("makePhoneCall", arguments)

    assert answer.is_error
    assert mentions in answer.text
    assert "Traceback" not in answer.text
    assert not Call.objects.exists()
    assert [kind for kind, *_ in ledger(mcp_user)] == ["grant"]
    assert sim_state(live_sim)["total_calls"] == 0


def test_a_start_time_less_than_5_minutes_ahead_is_an_error_and_reserves_nothing(tools, mcp_user, live_sim):
    soon = (timezone.now() + timedelta(minutes=2)).isoformat()
    answer = tools.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK, "start_time": soon})
    assert answer.is_error
    assert "at least 5 minutes" in answer.text
    assert [kind for kind, *_ in ledger(mcp_user)] == ["grant"]
    assert sim_state(live_sim)["total_calls"] == 0


# --- isolation ---------------------------------------------------------------------------------------------------


def test_another_user_can_never_see_cancel_or_fetch_the_recording_of_your_call(
        connect, mcp_user, make_user, live_sim):
    alice = connect(mcp_user)
    bob = connect(make_user("mcp-bob", credits=GRANTED))
    recorded = place(alice, HUMAN, record=True, max_duration=3)["call_id"]
    finish_calls(live_sim)
    running = place(alice, "+12125550102")["call_id"]
    missing = str(uuid.uuid4())

    for tool in ("getCallDetails", "getCallTranscript", "getCallRecording", "cancelCall"):
        for call_id in (recorded, running):
            text = not_found_text(bob, tool, call_id)
            assert "not found" in text.lower()
            assert "forbidden" not in text.lower()
            assert "permission" not in text.lower()
            assert text.replace(call_id, missing) == not_found_text(bob, tool, missing), "the answer leaks existence"

    for filters in ({}, {"number": HUMAN}, {"status": "completed"}):
        page = bob.call("getCallHistory", filters).structured
        assert page == {"calls": [], "total": 0, "next_cursor": None}

    assert details(alice, running)["status"] == "queued"
    assert sim_details(live_sim, provider_call(running))["completed"] is False
    assert not alice.call("getCallRecording", {"call_id": recorded}).is_error
    assert history_ids(alice)[1] == 2


# --- provider failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("faults", "mentions"), [
    pytest.param({"outage": True}, "unavailable", id="outage"),
    pytest.param({"error_rate": 1.0}, "HTTP 5", id="5xx"),
])
def test_when_the_provider_fails_make_phone_call_is_a_clear_error_and_charges_nothing(
        tools, mcp_user, live_sim, faults, mentions):
    sim_faults(live_sim, **faults)

    answer = tools.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK})

    assert answer.is_error
    assert mentions in answer.text
    assert "Nothing was placed or charged" in answer.text
    assert not Call.objects.exists()
    assert balance(mcp_user) == GRANTED
    assert [kind for kind, *_ in ledger(mcp_user)] == ["grant", "reserve", "release"]
    assert sum(amount for _, amount, _, _ in ledger(mcp_user)[1:]) == 0
    assert sim_state(live_sim)["total_calls"] == 0


def test_a_second_call_to_the_same_number_within_10_seconds_is_rate_limited_and_free(tools, mcp_user, live_sim):
    first = place(tools, HUMAN)

    answer = tools.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK})

    assert answer.is_error
    assert "rate limiting" in answer.text
    assert "every 10 seconds to the same number" in answer.text
    assert [str(pk) for pk in Call.objects.values_list("pk", flat=True)] == [first["call_id"]]
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD
    assert [kind for kind, *_ in ledger(mcp_user)] == ["grant", "reserve", "reserve", "release"]
    assert sim_state(live_sim)["total_calls"] == 1

    sim_advance(live_sim, 10)
    assert place(tools, HUMAN)["status"] == "queued"


def test_when_the_provider_account_is_out_of_balance_make_phone_call_is_a_clear_error(tools, mcp_user, live_sim):
    httpx.post(f"{live_sim.url}/_sim/reset", json={"balance": 0}, timeout=5).raise_for_status()

    answer = tools.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK})

    assert answer.is_error
    assert "out of balance" in answer.text
    assert not Call.objects.exists()
    assert balance(mcp_user) == GRANTED


# --- idempotency ------------------------------------------------------------------------------------------------


def test_the_same_idempotency_key_twice_returns_the_same_call_and_places_it_once(tools, mcp_user, live_sim):
    first = place(tools, HUMAN, idempotency_key="order-42-reminder")
    second = place(tools, HUMAN, idempotency_key="order-42-reminder")
    other = place(tools, "+12125550103", idempotency_key="order-43-reminder")

    assert second["call_id"] == first["call_id"]
    assert other["call_id"] != first["call_id"]
    assert sim_state(live_sim)["total_calls"] == 2
    assert Call.objects.count() == 2
    assert ledger(mcp_user, first["call_id"]) == [("reserve", -DEFAULT_HOLD, DEFAULT_HOLD, 0)]
    assert balance(mcp_user) == GRANTED - 2 * DEFAULT_HOLD
