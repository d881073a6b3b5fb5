"""Call campaigns end to end, as an AI agent uses them: makeCallCampaign, getCampaign, cancelCampaign and the
campaigns://{id} resource over MCP (the official SDK client over Streamable HTTP, and WebSocket), against the
live server, which places each campaign with one batch request to the Bland simulator over HTTP. The
simulator's clock is frozen; tests move it, and its signed webhooks reach the live server. Every wait is
bounded.

The money rule under test: a campaign holds ``max_duration x rate`` for every call in one go (all or
nothing), and each call settles its own hold exactly once, whether the webhook, the poller or both report it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from anyio.to_thread import run_sync
from django.conf import settings
from django.db.models import Sum

from calls.models import TERMINAL_STATUSES, Call, CallStatus, Campaign
from calls.poller import PollOptions, poll_calls
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import sim_advance, sim_state
from tests.calls.test_mcp_tools import (  # the tool-calling clients over both transports
    Tools,
    balance,
    connect,  # noqa: F401 - fixture
    error_of,
    tool_error,
)
from tests.mcp.clients import WsMcp, result_of
from tests.mcp.clients import error_of as rpc_error_of
from tests.mcp.sdk import streamable_client, websocket_client
from tests.waiting import wait_until
from users.models import CreditLedgerEntry, User
from users.services import credits_grant, token_for_user

pytestmark = pytest.mark.django_db(transaction=True)

RATE = settings.CALL_CREDITS_PER_MINUTE
MAX_DURATION = 2  # minutes: each call holds 2 x 14 = 28 credits
HOLD = MAX_DURATION * RATE
AREAS = (212, 646, 718, 917, 347, 332, 929, 415, 628, 213, 310, 312)
TASK = "Remind {{name}} that the dentist appointment is tomorrow at {{time}}."
WAIT = 60  # seconds: the bound on every wait in this module (200 calls end and post their webhooks)


def numbers(count: int, *, scenarios: tuple[int, ...] = (0, 1, 2, 3, 4)) -> list[str]:
    """``count`` distinct valid numbers; the tens digit of the last two picks the simulator's scenario
    (0 human, 1 voicemail, 2 busy, 3 no answer, 4 failed)."""
    found = []
    for area in AREAS:
        for decade in scenarios:
            for unit in range(10):
                found.append(f"+1{area}55501{decade}{unit}")
    assert len(found) >= count
    return found[:count]


def rows(count: int, *, scenarios: tuple[int, ...] = (0, 1, 2, 3, 4)) -> list[dict[str, Any]]:
    return [{"phone_number": number, "request_data": {"name": f"Patient {i}", "time": "3 pm"}}
            for i, number in enumerate(numbers(count, scenarios=scenarios))]


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    return wait_until(predicate, timeout=WAIT, what=what)


def requests_to(sim: BackgroundSimulator) -> Counter[str]:
    return Counter(httpx.get(f"{sim.url}/_sim/requests", timeout=10).json()["endpoints"])


def ledger_by_call(campaign_id: str) -> dict[str, list[str]]:
    """Each call's ledger row kinds, oldest first."""
    kinds: dict[str, list[str]] = {}
    references = [f"call:{pk}" for pk in Call.objects.filter(campaign_id=campaign_id).values_list("pk", flat=True)]
    for reference, kind in (CreditLedgerEntry.objects.filter(reference__in=references).order_by("id")
                            .values_list("reference", "kind")):
        kinds.setdefault(reference, []).append(kind)
    return kinds


@pytest.fixture(autouse=True)
def poll_at_once(settings: Any) -> None:
    """The poller asks about calls however young (by default it gives a new call's webhook 20 s)."""
    settings.POLLER_GRACE_SECONDS = 0


@pytest.fixture
def funded(mcp_user: User) -> User:
    credits_grant(user=mcp_user, amount=20_000, memo="campaign tests")
    return mcp_user


def start(tools: Tools, count: int, **arguments: Any) -> dict[str, Any]:
    answer = tools.call("makeCallCampaign", {"task": TASK, "max_duration": MAX_DURATION, "calls": rows(count),
                                             "name": "Dentist reminders", "confirm_spend": True, **arguments})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    return answer.structured


