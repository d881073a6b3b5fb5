"""The six call tools end to end, as an AI agent uses them: over MCP, against the live server.

Each test talks to the live uvicorn server through the official ``mcp`` SDK client (Streamable HTTP) or
the WebSocket test client (the ``connect`` fixture runs a test over both), and the server talks to the
Bland simulator over HTTP: the only fake is the phone provider, at its HTTP boundary. The simulator's
clock is frozen; tests move it with ``/_sim/advance`` (driven by makePhoneCall's own progress
notifications when it waits), and its signed post-call webhooks reach the live server. Every wait is
bounded.

SQLite's shared in-memory test database cannot take two writers at once (the second fails at once with
"database table is locked"), so calls are ended one at a time and, on SQLite, the provider's webhook for
a call makePhoneCall waits on is delivered after the tool answers instead of racing its refresh. On
PostgreSQL the simulator posts it live, in the middle of the wait.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import uuid
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import httpx2
import pytest
from anyio.from_thread import start_blocking_portal
from anyio.to_thread import run_sync
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pytest_django.fixtures import Settings

from calls.models import Call, CallAnalysis
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
from tests.conftest import in_one_window
from tests.mcp.clients import WsMcp
from tests.waiting import wait_until
from users.models import CreditAccount, CreditLedgerEntry, User
from users.services import token_for_user

LONG = "+12125550150"
MCP_PATH = "/api/v1/mcp"
WEBHOOK_PATH = "/api/v1/webhooks/bland"
NOWHERE = "http://127.0.0.1:9"  # a PUBLIC_BASE_URL nobody listens on: the simulator's webhooks go nowhere
WAIT = 15  # seconds: the bound on every wait in this module
TASK = "Book a table for two at 7 pm tonight. Confirm the booking name is Alice."
RATE = 14  # credits per minute (settings.CALL_CREDITS_PER_MINUTE)
DEFAULT_HOLD = 10 * RATE  # makePhoneCall reserves max_duration (default 10 minutes) x the rate
GRANTED = 1_000  # mcp_user's credits
LIVE_WEBHOOKS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")  # see the module docstring



# --- one tool-calling interface over two transports -------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A tools/call result as the agent sees it, whatever the transport."""

    is_error: bool
    structured: dict[str, Any] | None
    content: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return next(item["text"] for item in self.content if item["type"] == "text")

    @property
    def error_code(self) -> str | None:
        """The machine code of an error result: structuredContent's ``error.code``, or the ``[code]`` that ends
        the text of a result without structured content."""
        if not self.is_error:
            return None
        if self.structured and isinstance(self.structured.get("error"), dict):
            return self.structured["error"]["code"]
        found = re.search(r"\[([a-z_]+)\]$", self.text.strip())
        return found.group(1) if found else None


@asynccontextmanager
async def sdk_client(base_url: str, token: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(WAIT, read=60))
    async with http, Client(streamable_http_client(f"{base_url}{MCP_PATH}", http_client=http), mode="legacy") as client:
        yield client


def checked(answer: Answer, output_schemas: dict[str, dict[str, Any]], name: str) -> Answer:
    """Every successful result must match the outputSchema the server listed for the tool."""
    if not answer.is_error and name in output_schemas:
        assert answer.structured is not None, f"{name} gave no structuredContent"
        Draft202012Validator(output_schemas[name]).validate(answer.structured)
    return answer


class SdkTools:
    """The official SDK ``Client`` over Streamable HTTP, one session for the test, driven from sync code
    through an anyio portal (so the test itself can read the database)."""

    def __init__(self, base_url: str, token: str) -> None:
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._client = self._stack.enter_context(self._portal.wrap_async_context_manager(sdk_client(base_url, token)))
        listed = self._portal.call(self._client.list_tools)
        self.output_schemas = {tool.name: tool.output_schema for tool in listed.tools if tool.output_schema}

    def call(self, name: str, arguments: dict[str, Any] | None = None, *, progress: DriveClock | None = None
             ) -> Answer:
        return checked(self._portal.call(self._call, name, arguments or {}, progress), self.output_schemas, name)

    async def _call(self, name: str, arguments: dict[str, Any], progress: DriveClock | None) -> Answer:
        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            # The SDK runs each callback as a task, and the answer may overtake the last one: note the
            # notification before the first await, in the order they arrived, then act on it.
            assert progress is not None
            progress.seen.append((value, total, message))
            await run_sync(progress.react, message)

        result = await self._client.call_tool(name, arguments, read_timeout_seconds=WAIT,
                                              progress_callback=on_progress if progress else None)
        content = [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in result.content]
        return Answer(bool(result.is_error), result.structured_content, content)

    def close(self) -> None:
        self._stack.close()


class WsTools:
    """The WebSocket test client: one initialized connection for the test."""

    def __init__(self, base_url: str, token: str) -> None:
        self.client = WsMcp(base_url, token, timeout=WAIT)
        assert "result" in self.client.initialize()
        listed = self.client.request("tools/list", {})["result"]["tools"]
        self.output_schemas = {tool["name"]: tool["outputSchema"] for tool in listed if "outputSchema" in tool}

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> Answer:
        answer = self.client.request("tools/call", {"name": name, "arguments": arguments or {}})
        assert "result" in answer, answer
        result = answer["result"]
        return checked(Answer(bool(result.get("isError")), result.get("structuredContent"), result["content"]),
                       self.output_schemas, name)

    def close(self) -> None:
        self.client.close()


Tools = SdkTools | WsTools


