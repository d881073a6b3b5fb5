"""analyzeCall, listVoices and getAccountStatus end to end, as an AI agent uses them: the official SDK client over
Streamable HTTP and the WebSocket client (the ``connect`` fixture runs a test over both), the live server, and
the Bland simulator over HTTP. The REST twins are tested against the same simulator.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.urls import reverse
from jsonschema import Draft202012Validator

from calls import services
from calls.analysis import call_analyze
from calls.models import CallAnalysis
from calls.poller import PollOptions, poll_calls
from calls.providers import configured_provider
from calls.providers.simulator import BackgroundSimulator
from calls.voices import voices_cache_key
from tests.calls.conftest import BUSY, HUMAN, SIM_KEY, VOICEMAIL, bearer, sim_advance, sim_state
from tests.calls.test_campaigns import all_ended
from tests.calls.test_campaigns import funded as funded  # a fixture: mcp_user with credits for campaigns
from tests.calls.test_campaigns import rows as campaign_rows
from tests.calls.test_campaigns import start as start_campaign
from tests.calls.test_campaigns import wait_for as campaign_wait
from tests.calls.test_mcp_tools import (  # the two transports and the helpers of the call tools' tests
    GRANTED,
    Tools,
    balance,
    details,
    error_of,
    finish_calls,
    place,
)
from tests.calls.test_mcp_tools import connect as connect  # fixtures: the user's tools over HTTP and WebSocket
from tests.calls.test_mcp_tools import tools as tools
from users.models import User
from users.services import token_for_user

TYPED = {
    "type": "object",
    "properties": {
        "answered_by": {"type": "string", "enum": ["human", "voicemail"]},
        "agreed": {"type": "boolean"},
        "what_was_said": {"type": "string", "maxLength": 80},
        "seconds": {"type": "integer", "minimum": 0},
    },
    "required": ["answered_by", "agreed", "what_was_said", "seconds"],
    "additionalProperties": False,
}
QUESTIONS = ["Who answered the call?", "Did the callee say the booking works for them?",
             "What did the callee say about the booking?", "How long did the call last, in seconds?"]


def requests_to(sim: BackgroundSimulator, endpoint: str) -> int:
    """How many requests the simulator answered on ``endpoint`` (``"GET /v1/voices"``)."""
    counts = httpx.get(f"{sim.url}/_sim/requests", timeout=5).json()["endpoints"]
    return int(counts.get(endpoint, 0))


def ended_call(tools: Tools, sim: BackgroundSimulator, number: str = HUMAN) -> str:
    call_id = place(tools, number)["call_id"]
    finish_calls(sim)
    return call_id


def analyze(tools: Tools, call_id: str, **arguments: Any) -> dict[str, Any]:
    answer = tools.call("analyzeCall", {"call_id": call_id, "questions": QUESTIONS, **arguments})
    assert not answer.is_error, answer.text
    assert answer.structured is not None
    return answer.structured


# --- analyzeCall -----------------------------------------------------------------------------------------------------


def test_analyze_call_with_an_answer_schema_returns_answers_that_validate_against_it(tools, live_sim):
    call_id = ended_call(tools, live_sim)
    result = analyze(tools, call_id, answer_schema=TYPED, goal="Book a table")

    Draft202012Validator(TYPED).validate(result["answers"])
    assert result["answers"]["answered_by"] == "human"
    assert result["answers"]["agreed"] is True
    assert result["answers"]["seconds"] == 45
    assert result["questions"] == QUESTIONS
    assert result["provider_credits"] > 0
    shown = details(tools, call_id)["analyses"]
    assert [a["analysis_id"] for a in shown] == [result["analysis_id"]]
    assert shown[0]["answers"] == result["answers"]
    assert list(shown[0]["answers"]) == list(TYPED["properties"]), "not in the order of the questions"
    assert analyze(tools, call_id, answer_schema=TYPED)["answers"] == result["answers"], "not deterministic"


def test_answers_are_an_array_without_a_schema_and_follow_an_array_schema(tools, live_sim):
    call_id = ended_call(tools, live_sim, VOICEMAIL)
    plain = analyze(tools, call_id)["answers"]
    assert isinstance(plain, list)
    assert len(plain) == len(QUESTIONS)

    schema = {"type": "array", "prefixItems": [{"enum": ["human", "voicemail"]}, {"type": "boolean"}],
              "items": {"type": ["string", "integer"]}, "minItems": 4}
    typed = analyze(tools, call_id, answer_schema=schema)["answers"]
    Draft202012Validator(schema).validate(typed)
    assert typed[0] == "voicemail"


@pytest.mark.parametrize(("schema", "says"), [
    ({"type": "strin"}, "not a valid JSON Schema"),
    ({"type": "object", "properties": {"a": {"minLength": -1}}}, "not a valid JSON Schema"),
    ({"type": "object", "properties": {"only_one": {"type": "string"}}}, "1 properties for 4 questions"),
    ({"type": "string"}, "must describe all the answers"),
])
def test_an_answer_schema_that_is_not_a_json_schema_for_the_answers_is_refused_and_nothing_is_stored(
        tools, live_sim, schema, says):
    call_id = ended_call(tools, live_sim)
    code, message = error_of(tools, "analyzeCall", {"call_id": call_id, "questions": QUESTIONS,
                                                    "answer_schema": schema})
    assert code == "invalid_analysis_request"
    assert says in message
    assert not CallAnalysis.objects.exists()
    assert requests_to(live_sim, "POST /v1/calls/{id}/analyze") == 0
    assert details(tools, call_id)["analyses"] == []


def test_another_users_call_is_not_found_and_a_call_not_ended_cannot_be_analyzed(
        connect, mcp_user, make_user, live_sim):
    alice = connect(mcp_user)
    bob = connect(make_user("mcp-bob", credits=GRANTED))
    ended = ended_call(alice, live_sim)
    busy = ended_call(alice, live_sim, BUSY)
    running = place(alice, "+12125550102")["call_id"]

    for call_id in (ended, running, str(uuid.uuid4())):
        code, _ = error_of(bob, "analyzeCall", {"call_id": call_id, "questions": QUESTIONS})
        assert code == "call_not_found"
    code, message = error_of(alice, "analyzeCall", {"call_id": running, "questions": QUESTIONS})
    assert code == "call_not_ended"
    assert "has not ended yet" in message
    assert error_of(alice, "analyzeCall", {"call_id": busy, "questions": QUESTIONS})[0] == "call_not_analyzable"
    assert not CallAnalysis.objects.exists()


# --- listVoices and the voice of a call ----------------------------------------------------------------------------


def test_list_voices_is_cached_and_a_call_with_an_unknown_voice_is_refused(tools, mcp_user, live_sim):
    cache.delete(voices_cache_key(configured_provider()))
    first = tools.call("listVoices")
    second = tools.call("listVoices", {"query": "german male"})
    assert not first.is_error
    assert not second.is_error
    assert first.structured is not None
    assert second.structured is not None
    names = {voice["name"] for voice in first.structured["voices"]}
    assert {"maya", "josh"} <= names
    assert [voice["name"] for voice in second.structured["voices"]] == ["florian"]
    assert requests_to(live_sim, "GET /v1/voices") == 1

    code, message = error_of(tools, "makePhoneCall", {"phone_number": HUMAN, "task": "Hi.", "voice": "nobody"})
    assert code == "unknown_voice"
    assert "listVoices" in message
    assert "maya" in message
    assert sim_state(live_sim)["calls"] == []
    assert balance(mcp_user) == GRANTED
    assert place(tools, HUMAN, voice="Maya")["voice"] == "Maya"
    assert requests_to(live_sim, "GET /v1/voices") == 1


# --- getAccountStatus ----------------------------------------------------------------------------------------------


def test_get_account_status_shows_the_provider_part_to_staff_only(connect, mcp_user, make_user, live_sim):
    alice = connect(mcp_user)
    place(alice, HUMAN)
    staff = connect(make_user("mcp-staff", credits=5, is_staff=True))

    mine = alice.call("getAccountStatus").structured
    assert mine is not None
    assert mine["credits"] == {"available": GRANTED - 140, "reserved": 140, "total": GRANTED}
    assert mine["provider"] is None
    assert "staff only" in mine["note"]

    theirs = staff.call("getAccountStatus").structured
    assert theirs is not None
    assert theirs["credits"] == {"available": 5, "reserved": 0, "total": 5}
    provider = theirs["provider"]
    assert provider["plan"] == "start"
    assert (provider["calls_per_day"], provider["calls_per_hour"], provider["concurrency"]) == (100, 100, 10)
    assert provider["balance_usd"] == pytest.approx(50)
    assert provider["total_calls"] == 1


# --- the REST twins --------------------------------------------------------------------------------------------------


@pytest.fixture
def rest(db, make_user, sim) -> Callable[..., Any]:  # noqa: ANN001
    def client(user: User) -> Any:
        return bearer(token_for_user(user=user))

    return client


def test_rest_analyze_voices_and_account(rest, make_user, sim, provider):
    alice, bob = make_user("rest-alice", credits=500), make_user("rest-bob", credits=500)
    call = services.call_place(provider=provider, user=alice, to_number=HUMAN, task="Book a table.")
    httpx.post(f"{sim.url}/_sim/advance", json={"seconds": 120}, timeout=5).raise_for_status()
    services.call_refresh(provider=provider, call=call, source="api")
    url = f"/api/v1/calls/{call.id}/analyze/"

    made = rest(alice).post(url, {"questions": QUESTIONS, "answer_schema": TYPED}, format="json")
    assert made.status_code == 201, made.content
    Draft202012Validator(TYPED).validate(made.json()["answers"])
    assert rest(alice).get(f"/api/v1/calls/{call.id}/").json()["analyses"][0]["answers"] == made.json()["answers"]

    bad = rest(alice).post(url, {"questions": QUESTIONS, "answer_schema": {"type": 12}}, format="json")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_analysis_request")
    empty = rest(alice).post(url, {"questions": []}, format="json")
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "invalid_analysis_request")
    foreign = rest(bob).post(url, {"questions": QUESTIONS}, format="json")
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "call_not_found")
    assert CallAnalysis.objects.count() == 1

    voices = rest(alice).get("/api/v1/voices/", {"query": "josh"})
    assert voices.status_code == 200
    assert [v["name"] for v in voices.json()["voices"]] == ["josh"]
    account = rest(alice).get("/api/v1/account/").json()
    assert account["provider"] is None
    assert account["credits"]["reserved"] == 0


def test_the_call_admin_page_shows_each_question_beside_its_answer(admin_client, make_user, sim, provider):
    call = services.call_place(provider=provider, user=make_user("admin-alice", credits=500), to_number=HUMAN,
                               task="Book a table.")
    httpx.post(f"{sim.url}/_sim/advance", json={"seconds": 120}, timeout=5).raise_for_status()
    call = services.call_refresh(provider=provider, call=call, source="api")
    call_analyze(provider=provider, call=call, questions=QUESTIONS, answer_schema=TYPED, source="api")

    page = admin_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "Analyses (analyzeCall)" in page
    assert "<td>Who answered the call?</td><td>&quot;human&quot;</td>" in page
    assert "<td>How long did the call last, in seconds?</td><td>45</td>" in page


# --- the simulator's analyze endpoint -------------------------------------------------------------------------------


def test_the_simulator_answers_bland_style_hints_deterministically_and_charges_for_it(sim, provider):
    with httpx.Client(base_url=sim.url, headers={"authorization": SIM_KEY}, timeout=5) as bland:
        call_id = bland.post("/v1/calls", json={"phone_number": VOICEMAIL, "task": "Remind Sam."}).json()["call_id"]
        questions = {"questions": [["Who answered the call?", "human or voicemail"],
                                   ["Was a voicemail message left?", "boolean"],
                                   ["How long did the call last in seconds?", "number"]]}
        early = bland.post(f"/v1/calls/{call_id}/analyze", json=questions)
        assert (early.status_code, early.json()["status"]) == (400, "error")
        httpx.post(f"{sim.url}/_sim/advance", json={"seconds": 120}, timeout=5).raise_for_status()
        before = bland.get("/v1/me").json()["billing"]["current_balance"]

        first = bland.post(f"/v1/calls/{call_id}/analyze", json=questions).json()
        assert first["answers"] == ["voicemail", True, 20]
        assert first["credits_used"] == pytest.approx(0.003 + 3 * 0.0015)
        assert bland.post(f"/v1/calls/{call_id}/analyze", json=questions).json()["answers"] == first["answers"]
        assert bland.get("/v1/me").json()["billing"]["current_balance"] == pytest.approx(before - 2 * 0.0075)
        for bad in ({"questions": []}, {"questions": [["only a question"]]}, {"goal": 3, "questions": [["a", "b"]]}):
            refused = bland.post(f"/v1/calls/{call_id}/analyze", json=bad)
            assert refused.status_code == 400, bad
        assert bland.post(f"/v1/calls/{uuid.uuid4()}/analyze", json=questions).status_code == 404


# --- analyzeCampaign -------------------------------------------------------------------------------------------------


def test_analyze_campaign_answers_each_ended_call_in_row_order_page_by_page(
        connect, funded, make_user, live_sim, settings):
    settings.POLLER_GRACE_SECONDS = 0
    tools = connect(funded)
    ten_then_two_busy = campaign_rows(12, scenarios=(0, 2))  # rows 0-9: a human answers; 10-11: busy
    campaign_id = start_campaign(tools, 12, calls=ten_then_two_busy)["campaign_id"]
    sim_advance(live_sim, 400)
    poll_calls(options=PollOptions.from_settings(max_seconds=60, trigger="test"))
    campaign_wait(lambda: all_ended(campaign_id), "every call of the campaign to end")
    arguments = {"campaign_id": campaign_id, "questions": QUESTIONS, "answer_schema": TYPED, "calls_limit": 8}

    first = tools.call("analyzeCampaign", arguments)
    assert not first.is_error, first.text
    page = first.structured
    assert (page["analyzed"], page["skipped"], page["total_calls"], page["next_offset"]) == (8, 0, 12, 8)
    assert [row["campaign_index"] for row in page["calls"]] == list(range(8))
    for row in page["calls"]:
        Draft202012Validator(TYPED).validate(row["answers"])
        assert row["answers"]["answered_by"] == "human"
    second = tools.call("analyzeCampaign", {**arguments, "calls_offset": 8}).structured
    assert (second["analyzed"], second["skipped"], second["next_offset"]) == (2, 2, None)
    assert [row["error"]["code"] for row in second["calls"] if row["error"]] == ["call_not_analyzable"] * 2
    assert CallAnalysis.objects.filter(call__campaign_id=campaign_id).count() == 10
    analyzed = page["calls"][0]
    assert details(tools, analyzed["call_id"])["analyses"][0]["answers"] == analyzed["answers"]

    code, _ = error_of(tools, "analyzeCampaign", {**arguments, "answer_schema": {"type": "nonsense"}})
    assert code == "invalid_analysis_request"
    stranger_user = make_user("mcp-carol", credits=GRANTED)
    stranger = connect(stranger_user)
    assert error_of(stranger, "analyzeCampaign", arguments)[0] == "campaign_not_found"
    assert CallAnalysis.objects.filter(call__campaign_id=campaign_id).count() == 10

    url = f"/api/v1/campaigns/{campaign_id}/analyze/"
    over_rest = bearer(token_for_user(user=funded)).post(url, {"questions": QUESTIONS[:1], "calls_limit": 2},
                                                         format="json")
    assert over_rest.status_code == 200, over_rest.content
    assert (over_rest.json()["analyzed"], over_rest.json()["next_offset"]) == (2, 2)
    refused = bearer(token_for_user(user=stranger_user)).post(url, {"questions": QUESTIONS[:1]}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "campaign_not_found")