def campaign_of(tools: Tools, campaign_id: str, **arguments: Any) -> dict[str, Any]:
    answer = tools.call("getCampaign", {"campaign_id": campaign_id, **arguments})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    return answer.structured


def all_ended(campaign_id: str) -> bool:
    left = Counter(Call.objects.filter(campaign_id=campaign_id).exclude(status__in=TERMINAL_STATUSES)
                   .values_list("status", flat=True))
    return not left


def test_a_200_number_campaign_places_one_batch_and_charges_each_call_once(
        connect: Callable[[User], Tools], funded: User, live_sim: BackgroundSimulator) -> None:  # noqa: F811
    tools = connect(funded)
    before = balance(funded)
    httpx.delete(f"{live_sim.url}/_sim/requests", timeout=10).raise_for_status()

    placed = start(tools, 200)

    assert placed["status"] == "active"
    assert placed["total_calls"] == 200
    assert placed["spend"]["reserved_credits"] == 200 * HOLD
    assert balance(funded) == before - 200 * HOLD  # every hold taken at once
    asked = requests_to(live_sim)
    assert asked["POST /v2/batches/create"] == 1
    assert asked["POST /v1/calls"] == 0  # one batch, not 200 calls
    campaign_id = placed["campaign_id"]
    assert Call.objects.filter(campaign_id=campaign_id, provider_call_id__isnull=False).count() == 200

    sim_advance(live_sim, 400)  # every call dialled (20 a second) and ended; 200 webhooks posted at once
    # The poller reports the same ends while the webhooks are still arriving: nothing may move twice.
    poll_calls(options=PollOptions.from_settings(max_seconds=60, trigger="test"))
    wait_for(lambda: all_ended(campaign_id), "every call of the campaign to end")

    ledger = ledger_by_call(campaign_id)
    assert len(ledger) == 200
    assert all(kinds in (["reserve", "settle"], ["reserve", "release"]) for kinds in ledger.values()), ledger
    spent = Call.objects.filter(campaign_id=campaign_id).aggregate(s=Sum("cost_credits"))["s"]
    assert balance(funded) == before - spent
    shown = wait_for(lambda: (c := campaign_of(tools, campaign_id))["status"] == "completed" and c, "completed")
    assert shown["progress"] == {"ended": 200, "total": 200, "percent": 100.0}
    assert shown["spend"]["held_credits"] == 0
    assert shown["spend"]["spent_credits"] == spent
    assert shown["spend"]["released_credits"] == 200 * HOLD - spent
    assert sum(shown["counts"].values()) == 200
    assert shown["counts"]["completed"] == 80
    assert shown["counts"]["busy"] == 40
    # Each call of the campaign is an ordinary call.
    first = shown["calls"][0]
    details = tools.call("getCallDetails", {"call_id": first["call_id"]})
    assert not details.is_error
    assert details.structured["status"] == first["status"]
    transcript = tools.call("getCallTranscript", {"call_id": first["call_id"]})
    assert not transcript.is_error
    assert "Patient 0" in transcript.structured["transcript"]