def _open(tools_class: type[SdkTools] | type[WsTools], base_url: str, user: User) -> SdkTools | WsTools:
    # Tests place more than the default 10 calls a minute per user, and user ids repeat between runs.
    User.objects.filter(pk=user.pk).update(rate_limits={"place": "1000/minute"})
    return tools_class(base_url, token_for_user(user=user))


@pytest.fixture(params=[SdkTools, WsTools], ids=["http", "websocket"])
def connect(request: pytest.FixtureRequest, live_db: None, mcp_server: str, live_sim: BackgroundSimulator
            ) -> Iterator[Callable[[User], Tools]]:
    """Open the parametrised transport as a user."""
    opened: list[Tools] = []

    def open_as(user: User) -> Tools:
        opened.append(_open(request.param, mcp_server, user))
        return opened[-1]

    yield open_as
    for tools in opened:
        tools.close()


@pytest.fixture
def tools(connect: Callable[[User], Tools], mcp_user: User) -> Tools:
    return connect(mcp_user)


@pytest.fixture
def sdk(mcp_server: str, mcp_user: User, live_sim: BackgroundSimulator) -> Iterator[SdkTools]:
    """The official SDK client only: for progress callbacks, and behaviour that is not about the transport."""
    tools = _open(SdkTools, mcp_server, mcp_user)
    assert isinstance(tools, SdkTools)
    yield tools
    tools.close()


@pytest.fixture
def serial_sim(live_sim: BackgroundSimulator, calls_settings: Settings) -> BackgroundSimulator:
    """For tests where the provider ends a call while a tool is still working on it (makePhoneCall waiting,
    cancelCall stopping it): on SQLite the simulator's webhooks are held back (see the module docstring) and
    ``webhook_reported`` delivers them once the tool has answered; on PostgreSQL they race it for real."""
    if not LIVE_WEBHOOKS:
        calls_settings.PUBLIC_BASE_URL = NOWHERE
    return live_sim


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
    assert json.loads(answer.text) == answer.structured
    return answer.structured


