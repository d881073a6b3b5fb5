"""Live call events: while a call runs, its transcript grows and subscribers hear of each line.

The Bland simulator posts its signed live events (``webhook_events``: "Call connected", agent and user speech)
to the live server's webhook as its clock moves; the test moves the clock and, after each line is delivered,
waits (bounded) for the resource update it causes and reads the transcript. The official SDK client is the
subscriber, over Streamable HTTP and over WebSocket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import httpx
import pytest
from anyio.to_thread import run_sync
from mcp.shared.exceptions import MCPDeprecationWarning

from calls.models import Call, CallEvent, CallStatus
from calls.providers import configured_provider
from calls.providers.simulator import BackgroundSimulator
from calls.services import call_place
from tests.calls.conftest import HUMAN, post_webhook, queued_call, sign, sim_advance, sim_details, sim_state
from tests.calls.test_mcp_tools import SdkTools
from tests.mcp.sdk import Inbox, streamable_client, websocket_client
from users.models import User
from users.services import token_for_user

TASK = "Ask whether the parcel can be left with a neighbour."
WAIT = 15
LABELS = {"assistant": "Agent", "user": "Callee"}

Opener = Callable[..., AbstractAsyncContextManager[Any]]


def all_delivered(sim: BackgroundSimulator, provider_id: str) -> list[dict[str, Any]]:
    """The call's live events once every one posted so far was delivered (bounded wait)."""
    deadline = time.monotonic() + WAIT
    while True:
        events = [e for e in sim_state(sim)["live_events"] if e["call_id"] == provider_id]
        if all(e["delivered"] for e in events):
            return events
        assert time.monotonic() < deadline, f"live events not delivered: {events}"


async def updates_reach(inbox: Inbox, uri: str, count: int) -> None:
    with anyio.fail_after(WAIT):
        while inbox.updated_uris().count(uri) < count:
            await inbox.wait_changed(0.5)


@pytest.mark.parametrize("opener", [streamable_client, websocket_client], ids=["http", "websocket"])
def test_a_subscriber_sees_an_update_for_each_transcript_line_before_the_call_ends_in_order(
        opener, mcp_server, mcp_user, live_sim):
    async def follow() -> tuple[list[str], list[str], str]:
        token = await run_sync(lambda: token_for_user(user=mcp_user))
        inbox = Inbox()
        async with opener(mcp_server, token, mode="legacy", message_handler=inbox.message_handler) as client:
            placed = await client.call_tool("makePhoneCall", {"phone_number": HUMAN, "task": TASK})
            call_id = placed.structured_content["call_id"]
            call_uri, transcript_uri = f"calls://{call_id}", f"calls://{call_id}/transcript"
            for uri in (call_uri, transcript_uri):
                with pytest.warns(MCPDeprecationWarning):  # the SDK warns: 2026-07-28 has subscriptions/listen
                    await client.subscribe_resource(uri)
            provider_id = await run_sync(lambda: Call.objects.get(pk=call_id).provider_call_id)
            said: list[str] = []  # each line, as the transcript showed it right after its update arrived
            while not (await run_sync(sim_details, live_sim, provider_id))["completed"]:
                await run_sync(sim_advance, live_sim, 1)
                events = await run_sync(all_delivered, live_sim, provider_id)
                spoken = [e["event"] for e in events if "speech:" in e["event"]]
                if len(spoken) > len(said) and not (await run_sync(sim_details, live_sim, provider_id))["completed"]:
                    await updates_reach(inbox, transcript_uri, len(spoken))
                    text = (await client.read_resource(transcript_uri)).contents[0].text
                    said += text.splitlines()[len(said):]
            status = json.loads((await client.read_resource(call_uri)).contents[0].text)["status"]
            return said, inbox.updated_uris(), status

    said, updated, status = anyio.run(follow)

    final = sim_details(live_sim, Call.objects.get().provider_call_id)
    lines = [f"{LABELS[t['user']]}: {t['text']}" for t in final["transcripts"] if t["user"] in LABELS]
    assert len(lines) >= 6
    assert said == lines[:len(said)], "the transcript grew in the order the lines were said"
    assert len(said) >= len(lines) - 1, "every line but the one the call ends with was seen while it ran"
    transcript_updates = [uri for uri in updated if uri.endswith("/transcript")]
    assert len(transcript_updates) >= len(said)
    assert status == "completed"


@pytest.fixture
def sdk(mcp_server: str, mcp_user: User, live_sim: BackgroundSimulator) -> Iterator[SdkTools]:
    tools = SdkTools(mcp_server, token_for_user(user=mcp_user))
    yield tools
    tools.close()


def test_make_phone_call_progress_messages_quote_the_latest_line_while_it_waits(sdk, live_sim):
    # queued -> ringing -> in progress (dialled); then past the pick-up and the first line; then a line at a time
    steps = {"Call queued": 2, "Call ringing": 1, "Call in progress": 15}
    messages: list[str] = []

    class Clock:
        seen: list[Any] = []

        def react(self, message: str | None) -> None:
            messages.append(message or "")
            sim_advance(live_sim, steps.get(message or "", 7))  # a line is said every ~6 s of a 45 s call

    answer = sdk.call("makePhoneCall", {"phone_number": HUMAN, "task": TASK, "wait_for_completion": True,
                                        "max_wait_seconds": 60}, progress=Clock())

    assert not answer.is_error, answer.text
    assert answer.structured["status"] == "completed"
    quoted = [m.split(". ", 1)[1] for m in messages if m.startswith("Call in progress. ")]
    assert len(quoted) >= 3, messages
    assert quoted[0].startswith("Agent: ")
    lines = [f"{LABELS[t['user']]}: {t['text']}" for t in
             sim_details(live_sim, Call.objects.get().provider_call_id)["transcripts"] if t["user"] in LABELS]
    assert all(line in lines for line in quoted)
    assert [lines.index(line) for line in quoted] == sorted(lines.index(line) for line in quoted)
    assert messages[-1] == "Call completed"