def test_cancelling_half_way_releases_exactly_what_did_not_run(
        connect: Callable[[User], Tools], funded: User, live_sim: BackgroundSimulator) -> None:  # noqa: F811
    tools = connect(funded)
    before = balance(funded)
    campaign_id = start(tools, 200)["campaign_id"]
    sim_advance(live_sim, 6)  # 20 calls a second are dialled: about half are ringing or talking by now

    stopped = tools.call("cancelCampaign", {"campaign_id": campaign_id})

    assert not stopped.is_error, stopped.text
    assert stopped.structured["status"] == "cancelled"
    never_ran = Call.objects.filter(campaign_id=campaign_id, status=CallStatus.CANCELED)
    assert 0 < never_ran.count() < 200
    assert all(kinds == ["reserve", "release"] for ref, kinds in ledger_by_call(campaign_id).items()
               if ref in {f"call:{pk}" for pk in never_ran.values_list("pk", flat=True)})
    assert not never_ran.exclude(cost_credits=0).exists()
    released = CreditLedgerEntry.objects.filter(
        kind="release", reference__in=[f"call:{pk}" for pk in never_ran.values_list("pk", flat=True)]
    ).aggregate(s=Sum("amount"))["s"]
    assert released == never_ran.count() * HOLD
    again = tools.call("cancelCampaign", {"campaign_id": campaign_id})
    assert not again.is_error
    assert again.structured["status"] == "cancelled"

    sim_advance(live_sim, 400)  # the calls that were running finish and pay their real cost
    poll_calls(options=PollOptions.from_settings(max_seconds=60, trigger="test"))
    wait_for(lambda: all_ended(campaign_id), "the running calls to end")
    spent = Call.objects.filter(campaign_id=campaign_id).aggregate(s=Sum("cost_credits"))["s"]
    assert balance(funded) == before - spent
    assert all(len(kinds) == 2 for kinds in ledger_by_call(campaign_id).values())
    shown = campaign_of(tools, campaign_id, calls_limit=0)
    assert shown["spend"]["held_credits"] == 0
    assert shown["completed_at"] is not None


def test_bad_campaigns_are_refused_whole_and_nothing_is_placed_or_charged(
        connect: Callable[[User], Tools], funded: User, make_user: Callable[..., User],  # noqa: F811
        live_sim: BackgroundSimulator) -> None:
    tools = connect(funded)
    before = balance(funded)
    httpx.delete(f"{live_sim.url}/_sim/requests", timeout=10).raise_for_status()
    base = {"task": TASK, "max_duration": MAX_DURATION}

    code, message = error_of(tools, "makeCallCampaign", {**base, "calls": rows(1001, scenarios=tuple(range(10)))})
    assert code == "campaign_too_large"
    assert "1,000" in message

    bad = rows(10)
    bad[3]["phone_number"] = bad[1]["phone_number"]
    bad[5]["phone_number"] = "555-0100"
    bad[7]["notes"] = "call after 5"
    error = tool_error(tools, "makeCallCampaign", {**base, "calls": bad})
    assert error["code"] == "invalid_campaign"
    assert [row["index"] for row in error["data"]["rows"]] == [3, 5, 7]
    assert "duplicate of row 1" in error["data"]["rows"][0]["problems"][0]
    assert "row 3" in error["message"]
    assert "row 5" in error["message"]
    assert "row 7" in error["message"]

    mistyped = rows(3)
    mistyped[2]["request_data"] = "name=Sam"
    code, message = error_of(tools, "makeCallCampaign", {**base, "calls": mistyped})
    assert code == "invalid_arguments"
    assert "calls" in message
    assert "2" in message

    code, message = error_of(tools, "makeCallCampaign", {**base, "voice": "nobody-voice", "calls": rows(3)})
    assert code == "unknown_voice"  # as makePhoneCall answers it

    code, _ = error_of(tools, "makeCallCampaign", {**base, "calls": rows(3), "pathway_id": "pw-1"})
    assert code == "invalid_campaign"

    poor_tools = connect(make_user("poor-campaigner"))
    code, _ = error_of(poor_tools, "makeCallCampaign", {**base, "calls": rows(3)})
    assert code == "insufficient_credits"

    # Above the user's confirmation threshold (1,000 credits by default), a client that cannot ask the user
    # is told to confirm: 100 calls x 28 credits.
    code, message = error_of(tools, "makeCallCampaign", {**base, "calls": rows(100)})
    assert code == "confirmation_required"
    assert "2800" in message.replace(",", "")

    assert not Campaign.objects.exists()
    assert not Call.objects.exists()
    assert requests_to(live_sim)["POST /v2/batches/create"] == 0
    assert balance(funded) == before


def test_another_users_campaign_is_not_found(
        connect: Callable[[User], Tools], funded: User, make_user: Callable[..., User],  # noqa: F811
        live_sim: BackgroundSimulator) -> None:
    campaign_id = start(connect(funded), 3)["campaign_id"]
    stranger = connect(make_user("stranger"))
    for tool in ("getCampaign", "cancelCampaign"):
        code, _ = error_of(stranger, tool, {"campaign_id": campaign_id})
        assert code == "campaign_not_found"
    code, _ = error_of(stranger, "getCampaign", {"campaign_id": "not-a-uuid"})
    assert code == "campaign_not_found"
    assert Campaign.objects.get(pk=campaign_id).status == "active"  # untouched