def tool_error(tools: Tools, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The error a failed call carries: ``{"code", "message", "data"?}``, the same in structured content and text."""
    answer = tools.call(tool, arguments)
    assert answer.is_error, f"{tool} answered {answer.structured}"
    assert answer.structured is not None
    assert json.loads(answer.text) == answer.structured
    assert "Traceback" not in answer.text
    return answer.structured["error"]


def error_text(tools: Tools, tool: str, arguments: dict[str, Any]) -> str:
    """The message of a call that must fail (what a model reads)."""
    return tool_error(tools, tool, arguments)["message"]


def error_of(tools: Tools, tool: str, arguments: dict[str, Any]) -> tuple[str, str]:
    """(machine code, message) of a call that must fail."""
    error = tool_error(tools, tool, arguments)
    return error["code"], error["message"]


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    """Poll ``predicate`` (each try is a request to the simulator) until it is truthy, for at most WAIT s."""
    return wait_until(predicate, timeout=WAIT, what=what)


def delivery(sim: BackgroundSimulator, provider_id: str) -> dict[str, Any] | None:
    """The simulator's webhook delivery for a call, once it has been attempted."""
    return next((d for d in sim_state(sim)["webhooks"] if d["call_id"] == provider_id and d["statuses"]), None)


def finish_calls(sim: BackgroundSimulator) -> None:
    """Run every simulated call to its end, one at a time, each webhook delivered to the live server before
    the next call ends."""
    while True:
        state = sim_state(sim)
        running = [call for call in state["calls"] if not call["completed"]]
        if not running:
            return
        next_end = min(datetime.fromisoformat(call["planned_end"]) for call in running)
        for provider_id in sim_advance(sim, (next_end - datetime.fromisoformat(state["now"])).total_seconds() + 0.01):
            posted = wait_for(lambda provider_id=provider_id: delivery(sim, provider_id), "the webhook")
            assert posted["delivered"], posted


def webhook_reported(mcp_server: str, sim: BackgroundSimulator, call_id: str) -> None:
    """Make sure the provider's post-call webhook for the call has reached the server (live: wait for the
    simulator's own post), then deliver the same signed body again, as Bland's retries do."""
    provider_id = provider_call(call_id)
    if LIVE_WEBHOOKS:
        posted = wait_for(lambda: delivery(sim, provider_id), "the webhook")
        assert posted["statuses"] == [200], posted
    body = json.dumps(sim_details(sim, provider_id)).encode()
    response = httpx.post(f"{mcp_server}{WEBHOOK_PATH}", content=body, timeout=WAIT,
                          headers={"Content-Type": "application/json", "X-Webhook-Signature": sign(body)})
    assert response.status_code == 200, response.text


def provider_call(call_id: str) -> str:
    return str(Call.objects.get(pk=call_id).provider_call_id)


def ledger(user: User, call_id: str | None = None) -> list[tuple[str, int, int, int]]:
    """(kind, amount, reserved_delta, spent) of the user's ledger rows, oldest first."""
    rows = CreditLedgerEntry.objects.filter(account__user=user).order_by("id")
    if call_id is not None:
        rows = rows.filter(reference=f"call:{call_id}")
    return list(rows.values_list("kind", "amount", "reserved_delta", "spent"))


def balance(user: User) -> int:
    """The spendable balance, after checking that the account still equals the sum of its ledger."""
    account = CreditAccount.objects.get(user=user)
    sums = CreditLedgerEntry.objects.filter(account=account).aggregate(amount=Sum("amount"), held=Sum("reserved_delta"))
    assert account.balance == sums["amount"], "the balance drifted from the ledger"
    assert account.reserved == (sums["held"] or 0), "the reserved amount drifted from the ledger"
    return account.balance


def real_cost(sim: BackgroundSimulator, call_id: str) -> int:
    """What the provider charged for the call, in credits (cents, rounded up)."""
    return math.ceil(Decimal(str(sim_details(sim, provider_call(call_id))["price"])) * 100)


class DriveClock:
    """makePhoneCall's progress callback: records each notification, and moves the simulated clock on by
    ``steps[message]`` seconds, so a waiting call goes queued, ringing, in progress, ended in turn."""

    def __init__(self, sim: BackgroundSimulator, steps: dict[str, float] | None = None) -> None:
        self.sim = sim
        self.steps = steps or {"Call queued": 2, "Call ringing": 1, "Call in progress": 3600}
        self.seen: list[tuple[float, float | None, str | None]] = []
        self.live = threading.Event()  # set once the call is reported in progress

    def react(self, message: str | None) -> None:
        status = (message or "").split(". ", 1)[0]  # "Call in progress. Agent: Hello!" quotes the latest line
        if status in self.steps:
            sim_advance(self.sim, self.steps[status])
        if status == "Call in progress":
            self.live.set()


def reserved(hold: int = DEFAULT_HOLD) -> tuple[str, int, int, int]:
    return ("reserve", -hold, hold, 0)


def released(hold: int = DEFAULT_HOLD) -> tuple[str, int, int, int]:
    return ("release", hold, -hold, 0)


# --- makePhoneCall and getCallDetails ---------------------------------------------------------------------


def test_make_phone_call_returns_the_call_id_and_status_and_get_call_details_shows_the_call(
        tools, mcp_user, live_sim):
    answer = tools.call("makePhoneCall", {"phone_number": "+1 (212) 555-0101", "task": TASK,
                                          "metadata": {"order": 42}})

    assert not answer.is_error, answer.text
    call = answer.structured
    assert call is not None
    assert json.loads(answer.text) == call
    assert uuid.UUID(call["call_id"])
    assert call["status"] == "queued"
    assert call["to"] == "+12125550101"
    assert call["reserved_credits"] == DEFAULT_HOLD
    assert call["metadata"] == {"order": 42}
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD
    assert ledger(mcp_user, call["call_id"]) == [reserved()]
    (placed,) = sim_state(live_sim)["calls"]
    assert placed["to"] == "+12125550101"

    shown = details(tools, call["call_id"])
    assert {key: shown[key] for key in ("call_id", "status", "to", "task", "reserved_credits")} == {
        "call_id": call["call_id"], "status": "queued", "to": "+12125550101", "task": TASK,
        "reserved_credits": DEFAULT_HOLD,
    }
    assert shown["duration_seconds"] is None
    assert shown["cost_credits"] is None


def test_get_call_details_shows_how_a_finished_call_went(sdk, live_sim):
    call_id = place(sdk, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)

    shown = details(sdk, call_id)

    assert shown["status"] == "completed"
    assert shown["answered_by"] == "human"
    assert shown["duration_seconds"] == 45
    assert shown["cost_credits"] == real_cost(live_sim, call_id) == 11  # 45 s at $0.14 a minute, in cents
    # One advance of the simulated clock ran the whole call: on the wall clock it started and ended then.
    assert datetime.fromisoformat(shown["created_at"]) <= datetime.fromisoformat(shown["started_at"])
    assert datetime.fromisoformat(shown["started_at"]) <= datetime.fromisoformat(shown["ended_at"])
    assert "Topic: Book a table for two at 7 pm tonight." in shown["summary"]
    assert shown["has_transcript"] is True
    assert shown["has_recording"] is False
    assert shown["error"] is None


def test_a_finished_calls_details_are_the_same_read_on_the_event_loop_or_through_the_orm(
        sdk, live_sim, calls_settings):
    call_id = place(sdk, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)
    on_loop = details(sdk, call_id)  # a finished call: one statement on the server's event loop

    calls_settings.DATABASE_ASYNC_POOL_SIZE = 0  # that path off: the ORM, in a worker thread
    through_orm = details(sdk, call_id)

    assert on_loop == through_orm
    assert on_loop["status"] == "completed"
    assert on_loop["has_transcript"] is True


def test_a_finished_calls_kept_details_change_as_soon_as_the_call_does_and_stay_its_owners(
        connect, mcp_user, make_user, live_sim):
    alice, bob = connect(mcp_user), connect(make_user("mcp-bob", credits=GRANTED))
    call_id = place(alice, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)
    first = details(alice, call_id)
    assert details(alice, call_id) == first  # kept, and the same

    call = Call.objects.get(pk=call_id)
    call.summary = "Corrected: a table for two at 8 pm."  # a write outside the services (a shell, a script)
    call.save(update_fields=["summary", "updated_at"])
    assert details(alice, call_id)["summary"] == "Corrected: a table for two at 8 pm."
    assert tool_error(bob, "getCallDetails", {"call_id": call_id})["code"] == "call_not_found"

    Call.objects.filter(pk=call_id).update(summary="")  # no signal, no bump: the kept details are what is read
    assert details(alice, call_id)["summary"] == "Corrected: a table for two at 8 pm."
    CallAnalysis.objects.create(call=call, questions=["Was a table booked?"], answers=["yes"])
    shown = details(alice, call_id)  # the analysis bumped the call: read again, with it
    assert shown["summary"] is None
    assert len(shown["analyses"]) == 1

    CallAnalysis.objects.filter(call=call).delete()
    assert details(alice, call_id)["analyses"] == []  # kept again, now without analyses
    Call.objects.filter(pk=call_id).delete()  # as a data deletion would
    assert tool_error(alice, "getCallDetails", {"call_id": call_id})["code"] == "call_not_found"


def test_polling_get_call_details_shows_the_call_move_though_no_webhook_comes(
        tools, mcp_user, live_sim, calls_settings):
    calls_settings.PUBLIC_BASE_URL = NOWHERE  # the provider's webhook never reaches us
    calls_settings.CALL_DETAILS_REFRESH_SECONDS = 0  # every read of a call in flight asks the provider
    call_id = place(tools, HUMAN, max_duration=3)["call_id"]

    seen = [details(tools, call_id)["status"]]
    for seconds in (2.5, 10, 60):  # allocated at 2 s, dialling at 3 s, ended at 53 s
        sim_advance(live_sim, seconds)
        seen.append(details(tools, call_id)["status"])

    assert seen == ["queued", "ringing", "in_progress", "completed"]
    assert details(tools, call_id)["cost_credits"] == real_cost(live_sim, call_id)
    assert balance(mcp_user) == GRANTED - real_cost(live_sim, call_id)


def test_get_call_details_names_the_number_the_provider_called_from(sdk, live_sim):
    call_id = place(sdk, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)
    assert sim_details(live_sim, provider_call(call_id))["from"] == "+14155550100"

    assert details(sdk, call_id)["from"] == "+14155550100"


# --- every scenario, waited for with progress; credits settled once --------------------------------------

SCENARIOS = [
    # number, max_duration (minutes), final status, answered_by, duration (s)
    pytest.param(HUMAN, 3, "completed", "human", 45, id="human"),
    pytest.param(VOICEMAIL, 3, "completed", "voicemail", 20, id="voicemail"),
    pytest.param(BUSY, 3, "busy", "unknown", 0, id="busy"),
    pytest.param(NO_ANSWER, 3, "no_answer", "no-answer", 0, id="no-answer"),
    pytest.param(FAILED, 3, "failed", "unknown", 0, id="failed"),
    pytest.param(LONG, 2, "completed", "human", 120, id="long"),  # a 10-minute call, cut at max_duration
]


@pytest.mark.parametrize(("number", "minutes", "status", "answered_by", "duration"), SCENARIOS)
def test_each_scenario_ends_right_with_progress_and_is_charged_once_by_webhook_and_refresh(
        sdk, mcp_server, mcp_user, serial_sim, number, minutes, status, answered_by, duration):
    clock = DriveClock(serial_sim)

    answer = sdk.call("makePhoneCall", {"phone_number": number, "task": TASK, "max_duration": minutes,
                                        "wait_for_completion": True, "max_wait_seconds": WAIT}, progress=clock)

    assert not answer.is_error, answer.text
    call = answer.structured
    assert call is not None
    assert (call["status"], call["answered_by"], call["duration_seconds"]) == (status, answered_by, duration)
    assert "note" not in call, call.get("note")
    assert clock.seen == [(1, 4, "Call queued"), (2, 4, "Call ringing"), (3, 4, "Call in progress"),
                          (4, 4, f"Call {status.replace('_', ' ')}")]
    if status in ("busy", "failed"):
        assert {"busy": "is busy", "failed": "not found"}[status] in call["error"]

    # makePhoneCall's own refresh saw the end; now the provider's webhook reports it too (twice).
    webhook_reported(mcp_server, serial_sim, call["call_id"])
    hold = minutes * RATE
    if status == "completed":
        cost = real_cost(serial_sim, call["call_id"])
        assert cost == math.ceil(duration / 60 * RATE)
        assert ledger(mcp_user, call["call_id"]) == [reserved(hold), ("settle", hold - cost, -hold, cost)]
    else:
        cost = 0
        assert ledger(mcp_user, call["call_id"]) == [reserved(hold), released(hold)]
    assert balance(mcp_user) == GRANTED - cost
    assert details(sdk, call["call_id"])["cost_credits"] == cost


# --- getCallHistory -----------------------------------------------------------------------------------------


def page_of(tools: Tools, **arguments: Any) -> dict[str, Any]:
    answer = tools.call("getCallHistory", arguments)
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert json.loads(answer.text) == answer.structured
    return answer.structured


def history_ids(tools: Tools, **filters: Any) -> tuple[list[str], int]:
    page = page_of(tools, **filters)
    assert page["next_cursor"] is None, "a page of a few calls was cut"
    return [call["call_id"] for call in page["calls"]], page["total"]


def test_get_call_history_filters_pages_with_a_cursor_and_counts_every_match(tools, live_sim):
    # Oldest first: human (45 s), voicemail (20 s), busy, no answer, all ended; then a queued call to the
    # human's number again.
    history = [place(tools, number) for number in (HUMAN, VOICEMAIL, BUSY, NO_ANSWER)]
    finish_calls(live_sim)
    history.append(place(tools, HUMAN))
    human, voicemail, busy, no_answer, queued = (call["call_id"] for call in history)
    created = [call["created_at"] for call in history]

    assert history_ids(tools) == ([queued, no_answer, busy, voicemail, human], 5)
    assert history_ids(tools, status="completed") == ([voicemail, human], 2)
    assert history_ids(tools, status=["busy", "no_answer"]) == ([no_answer, busy], 2)
    assert history_ids(tools, status="queued") == ([queued], 1)
    assert history_ids(tools, answered_by="human") == ([human], 1)
    assert history_ids(tools, answered_by=["voicemail", "no-answer"]) == ([no_answer, voicemail], 2)
    assert history_ids(tools, number=HUMAN) == ([queued, human], 2)
    assert history_ids(tools, number="+1 212-555-0110") == ([voicemail], 1)
    assert history_ids(tools, number="+12125550199") == ([], 0)
    assert history_ids(tools, since=created[2]) == ([queued, no_answer, busy], 3)
    assert history_ids(tools, until=created[2]) == ([voicemail, human], 2)
    assert history_ids(tools, since=created[1], until=created[3]) == ([busy, voicemail], 2)
    assert history_ids(tools, min_duration=30) == ([human], 1)
    assert history_ids(tools, min_duration=1, max_duration=30) == ([voicemail], 1)
    assert history_ids(tools, max_duration=0) == ([no_answer, busy], 2)
    assert page_of(tools, status="completed")["calls"][1] == {
        "call_id": human, "to": HUMAN, "status": "completed", "answered_by": "human", "created_at": created[0],
        "duration_seconds": 45, "cost_credits": 11,
    }

    seen: list[str] = []
    page = page_of(tools, limit=2)
    while True:
        assert page["total"] == 5
        assert 1 <= len(page["calls"]) <= 2
        seen += [call["call_id"] for call in page["calls"]]
        if page["next_cursor"] is None:
            break
        page = page_of(tools, limit=2, cursor=page["next_cursor"])
    assert seen == [queued, no_answer, busy, voicemail, human]
    one = page_of(tools, limit=1, status=["completed", "busy", "no_answer"])
    assert ([call["call_id"] for call in one["calls"]], one["total"]) == ([no_answer], 4)
    assert one["next_cursor"]

    for filters, code, mentions in (({"cursor": "garbage"}, "invalid_input", "cursor"),
                                    ({"since": "yesterday"}, "invalid_input", "since"),
                                    ({"number": "12"}, "invalid_call_request", "number"),
                                    ({"status": "done"}, "invalid_arguments", "status")):
        error = tool_error(tools, "getCallHistory", filters)
        assert error["code"] == code, (filters, error)
        assert mentions in error["message"]


# --- getCallTranscript and getCallRecording -----------------------------------------------------------------


@pytest.fixture
def recorded_call(sdk: SdkTools, live_sim: BackgroundSimulator) -> str:
    """A call a human answered, placed with record=true, that has ended (its webhook applied, audio fetched)."""
    call_id = place(sdk, HUMAN, record=True, max_duration=3)["call_id"]
    finish_calls(live_sim)
    return call_id


def transcript(sdk: SdkTools, call_id: str, **arguments: Any) -> dict[str, Any]:
    answer = sdk.call("getCallTranscript", {"call_id": call_id, **arguments})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert json.loads(answer.text) == answer.structured
    return answer.structured


def test_get_call_transcript_as_text_segments_corrected_cut_at_max_chars_or_says_there_is_none(
        sdk, live_sim, recorded_call):
    text = transcript(sdk, recorded_call)
    assert (text["format"], text["truncated"]) == ("text", False)
    lines = text["transcript"].splitlines()
    assert lines[:2] == ["Agent: Hello! This is an AI assistant calling on someone's behalf.",
                         "Callee: Hi. Sure, what is this about?"]
    assert "Agent: I'm calling about this: Book a table for two at 7 pm tonight." in lines

    segments = transcript(sdk, recorded_call, format="segments")["transcript"]
    assert len(segments) == len(lines)
    assert [(s["speaker"], s["text"]) for s in segments[:2]] == [
        ("agent", "Hello! This is an AI assistant calling on someone's behalf."),
        ("callee", "Hi. Sure, what is this about?")]

    corrected = transcript(sdk, recorded_call, format="corrected")
    assert "note" not in corrected, corrected.get("note")
    turns = corrected["transcript"]
    assert [(t["speaker"], t["text"]) for t in turns[:2]] == [(s["speaker"], s["text"]) for s in segments[:2]]
    assert all(0 < turn["confidence"] <= 1 for turn in turns)
    assert all(turn["start"] < turn["end"] for turn in turns)

    cut = transcript(sdk, recorded_call, max_chars=100)
    assert cut["truncated"] is True
    assert cut["transcript"] == text["transcript"][:100]
    assert "max_chars=100" in cut["note"]
    cut_segments = transcript(sdk, recorded_call, format="segments", max_chars=400)
    assert cut_segments["truncated"] is True
    assert cut_segments["transcript"] == segments[:len(cut_segments["transcript"])]
    assert 0 < len(cut_segments["transcript"]) < len(segments)
    assert "max_chars=400" in cut_segments["note"]

    busy = place(sdk, BUSY)["call_id"]
    assert "has not produced a transcript yet" in transcript(sdk, busy)["note"]
    finish_calls(live_sim)
    unanswered = transcript(sdk, busy)
    assert unanswered["transcript"] == ""
    assert "not answered" in unanswered["note"]


def test_a_small_max_chars_gives_the_segments_that_fit_and_at_least_the_first_cut_to_fit(sdk, recorded_call):
    for fmt in ("segments", "corrected"):
        whole = transcript(sdk, recorded_call, format=fmt)["transcript"]
        cut = transcript(sdk, recorded_call, format=fmt, max_chars=120)

        assert cut["truncated"] is True, fmt
        assert cut["transcript"], f"{fmt}: nothing at all came back"
        first = cut["transcript"][0]
        assert first["speaker"] == whole[0]["speaker"]
        assert first["text"], fmt
        assert whole[0]["text"].startswith(first["text"]), (first, whole[0])
        assert len(json.dumps(cut["transcript"])) <= 120 + 2, fmt  # the segment fits (plus the list brackets)
        assert "max_chars=120" in cut["note"]

        roomy = transcript(sdk, recorded_call, format=fmt, max_chars=len(json.dumps(whole[0])) + 10)
        assert roomy["transcript"] == whole[:1], fmt  # a segment that fits is never cut


def test_get_call_recording_links_a_wav_download_and_the_recording_resource(sdk, recorded_call):
    answer = sdk.call("getCallRecording", {"call_id": recorded_call})

    assert not answer.is_error, answer.text
    info = answer.structured
    assert info is not None
    assert json.loads(answer.text) == info
    assert (info["call_id"], info["content_type"]) == (recorded_call, "audio/wav")
    assert datetime.fromisoformat(info["expires_at"]) > timezone.now()
    link = next(item for item in answer.content if item["type"] == "resource_link")
    assert (link["uri"], link["mimeType"]) == (f"calls://{recorded_call}/recording", "audio/wav")

    download = httpx.get(info["url"], timeout=WAIT)  # no token: the signed link is the credential
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/wav"
    assert len(download.content) == info["bytes"]
    with wave.open(io.BytesIO(download.content)) as audio:
        frames, rate = audio.getnframes(), audio.getframerate()
    assert frames > 0
    assert info["duration_seconds"] == pytest.approx(frames / rate, abs=0.01)
    assert info["duration_seconds"] == details(sdk, recorded_call)["duration_seconds"]  # as long as the call
    assert httpx.get(info["url"][:-4] + "AAAA", timeout=WAIT).status_code == 404


def test_a_call_placed_without_record_has_no_recording_and_once_ended_cannot_be_cancelled(
        sdk, mcp_user, live_sim):
    running = place(sdk, "+12125550111", record=True)["call_id"]  # voicemail: ends before the human call
    assert tool_error(sdk, "getCallRecording", {"call_id": running})["code"] == "recording_not_available"
    call_id = place(sdk, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)
    before = ledger(mcp_user)

    no_recording = tool_error(sdk, "getCallRecording", {"call_id": call_id})
    ended = tool_error(sdk, "cancelCall", {"call_id": call_id})

    assert no_recording["code"] == "recording_not_available"
    assert ended["code"] == "call_not_cancellable"
    assert ended["data"] == {"call_id": call_id, "status": "completed"}
    assert details(sdk, call_id)["status"] == "completed"
    assert ledger(mcp_user) == before


# --- cancelCall ------------------------------------------------------------------------------------------------


def test_cancel_call_is_never_blocked_by_a_spent_placing_budget(mcp_server, make_user, live_db, live_sim,
                                                                fresh_rate_limits):
    def attempt() -> tuple[dict[str, Any], dict[str, Any], Answer]:
        user = make_user(credits=GRANTED)
        User.objects.filter(pk=user.pk).update(rate_limits={"place": "1/hour"})
        tools = WsTools(mcp_server, token_for_user(user=user))
        try:
            placed = place(tools, HUMAN)
            over = tools.client.request("tools/call", {"name": "makePhoneCall",
                                                       "arguments": {"phone_number": VOICEMAIL, "task": TASK}})
            return placed, over, tools.call("cancelCall", {"call_id": placed["call_id"]})
        finally:
            tools.close()

    placed, over, cancelled = in_one_window(3600, attempt)

    assert over["error"]["code"] == -31029
    assert over["error"]["data"]["class"] == "place"
    assert not cancelled.is_error, cancelled.text
    assert cancelled.structured is not None
    assert (cancelled.structured["call_id"], cancelled.structured["status"]) == (placed["call_id"], "canceled")



def test_cancel_call_stops_queued_and_scheduled_calls_gives_the_credits_back_and_is_idempotent(
        tools, mcp_server, mcp_user, serial_sim):
    start = (timezone.now() + timedelta(minutes=30)).replace(microsecond=0)
    queued = place(tools, HUMAN)
    scheduled = place(tools, VOICEMAIL, start_time=start.isoformat())
    assert queued["status"] == "queued"
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["scheduled_for"]) == start
    assert balance(mcp_user) == GRANTED - 2 * DEFAULT_HOLD

    for call in (queued, scheduled):
        answer = tools.call("cancelCall", {"call_id": call["call_id"]})
        assert not answer.is_error, answer.text
        assert answer.structured is not None
        assert json.loads(answer.text) == answer.structured
        assert (answer.structured["status"], answer.structured["cost_credits"]) == ("canceled", 0)
        assert sim_details(serial_sim, provider_call(call["call_id"]))["status"] == "canceled"
    assert balance(mcp_user) == GRANTED

    again = tools.call("cancelCall", {"call_id": queued["call_id"]})
    assert not again.is_error, again.text
    assert again.structured is not None
    assert again.structured["status"] == "canceled"
    for call in (queued, scheduled):
        webhook_reported(mcp_server, serial_sim, call["call_id"])
        assert ledger(mcp_user, call["call_id"]) == [reserved(), released()]
        assert details(tools, call["call_id"])["status"] == "canceled"
    assert balance(mcp_user) == GRANTED


