"""Spend confirmation: a call that reserves more than the user's threshold is placed only once the user agrees.

The official SDK client answers ``elicitation/create`` with its ``elicitation_callback``, over Streamable HTTP
and over WebSocket; a client without the callback declares no elicitation and gets ``confirmation_required``;
the 2026-07-28 ``input_required`` round trip is driven with raw JSON-RPC. Whatever the user answers other than
accept, nothing is placed with the provider and the credit ledger does not move.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from anyio.to_thread import run_sync
from django.conf import settings
from django.urls import reverse
from mcp import Client, StdioServerParameters

from calls.models import Call
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import HUMAN, SIM_KEY, bearer, sim_state
from tests.mcp.clients import iter_sse
from tests.mcp.sdk import streamable_client, websocket_client
from tests.mcp.test_stdio import ROOT, SERVER, _server_env
from users.models import CreditLedgerEntry, User
from users.services import token_for_user

TASK = "Confirm tomorrow's 9 am delivery slot."
RATE = settings.CALL_CREDITS_PER_MINUTE
HOLD = settings.CALL_DEFAULT_MAX_DURATION_MINUTES * RATE  # a call with the default max_duration (140 credits)
THRESHOLD = 100
QUESTION = f"This will reserve {HOLD} credits for up to 10 minutes to call {HUMAN}; proceed?"
MODERN = "2026-07-28"
WAIT = 15
CALL = {"phone_number": HUMAN, "task": TASK}

Opener = Callable[..., AbstractAsyncContextManager[Any]]
TRANSPORTS = pytest.mark.parametrize("opener", [streamable_client, websocket_client], ids=["http", "websocket"])


@pytest.fixture
def careful_user(mcp_user: User) -> User:
    User.objects.filter(pk=mcp_user.pk).update(spend_confirm_threshold=THRESHOLD, rate_limits={"place": "100/minute"})
    return mcp_user


def ledger(user: User) -> list[tuple[str, int, int]]:
    return list(CreditLedgerEntry.objects.filter(account__user=user).order_by("id")
                .values_list("kind", "amount", "reserved_delta"))


def nothing_placed(user: User, sim: BackgroundSimulator) -> None:
    assert not Call.objects.filter(owner=user).exists()
    assert sim_state(sim)["total_calls"] == 0
    assert ledger(user) == [("grant", 1_000, 0)]


class Answering:
    """An elicitation callback that answers like a user pressing one button, and remembers the questions."""

    def __init__(self, action: str, content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content
        self.asked: list[types.ElicitRequestParams] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(params)
        return types.ElicitResult(action=self.action, content=self.content)


async def call_tool(opener: Opener, base_url: str, user: User, arguments: dict[str, Any],
                    **options: Any) -> types.CallToolResult:
    token = await run_sync(lambda: token_for_user(user=user))
    with anyio.fail_after(WAIT):
        async with opener(base_url, token, mode="legacy", **options) as client:
            return await client.call_tool("makePhoneCall", arguments, read_timeout_seconds=WAIT)


def run(opener: Opener, base_url: str, user: User, arguments: dict[str, Any], **options: Any) -> types.CallToolResult:
    return anyio.run(lambda: call_tool(opener, base_url, user, arguments, **options))


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    assert result.is_error, result
    assert result.structured_content is not None
    return result.structured_content["error"]


# --- the session era: elicitation/create -----------------------------------------------------------------


@TRANSPORTS
def test_an_accepted_confirmation_places_the_call_and_reserves_its_credits(
        opener, mcp_server, careful_user, live_sim):
    answering = Answering("accept", {"confirm": True})

    result = run(opener, mcp_server, careful_user, CALL, elicitation_callback=answering)

    assert not result.is_error, result
    assert [params.message for params in answering.asked] == [QUESTION]
    assert answering.asked[0].requested_schema["required"] == ["confirm"]
    call = Call.objects.get(owner=careful_user)
    assert str(call.id) == result.structured_content["call_id"]
    assert call.reserved_credits == HOLD
    assert sim_state(live_sim)["total_calls"] == 1
    assert ledger(careful_user) == [("grant", 1_000, 0), ("reserve", -HOLD, HOLD)]


@TRANSPORTS
@pytest.mark.parametrize(("action", "content"), [("decline", None), ("cancel", None), ("accept", {"confirm": False})])
def test_a_declined_or_cancelled_confirmation_places_and_reserves_nothing(
        opener, action, content, mcp_server, careful_user, live_sim):
    answering = Answering(action, content)

    result = run(opener, mcp_server, careful_user, CALL, elicitation_callback=answering)

    error = error_of(result)
    assert error["code"] == "spend_not_confirmed"
    assert error["data"] == {"credits": HOLD, "action": "decline" if action == "accept" else action}
    assert len(answering.asked) == 1
    nothing_placed(careful_user, live_sim)


@TRANSPORTS
def test_a_call_under_the_threshold_is_placed_without_asking(opener, mcp_server, careful_user, live_sim):
    answering = Answering("decline")

    result = run(opener, mcp_server, careful_user, {"phone_number": HUMAN, "task": TASK, "max_duration": 5},
                 elicitation_callback=answering)

    assert not result.is_error, result
    assert answering.asked == []
    assert ledger(careful_user)[-1] == ("reserve", -5 * RATE, 5 * RATE)


@TRANSPORTS
def test_a_client_without_elicitation_is_told_to_send_confirm_spend_and_then_places(
        opener, mcp_server, careful_user, live_sim):
    refused = run(opener, mcp_server, careful_user, {"phone_number": HUMAN, "task": TASK})

    error = error_of(refused)
    assert error["code"] == "confirmation_required"
    assert error["data"] == {"credits": HOLD, "minutes": 10, "summary": f"call {HUMAN}", "threshold": THRESHOLD}
    assert "confirm_spend: true" in error["message"]
    assert json.loads(refused.content[0].text)["error"]["code"] == "confirmation_required"
    nothing_placed(careful_user, live_sim)

    confirmed = run(opener, mcp_server, careful_user, {"phone_number": HUMAN, "task": TASK, "confirm_spend": True})

    assert not confirmed.is_error, confirmed
    assert Call.objects.filter(owner=careful_user).count() == 1
    assert ledger(careful_user)[-1] == ("reserve", -HOLD, HOLD)


def test_a_bad_number_is_refused_before_anyone_is_asked(mcp_server, careful_user, live_sim):
    answering = Answering("accept", {"confirm": True})

    result = run(streamable_client, mcp_server, careful_user, {"phone_number": "12", "task": TASK},
                 elicitation_callback=answering)

    assert error_of(result)["code"] == "invalid_call_request"
    assert answering.asked == []
    nothing_placed(careful_user, live_sim)


def test_the_default_threshold_is_the_setting_and_the_users_own_overrides_it(live_db, mcp_server, make_user, live_sim):
    rich = make_user("mcp-rich", credits=5_000)
    User.objects.filter(pk=rich.pk).update(rate_limits={"place": "100/minute"})
    answering = Answering("decline")
    at_the_setting = settings.SPEND_CONFIRM_THRESHOLD_CREDITS // RATE
    above_it = at_the_setting + 1

    numbers = iter(f"+1212555019{n}" for n in range(10))  # the provider allows one call a number per 10 s

    def place(minutes: int) -> types.CallToolResult:
        arguments = {"phone_number": next(numbers), "task": TASK, "max_duration": minutes}
        return run(streamable_client, mcp_server, rich, arguments, elicitation_callback=answering)

    assert not place(at_the_setting).is_error
    assert answering.asked == []
    assert error_of(place(above_it))["code"] == "spend_not_confirmed"
    assert len(answering.asked) == 1

    User.objects.filter(pk=rich.pk).update(spend_confirm_threshold=0)
    assert error_of(place(1))["code"] == "spend_not_confirmed"
    User.objects.filter(pk=rich.pk).update(spend_confirm_threshold=above_it * RATE)
    placed = place(above_it)
    assert not placed.is_error, placed
    assert len(answering.asked) == 2


# --- 2026-07-28: input_required and requestState -----------------------------------------------------------


def modern_call(http: httpx.Client, token: str, arguments: dict[str, Any], *, capabilities: dict[str, Any],
                **retry: Any) -> dict[str, Any]:
    """One stateless tools/call of makePhoneCall; ``retry`` adds inputResponses and requestState."""
    params = {"name": "makePhoneCall", "arguments": arguments, **retry,
              "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                        "io.modelcontextprotocol/clientCapabilities": capabilities}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "makePhoneCall"}
    response = http.post("/api/v1/mcp", headers=headers,
                         json={"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
    assert response.status_code == 200, response.text
    if response.headers["Content-Type"].startswith("text/event-stream"):
        answers = [json.loads(e["data"]) for e in iter_sse(iter(response.text.splitlines())) if e["data"]]
        return next(a for a in answers if a.get("id") == 7)["result"]
    return response.json()["result"]


@pytest.fixture
def modern_http(mcp_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mcp_server, timeout=WAIT, trust_env=False) as http:
        yield http


def test_on_2026_07_28_the_question_comes_back_as_input_required_and_only_accept_places(
        modern_http, careful_user, live_sim):
    token = token_for_user(user=careful_user)
    arguments = {"phone_number": HUMAN, "task": TASK}
    elicits = {"elicitation": {}}

    asked = modern_call(modern_http, token, arguments, capabilities=elicits)

    assert asked["resultType"] == "input_required"
    question = asked["inputRequests"]["confirm_spend"]
    assert question["method"] == "elicitation/create"
    assert question["params"]["message"] == QUESTION
    state = asked["requestState"]
    nothing_placed(careful_user, live_sim)

    for action in ("decline", "cancel"):
        answer = modern_call(modern_http, token, arguments, capabilities=elicits, requestState=state,
                             inputResponses={"confirm_spend": {"action": action}})
        assert answer["resultType"] == "complete"
        assert answer["isError"] is True
        assert answer["structuredContent"]["error"]["code"] == "spend_not_confirmed"
        nothing_placed(careful_user, live_sim)

    accepted = {"confirm_spend": {"action": "accept", "content": {"confirm": True}}}
    placed = modern_call(modern_http, token, arguments, capabilities=elicits, requestState=state,
                         inputResponses=accepted)

    assert placed["resultType"] == "complete"
    assert not placed.get("isError"), placed
    assert Call.objects.get(owner=careful_user).reserved_credits == HOLD
    assert ledger(careful_user)[-1] == ("reserve", -HOLD, HOLD)


def test_on_2026_07_28_an_answer_to_another_question_is_not_a_confirmation(modern_http, careful_user, live_sim):
    token = token_for_user(user=careful_user)
    elicits = {"elicitation": {}}
    state = modern_call(modern_http, token, {"phone_number": HUMAN, "task": TASK}, capabilities=elicits)["requestState"]
    accepted = {"confirm_spend": {"action": "accept", "content": {"confirm": True}}}

    longer = {"phone_number": HUMAN, "task": TASK, "max_duration": 20}  # the state confirmed 140 credits, not 280
    asked_again = modern_call(modern_http, token, longer, capabilities=elicits, requestState=state,
                              inputResponses=accepted)
    unsigned = modern_call(modern_http, token, longer, capabilities=elicits, inputResponses=accepted)

    for answer in (asked_again, unsigned):
        assert answer["resultType"] == "input_required"
        assert "280 credits for up to 20 minutes" in answer["inputRequests"]["confirm_spend"]["params"]["message"]
    nothing_placed(careful_user, live_sim)


def test_on_2026_07_28_a_client_without_elicitation_gets_confirmation_required(modern_http, careful_user, live_sim):
    token = token_for_user(user=careful_user)

    answer = modern_call(modern_http, token, {"phone_number": HUMAN, "task": TASK}, capabilities={})

    assert answer["isError"] is True
    assert answer["structuredContent"]["error"]["code"] == "confirmation_required"
    nothing_placed(careful_user, live_sim)


# --- the REST twin and the admin field ---------------------------------------------------------------------


@pytest.mark.django_db
def test_rest_placement_above_the_threshold_needs_confirm_spend_and_places_nothing_without_it(make_user, sim):
    rich = make_user("rest-rich", credits=1_000)
    User.objects.filter(pk=rich.pk).update(spend_confirm_threshold=THRESHOLD)
    api = bearer(token_for_user(user=rich))

    refused = api.post("/api/v1/calls/", CALL, format="json")

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "confirmation_required"
    assert f"confirmation threshold of {THRESHOLD} credits" in error["message"]
    assert not Call.objects.exists()
    assert sim_state(sim)["total_calls"] == 0
    assert ledger(rich) == [("grant", 1_000, 0)]

    placed = api.post("/api/v1/calls/", {**CALL, "confirm_spend": True}, format="json")

    assert placed.status_code == 201, placed.content
    assert ledger(rich)[-1] == ("reserve", -HOLD, HOLD)


@pytest.mark.django_db
def test_staff_set_a_users_threshold_in_admin(admin_client, make_user):
    bob = make_user("threshold-bob", credits=0)
    change = reverse("admin:users_user_change", args=[bob.pk])
    page = admin_client.get(change)
    assert "spend_confirm_threshold" in page.context["adminform"].form.fields

    form = {name: value for name, value in page.context["adminform"].form.initial.items() if value is not None}
    for name in ("groups", "user_permissions", "last_login"):
        form.pop(name, None)
    form.update({"username": "threshold-bob", "scopes": '["calls:read"]', "plan": "standard", "rate_limits": "{}",
                 "date_joined_0": "2025-01-01", "date_joined_1": "00:00:00", "is_active": "on",
                 "spend_confirm_threshold": "250"})
    saved = admin_client.post(change, form)

    assert saved.status_code == 302, saved.content.decode()[:2000]
    bob.refresh_from_db()
    assert bob.spend_confirm_threshold == 250


@pytest.mark.postgres
def test_over_stdio_the_user_is_asked_too(live_db, make_user, bland_sim):
    stdio_user = make_user("stdio-careful", credits=1_000)
    User.objects.filter(pk=stdio_user.pk).update(spend_confirm_threshold=THRESHOLD)
    env = _server_env(CALLMCP_TOKEN=token_for_user(user=stdio_user), BLAND_BASE_URL=bland_sim.url,
                      BLAND_SIMULATOR_API_KEY=SIM_KEY, PUBLIC_BASE_URL="http://127.0.0.1:9")
    params = StdioServerParameters(command=sys.executable, args=SERVER, cwd=str(ROOT), env=env)
    call = {"phone_number": "+13125550200", "task": TASK}

    async def place(answering: Answering) -> types.CallToolResult:
        with anyio.fail_after(60):
            async with Client(params, mode="legacy", elicitation_callback=answering) as client:
                return await client.call_tool("makePhoneCall", call, read_timeout_seconds=WAIT)

    declining, accepting = Answering("decline"), Answering("accept", {"confirm": True})
    declined = anyio.run(place, declining)

    assert error_of(declined)["code"] == "spend_not_confirmed"
    assert [params.message for params in declining.asked] == [QUESTION.replace(HUMAN, call["phone_number"])]
    assert not Call.objects.filter(owner=stdio_user).exists()
    assert ledger(stdio_user) == [("grant", 1_000, 0)]

    placed = anyio.run(place, accepting)

    assert not placed.is_error, placed
    assert len(accepting.asked) == 1
    assert Call.objects.filter(owner=stdio_user).count() == 1
    assert ledger(stdio_user)[-1] == ("reserve", -HOLD, HOLD)