# --- the webhook: signed, idempotent, and only for calls in flight ---------------------------------------------


def live_event(provider_id: str, message: str, at: str = "2026-05-01T10:00:05+00:00") -> dict[str, Any]:
    return {"call_id": provider_id, "message": message, "category": "call", "log_level": "info", "timestamp": at}


@pytest.mark.django_db
def test_a_badly_signed_live_event_is_refused_and_changes_nothing(anon, user, calls_settings):
    call = queued_call(user)
    body = json.dumps(live_event(call.provider_call_id, "Agent speech: Hello!")).encode()

    for signature in ("", "0" * 64, sign(body, secret="another-secret"), sign(b"another body")):
        response = post_webhook(anon, None, raw=body, signature=signature)
        assert response.status_code == 401, signature
        assert response.json()["error"]["code"] == "webhook_signature_invalid"

    call.refresh_from_db()
    assert (call.status, call.transcript) == (CallStatus.QUEUED, [])
    assert not CallEvent.objects.filter(call=call).exists()


@pytest.mark.django_db
def test_live_events_connect_the_call_and_append_each_line_once_in_the_order_said(anon, user, calls_settings):
    call = queued_call(user)
    pid = call.provider_call_id
    events = [live_event(pid, "Call connected", "2026-05-01T10:00:03+00:00"),
              live_event(pid, "Agent speech: Hello!", "2026-05-01T10:00:05+00:00"),
              live_event(pid, "Handling user speech: Hi, who is this?", "2026-05-01T10:00:08+00:00"),
              live_event(pid, "TTS: 218ms", "2026-05-01T10:00:09+00:00")]

    for event in [events[0], events[2], events[1], events[1], events[3], events[2]]:  # out of order, redelivered
        response = post_webhook(anon, event)
        assert response.status_code == 200, response.content
        assert response.json() == {"received": True, "call_id": pid}

    call.refresh_from_db()
    assert call.status == CallStatus.IN_PROGRESS
    assert call.started_at.isoformat() == "2026-05-01T10:00:03+00:00"
    assert [(s["speaker"], s["text"]) for s in call.transcript] == [("agent", "Hello!"), ("callee", "Hi, who is this?")]
    assert CallEvent.objects.filter(call=call).count() == 1


@pytest.mark.django_db
def test_a_live_event_for_an_ended_or_unknown_call_changes_nothing(anon, user, calls_settings):
    said = [{"speaker": "agent", "text": "Bye.", "at": None}]
    ended = queued_call(user, status=CallStatus.COMPLETED, transcript=said)

    for event in (live_event(ended.provider_call_id, "Agent speech: One more thing."),
                  live_event("no-such-call", "Call connected")):
        assert post_webhook(anon, event).status_code == 200

    ended.refresh_from_db()
    assert (ended.status, ended.transcript) == (CallStatus.COMPLETED, said)


def test_the_simulator_signs_its_live_events_and_sends_them_only_when_asked(bland_sim):
    with httpx.Client(base_url=bland_sim.url, timeout=5) as control:
        control.post("/_sim/reset", json={"balance": 50}).raise_for_status()
        headers = {"authorization": "sim-key"}
        for events in ([], ["queue"]):
            body = {"phone_number": "+12125550101", "task": TASK, "webhook": "http://127.0.0.1:9/hook",
                    "webhook_events": events}
            control.post("/v1/calls", json=body, headers=headers).raise_for_status()
            control.post("/_sim/reset", json={"balance": 50}).raise_for_status()
        refused = control.post("/v1/calls", headers=headers,
                               json={"phone_number": HUMAN, "task": TASK, "webhook_events": "call"})
        assert refused.status_code == 400
        assert "webhook_events must be an array of strings." in refused.json()["errors"]
        placed = control.post("/v1/calls", headers=headers, json={
            "phone_number": HUMAN, "task": TASK, "webhook": "http://127.0.0.1:9/hook", "webhook_events": ["call"]})
        control.post("/_sim/advance", json={"seconds": 100}).raise_for_status()
        events = control.get("/_sim/state").json()["live_events"]
    call_id = placed.json()["call_id"]
    assert [e["event"] for e in events][:2] == ["Call connected", "Agent speech: Hello! This is an AI assistant "
                                                                  "calling on someone's behalf."]
    assert {e["call_id"] for e in events} == {call_id}
    assert any(e["event"].startswith("Handling user speech: ") for e in events)


def test_a_call_placed_without_live_events_sends_none(live_db, mcp_user: User, live_sim, calls_settings):
    calls_settings.CALL_LIVE_EVENTS = False

    call = call_place(provider=configured_provider(), user=mcp_user, to_number=HUMAN, task=TASK)
    sim_advance(live_sim, 100)

    assert sim_state(live_sim)["live_events"] == []
    assert sim_details(live_sim, call.provider_call_id)["completed"]