def test_cancelling_a_live_call_charges_its_connected_time_and_releases_only_the_rest(
        tools, mcp_server, mcp_user, serial_sim):
    call_id = place(tools, HUMAN)["call_id"]
    sim_advance(serial_sim, 41)  # dialled at 3 s, picked up at 8 s: 33 s of conversation so far

    answer = tools.call("cancelCall", {"call_id": call_id})

    assert not answer.is_error, answer.text
    cancelled = answer.structured
    assert cancelled is not None
    reported = sim_details(serial_sim, provider_call(call_id))
    assert (reported["completed"], reported["corrected_duration"]) == (True, "33")
    cost = real_cost(serial_sim, call_id)
    assert cost == math.ceil(33 / 60 * 0.14 * 100) == 8  # what Bland charges for 33 connected seconds
    assert (cancelled["status"], cancelled["answered_by"], cancelled["duration_seconds"]) == ("canceled", "human", 33)
    assert cancelled["cost_credits"] == cost
    assert ledger(mcp_user, call_id) == [reserved(), ("settle", DEFAULT_HOLD - cost, -DEFAULT_HOLD, cost)]
    assert balance(mcp_user) == GRANTED - cost

    webhook_reported(mcp_server, serial_sim, call_id)  # the provider's report of the stopped call, twice
    assert ledger(mcp_user, call_id) == [reserved(), ("settle", DEFAULT_HOLD - cost, -DEFAULT_HOLD, cost)]
    shown = details(tools, call_id)
    assert (shown["status"], shown["cost_credits"]) == ("canceled", cost)