def test_campaign_subscribers_hear_as_its_calls_change(
        funded: User, mcp_server: str, live_sim: BackgroundSimulator, make_user: Callable[..., User],
        connect: Callable[[User], Tools]) -> None:  # noqa: F811
    campaign_id = start(connect(funded), 5)["campaign_id"]
    uri = f"campaigns://{campaign_id}"
    with WsMcp(mcp_server, token_for_user(user=funded), timeout=WAIT) as client:
        assert "result" in client.initialize()
        assert result_of(client.request("resources/subscribe", {"uri": uri})) == {}
        read = result_of(client.request("resources/read", {"uri": uri}))
        assert '"total_calls": 5' in read["contents"][0]["text"]
        sim_advance(live_sim, 400)
        poll_calls(options=PollOptions.from_settings(max_seconds=60, trigger="test"))
        client.wait_notification("notifications/resources/updated", lambda params: params["uri"] == uri)
        wait_for(lambda: all_ended(campaign_id), "the calls to end")
        stranger = WsMcp(mcp_server, token_for_user(user=make_user("peeker")), timeout=WAIT)
        with stranger:
            assert "result" in stranger.initialize()
            refused = rpc_error_of(stranger.request("resources/read", {"uri": uri}))
            assert "not found" in refused["message"].lower()


def test_the_simulator_keeps_each_batch_call_an_ordinary_call(
        live_sim: BackgroundSimulator, connect: Callable[[User], Tools], funded: User) -> None:  # noqa: F811
    campaign_id = start(connect(funded), 4)["campaign_id"]
    batch_id = Campaign.objects.get(pk=campaign_id).provider_batch_id
    state = sim_state(live_sim)
    assert [b["calls"] for b in state["batches"] if b["batch_id"] == batch_id] == [4]
    headers = {"authorization": "sim-key"}
    listed = httpx.get(f"{live_sim.url}/v1/calls", params={"batch_id": batch_id}, headers=headers, timeout=10).json()
    assert listed["total_count"] == 4
    assert {c["batch_id"] for c in listed["calls"]} == {batch_id}
    logs = httpx.get(f"{live_sim.url}/v2/batches/{batch_id}/logs", headers=headers, timeout=10).json()["data"]
    assert logs[0]["event_type"] == "batch_created"


@pytest.mark.parametrize("opener", [streamable_client, websocket_client], ids=["http", "websocket"])
@pytest.mark.parametrize("action", ["accept", "decline"])
def test_the_user_confirms_a_campaigns_reservation_through_elicitation(
        opener: Any, action: str, funded: User, mcp_server: str, live_sim: BackgroundSimulator) -> None:
    asked: list[str] = []

    async def answering(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action=action, content={"confirm": True} if action == "accept" else None)

    async def place() -> types.CallToolResult:
        token = await run_sync(lambda: token_for_user(user=funded))
        with anyio.fail_after(WAIT):
            async with opener(mcp_server, token, mode="legacy", elicitation_callback=answering) as client:
                return await client.call_tool("makeCallCampaign", {"task": TASK, "max_duration": MAX_DURATION,
                                                                   "calls": rows(50)}, read_timeout_seconds=WAIT)

    before = balance(funded)
    result = anyio.run(place)

    assert asked == [f"This will reserve {50 * HOLD} credits for up to {MAX_DURATION} minutes to call "
                     f"{numbers(1)[0]} and 49 more numbers; proceed?"]
    if action == "accept":
        assert not result.is_error, result
        assert Call.objects.filter(campaign_id=result.structured_content["campaign_id"]).count() == 50
        assert balance(funded) == before - 50 * HOLD
    else:
        assert result.is_error
        assert result.structured_content["error"]["code"] == "spend_not_confirmed"
        assert not Campaign.objects.exists()
        assert balance(funded) == before