def test_cancel_call_stops_a_live_call_while_make_phone_call_waits_for_it(
        sdk, mcp_server, mcp_user, serial_sim):
    clock = DriveClock(serial_sim, {"Call queued": 15})  # dialled at 3 s, picked up at 8 s: talking at 15 s
    outcome: list[Answer] = []

    def wait_for_the_call() -> None:
        outcome.append(sdk.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK, "wait_for_completion": True,
                                                  "max_wait_seconds": WAIT}, progress=clock))

    waiter = threading.Thread(target=wait_for_the_call, daemon=True)
    waiter.start()
    assert clock.live.wait(WAIT), f"the call never went live: {clock.seen}"
    other = _open(SdkTools, mcp_server, mcp_user)  # a second agent session of the same user
    try:
        (call,) = page_of(other, status="in_progress")["calls"]
        answer = other.call("cancelCall", {"call_id": call["call_id"]})
    finally:
        other.close()
    waiter.join(WAIT)

    assert not answer.is_error, answer.text
    assert answer.structured is not None
    assert answer.structured["status"] == "canceled"
    (waited,) = outcome
    assert waited.structured is not None
    assert (waited.structured["call_id"], waited.structured["status"]) == (call["call_id"], "canceled")
    webhook_reported(mcp_server, serial_sim, call["call_id"])  # the provider reports the stopped call as ended
    assert sim_details(serial_sim, provider_call(call["call_id"]))["completed"] is True
    assert details(sdk, call["call_id"])["status"] == "canceled"
    cost = real_cost(serial_sim, call["call_id"])  # 7 s of conversation: charged, the rest released
    assert cost > 0
    assert ledger(mcp_user, call["call_id"]) == [reserved(), ("settle", DEFAULT_HOLD - cost, -DEFAULT_HOLD, cost)]
    assert balance(mcp_user) == GRANTED - cost


# --- credits and validation: nothing reserved or placed --------------------------------------------------------

INVALID = [  # arguments, the error code, what the message names
    ({"phone_number": "2125550100", "task": TASK}, "invalid_call_request", "E.164"),
    ({"phone_number": "call mom", "task": TASK}, "invalid_call_request", "E.164"),
    ({"phone_number": "+1 555", "task": TASK}, "invalid_call_request", "'+1 555'"),
    ({"phone_number": "+999 1234567", "task": TASK}, "invalid_call_request", "country code"),
    ({"phone_number": HUMAN}, "invalid_call_request", "task"),
    ({"phone_number": HUMAN, "task": "   "}, "invalid_call_request", "task"),
    ({"task": TASK}, "invalid_arguments", "phone_number"),
    ({"phone_number": HUMAN, "task": TASK, "max_duration": 0}, "invalid_arguments", "max_duration"),
    ({"phone_number": HUMAN, "task": TASK, "start_time": "soon"}, "invalid_input", "start_time"),
    ({"phone_number": HUMAN, "task": TASK, "start_time": "2030-01-01T10:00:00"}, "invalid_call_request", "UTC offset"),
]


def test_invalid_requests_and_insufficient_credits_are_errors_that_reserve_and_place_nothing(
        connect, mcp_user, make_user, live_sim):
    tools = connect(mcp_user)
    soon = (timezone.now() + timedelta(minutes=2)).isoformat()
    too_soon = ({"phone_number": HUMAN, "task": TASK, "start_time": soon}, "invalid_call_request", "5 minutes")
    for arguments, code, mentions in [*INVALID, too_soon]:
        error = tool_error(tools, "makePhoneCall", arguments)
        assert error["code"] == code, (arguments, error)
        assert mentions in error["message"], (arguments, error)

    poor = make_user("mcp-poor", credits=10)
    short = tool_error(connect(poor), "makePhoneCall", {"phone_number": HUMAN, "task": TASK})

    assert short["code"] == "insufficient_credits"
    assert short["data"] == {"required": 140, "available": 10}
    assert not Call.objects.exists()
    assert sim_state(live_sim)["total_calls"] == 0
    assert ledger(mcp_user) == [("grant", GRANTED, 0, 0)]
    assert ledger(poor) == [("grant", 10, 0, 0)]
    assert (balance(mcp_user), balance(poor)) == (GRANTED, 10)


# --- isolation ---------------------------------------------------------------------------------------------------


def test_staff_see_the_details_of_anyone_s_call_as_its_owner_does(connect, mcp_user, make_user, live_sim):
    alice = connect(mcp_user)
    staff = connect(make_user("mcp-staff", credits=5, is_staff=True))
    call_id = place(alice, HUMAN, max_duration=3)["call_id"]
    finish_calls(live_sim)

    shown = details(alice, call_id)

    assert shown["status"] == "completed"
    assert details(staff, call_id) == shown


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
            error = tool_error(bob, tool, {"call_id": call_id})
            assert error["code"] == "call_not_found"
            assert error["data"] == {"call_id": call_id}
            unknown = tool_error(bob, tool, {"call_id": missing})
            assert error["message"].replace(call_id, missing) == unknown["message"], "it leaks existence"
    for filters in ({}, {"number": HUMAN}, {"status": "completed"}, {"status": "queued"}):
        assert page_of(bob, **filters) == {"calls": [], "total": 0, "next_cursor": None}

    assert details(alice, running)["status"] == "queued"
    assert sim_details(live_sim, provider_call(running))["completed"] is False
    assert not alice.call("getCallRecording", {"call_id": recorded}).is_error
    assert history_ids(alice)[1] == 2
    assert balance(mcp_user) == GRANTED - real_cost(live_sim, recorded) - DEFAULT_HOLD


# --- provider failures -----------------------------------------------------------------------------------------------


LIBRARY_TEXT = ("The string supplied", "did not seem to be", "Could not interpret", "after plus-sign",
                "too short after IDD")  # phonenumbers' own messages


def test_errors_state_the_limit_never_echo_a_huge_value_and_speak_our_own_words_about_numbers(tools, live_sim):
    huge = error_text(tools, "makePhoneCall", {"phone_number": HUMAN, "task": "x" * 50_000})
    assert len(huge) < 300, f"{len(huge)} characters"
    assert "task" in huge
    assert "2,000" in huge
    long_number = error_text(tools, "makePhoneCall", {"phone_number": "+1" + "5" * 50_000, "task": TASK})
    assert len(long_number) < 300, f"{len(long_number)} characters"
    assert "phone_number" in long_number

    for number in ("+999 1234567", "call mom at +1", "+1 2", "+1 212 555 0100 555 0100 5555", "+44 (0) hello"):
        code, text = error_of(tools, "makePhoneCall", {"phone_number": number, "task": TASK})
        assert code == "invalid_call_request", number
        assert "phone_number" in text, number
        assert "E.164" in text, text
        assert not [said for said in LIBRARY_TEXT if said in text], text

    klingon = error_text(tools, "makePhoneCall", {"phone_number": HUMAN, "task": TASK, "language": "klingon"})
    assert "language" in klingon
    assert "en-US" in klingon
    assert len(klingon) < 600, f"{len(klingon)} characters"
    placed = place(tools, HUMAN, language="es-419")
    assert placed["language"] == "es-419"
    assert sim_details(live_sim, provider_call(placed["call_id"]))["variables"]["language"] == "es-419"
    assert Call.objects.count() == 1


def test_provider_outage_5xx_and_429_are_clear_errors_that_charge_nothing(connect, mcp_user, live_sim):
    tools = connect(mcp_user)

    sim_faults(live_sim, outage=True)
    outage = error_of(tools, "makePhoneCall", {"phone_number": HUMAN, "task": TASK})
    sim_faults(live_sim, outage=False, error_rate=1.0)
    failing = error_of(tools, "makePhoneCall", {"phone_number": HUMAN, "task": TASK})
    sim_faults(live_sim, error_rate=0)

    for code, text in (outage, failing):
        assert code == "provider_unavailable"
        assert "nothing was changed or charged" in text
        assert "HTTP" not in text  # what the provider answered is for the operator's log, not for the model
        assert "Service temporarily unavailable" not in text
        assert "Internal server error" not in text
    assert not Call.objects.exists()
    assert sim_state(live_sim)["total_calls"] == 0
    assert balance(mcp_user) == GRANTED
    assert ledger(mcp_user)[1:] == [reserved(), released()] * 2

    first = place(tools, HUMAN)
    code, too_soon = error_of(tools, "makePhoneCall", {"phone_number": HUMAN, "task": TASK})
    assert code == "provider_rate_limited"
    assert "Calls can only be sent every 10 seconds to the same number" in too_soon
    assert sim_state(live_sim)["total_calls"] == 1
    assert [str(pk) for pk in Call.objects.values_list("pk", flat=True)] == [first["call_id"]]
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD
    assert ledger(mcp_user)[5:] == [reserved(), reserved(), released()]  # the first call's hold stays

    httpx.post(f"{live_sim.url}/_sim/reset", json={"balance": 0}, timeout=5).raise_for_status()
    code, broke = error_of(tools, "makePhoneCall", {"phone_number": VOICEMAIL, "task": TASK})
    assert code == "provider_balance_exhausted"
    assert "The phone provider account is out of balance" in broke
    assert Call.objects.count() == 1
    assert balance(mcp_user) == GRANTED - DEFAULT_HOLD


# --- idempotency ------------------------------------------------------------------------------------------------


def test_the_same_idempotency_key_twice_returns_the_same_call_and_places_it_once(tools, mcp_user, live_sim):
    first = place(tools, HUMAN, idempotency_key="order-42-reminder")
    second = place(tools, HUMAN, idempotency_key="order-42-reminder")
    other = place(tools, "+12125550103", idempotency_key="order-43-reminder")

    assert second["call_id"] == first["call_id"]
    assert other["call_id"] != first["call_id"]
    assert sim_state(live_sim)["total_calls"] == 2
    assert Call.objects.count() == 2
    assert ledger(mcp_user, first["call_id"]) == [reserved()]
    assert balance(mcp_user) == GRANTED - 2 * DEFAULT_HOLD
