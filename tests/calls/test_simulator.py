"""The Bland simulator over real HTTP: a server on a free port, httpx as the client, the clock advanced
through ``/_sim/advance`` (the server's own clock is frozen: ``time_scale=0``)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from calls.providers.simulator import BackgroundSimulator
from tests.servers import free_port

API_KEY = "test-key"
SECRET = "test-webhook-secret"
HUMAN, VOICEMAIL, BUSY, NO_ANSWER, FAILED, LONG, OTHER = (
    "+12125550100", "+12125550110", "+12125550120", "+12125550130", "+12125550140", "+12125550150", "+12125550199",
)
AUTH_FAILURE = {"data": None, "errors": [{"error": "AUTH_FAILURE", "message": "Unauthorized"}]}
SAME_NUMBER = "Calls can only be sent every 10 seconds to the same number. Please try again in a few seconds."
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(
        time_scale=0, api_key=API_KEY, webhook_secret=SECRET, webhook_backoff=0.05, webhook_timeout=2
    ) as sim:
        yield sim


@pytest.fixture(scope="module")
def anonymous(server: BackgroundSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def authorised(server: BackgroundSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"authorization": API_KEY}, timeout=5) as client:
        yield client


@pytest.fixture
def control(anonymous: httpx.Client) -> httpx.Client:
    """The /_sim/ endpoints (no auth); every test starts from a reset simulator."""
    anonymous.post("/_sim/reset").raise_for_status()
    return anonymous


@pytest.fixture
def bland(authorised: httpx.Client, control: httpx.Client) -> httpx.Client:
    return authorised


def place(bland: httpx.Client, number: str = HUMAN, **fields: Any) -> str:
    response = bland.post("/v1/calls", json={"phone_number": number, "task": "Book a table for two at 7pm.", **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["message"] == "Call successfully queued."
    assert body["batch_id"] is None
    return body["call_id"]


def advance(control: httpx.Client, seconds: float) -> list[str]:
    response = control.post("/_sim/advance", json={"seconds": seconds})
    response.raise_for_status()
    return response.json()["ended"]


def details(bland: httpx.Client, call_id: str) -> dict[str, Any]:
    response = bland.get(f"/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    return response.json()


def errors_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == f"Invalid parameters. Error: {json.dumps(body['errors'], separators=(',', ':'))}"
    return body["errors"]


# --- scenarios and lifecycle ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "status", "answered_by", "error_message", "seconds", "disposition"),
    [
        (HUMAN, "completed", "human", None, 45, "COMPLETED_ACTION"),
        (VOICEMAIL, "completed", "voicemail", None, 20, "NO_CONTACT_MADE"),
        (BUSY, "busy", "unknown", "Call failed. The number you dialed is busy. Please try again later.", 0, "BUSY"),
        (NO_ANSWER, "no-answer", "no-answer", None, 0, "NO_ANSWER"),
        (FAILED, "failed", "unknown", "Call failed. The number you dialed is not found.", 0, "FAILED"),
        (LONG, "completed", "human", None, 600, "COMPLETED_ACTION"),
        (OTHER, "completed", "human", None, 45, "COMPLETED_ACTION"),
    ],
)
def test_each_scenario_ends_in_its_documented_state(
    bland: httpx.Client, control: httpx.Client, number: str, status: str, answered_by: str,
    error_message: str | None, seconds: int, disposition: str,
) -> None:
    call_id = place(bland, number)
    assert advance(control, 700) == [call_id]
    call = details(bland, call_id)
    assert (call["completed"], call["queue_status"], call["status"]) == (True, "complete", status)
    assert (call["answered_by"], call["error_message"]) == (answered_by, error_message)
    assert call["corrected_duration"] == str(seconds)
    assert call["call_length"] == pytest.approx(seconds / 60, abs=1e-4)
    assert call["price"] == pytest.approx(max(0.015, seconds / 60 * 0.14), abs=1e-6)
    assert call["disposition_tag"] == disposition
    assert call["call_ended_by"] == ("ASSISTANT" if seconds else None)
    assert call["summary"]
    assert (call["call_id"], call["c_id"], call["to"]) == (call_id, call_id, number)
    assert bool(call["transcripts"]) is bool(seconds)
    # One advance ran the whole call: on the wall clock it started and ended at that moment.
    assert datetime.fromisoformat(call["end_at"]) >= datetime.fromisoformat(call["started_at"])


def test_a_call_moves_through_the_queue_statuses_and_reports_live_progress(
    bland: httpx.Client, control: httpx.Client
) -> None:
    call_id = place(bland, HUMAN, max_duration=5)
    seen = [details(bland, call_id)]
    for step in (1, 1, 1, 15, 50):
        advance(control, step)
        seen.append(details(bland, call_id))
    assert [c["queue_status"] for c in seen] == ["new", "queued", "allocated", "started", "started", "complete"]
    assert seen[0]["started_at"] is None
    assert seen[0]["status"] is None
    assert seen[0]["price"] is None
    live = seen[4]
    assert live["completed"] is False
    assert live["answered_by"] == "human"  # decided 5 s after pick-up
    assert seen[3]["answered_by"] is None
    assert 0 < len(live["transcripts"]) < len(seen[5]["transcripts"])
    # While live, end_at is when max_duration will cut the call: 5 min after it started, 4:45 from now (a
    # frozen clock projects in real time).
    remaining = datetime.fromisoformat(live["end_at"]) - datetime.fromisoformat(live["variables"]["now_utc"])
    assert remaining == timedelta(minutes=5) - timedelta(seconds=15)
    assert seen[5]["completed"] is True


def test_a_long_call_ends_at_max_duration_when_that_is_shorter(bland: httpx.Client, control: httpx.Client) -> None:
    call_id = place(bland, LONG, max_duration=2)
    advance(control, 200)
    call = details(bland, call_id)
    assert (call["status"], call["corrected_duration"], call["call_length"]) == ("completed", "120", 2.0)
    assert call["price"] == pytest.approx(0.28)


def test_the_transcript_follows_blands_format_and_is_deterministic(bland: httpx.Client, control: httpx.Client) -> None:
    task = "Confirm the dentist appointment on Friday. Ask about parking."
    first, second = (
        place(bland, number, task=task, first_sentence="Hi, this is Maya from Smile Dental.")
        for number in (HUMAN, OTHER)
    )
    advance(control, 100)
    one, two = details(bland, first), details(bland, second)
    transcripts = one["transcripts"]
    assert one["concatenated_transcript"] == "".join(f"{t['user']}: {t['text']} \n " for t in transcripts)
    assert one["concatenated_transcript"].startswith("assistant: Hi, this is Maya from Smile Dental. \n user: ")
    assert one["concatenated_transcript"].endswith("agent-action: Ended call \n ")
    assert "Confirm the dentist appointment on Friday." in one["concatenated_transcript"]
    assert one["concatenated_transcript"] == two["concatenated_transcript"]
    assert {t["user"] for t in transcripts} == {"user", "assistant", "agent-action"}
    assert [t["id"] for t in transcripts] == sorted(t["id"] for t in transcripts)
    for item in transcripts:
        assert set(item) == {"id", "created_at", "text", "user", "c_id", "status", "transcript_id"}
        assert (item["c_id"], item["status"]) == (first, None)


def test_wait_for_greeting_lets_the_callee_speak_first(bland: httpx.Client, control: httpx.Client) -> None:
    call_id = place(bland, HUMAN, wait_for_greeting=True)
    advance(control, 100)
    assert details(bland, call_id)["concatenated_transcript"].startswith("user: Hello? \n assistant: ")


def test_a_pathway_call_needs_no_task_and_echoes_metadata(bland: httpx.Client, control: httpx.Client) -> None:
    response = bland.post(
        "/v1/calls",
        json={"phone_number": HUMAN, "pathway_id": "pw-1", "metadata": {"order": 7}, "request_data": {"name": "Ann"}},
    )
    assert response.status_code == 200
    call = details(bland, response.json()["call_id"])
    assert (call["pathway_id"], call["metadata"], call["request_data"]) == ("pw-1", {"order": 7}, {"name": "Ann"})
    assert call["variables"]["name"] == "Ann"


def test_a_scheduled_call_stays_queued_until_its_start_time(bland: httpx.Client, control: httpx.Client) -> None:
    start = (datetime.now(UTC) + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S +00:00")
    call_id = place(bland, HUMAN, start_time=start)
    advance(control, 500)
    assert details(bland, call_id)["queue_status"] == "queued"
    advance(control, 200)
    call = details(bland, call_id)
    assert (call["queue_status"], call["status"]) == ("complete", "completed")
    created, started = datetime.fromisoformat(call["created_at"]), datetime.fromisoformat(call["started_at"])
    assert created <= started <= datetime.now(UTC)  # on the wall clock, though the wait ran on the simulated one
    (planned,) = control.get("/_sim/state").json()["calls"]
    assert datetime.fromisoformat(planned["due_at"]) - datetime.fromisoformat(planned["planned_end"]) < timedelta(0)
    assert int(call["corrected_duration"]) == 45


def test_an_iso_start_time_with_an_offset_is_accepted(bland: httpx.Client) -> None:
    start = (datetime.now(UTC) + timedelta(hours=1)).astimezone().isoformat()
    assert details(bland, place(bland, HUMAN, start_time=start))["queue_status"] in ("new", "queued")


# --- auth -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "wrong"}, {"authorization": "Bearer wrong"}, {"x-api-key": API_KEY}],
    ids=["missing", "wrong", "wrong-bearer", "x-api-key-only"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/calls"), ("GET", "/v1/calls"), ("GET", "/v1/calls/some-id"), ("POST", "/v1/calls/x/stop"),
     ("GET", "/v1/recordings/x"), ("GET", "/v1/me"), ("GET", "/v1/no-such-endpoint")],
)
def test_every_endpoint_answers_a_bad_key_with_the_auth_failure_envelope(
    control: httpx.Client, headers: dict[str, str], method: str, path: str
) -> None:
    response = control.request(method, path, headers=headers, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert response.json() == AUTH_FAILURE


@pytest.mark.parametrize("header", [API_KEY, f"Bearer {API_KEY}", f"bearer {API_KEY}"])
def test_the_key_is_accepted_raw_or_as_a_bearer_token(control: httpx.Client, header: str) -> None:
    response = control.get("/v1/me", headers={"authorization": header})
    assert response.status_code == 200
    assert response.json()["status"] == "active"


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ["Missing required parameter: phone_number.", "Missing required parameter: task."]),
        ({"phone_number": HUMAN}, ["Missing required parameter: task."]),
        ({"task": "x"}, ["Missing required parameter: phone_number."]),
        ({"phone_number": [HUMAN], "task": "x"}, ["Phone number must be a string or number."]),
        ({"phone_number": HUMAN, "task": 5}, ["Task must be a string."]),
        ({"phone_number": "12125550100", "task": "x"}, ["Invalid phone number."]),
        ({"phone_number": "+1 555", "task": "x"}, ["Invalid phone number."]),
        ({"phone_number": "911", "task": "x"},
         ["Cannot dial sensitive numbers. More attempts will result in being blocked."]),
        ({"phone_number": HUMAN, "task": "x", "record": "yes"}, ["Record must be a boolean"]),
        ({"phone_number": HUMAN, "task": "x", "wait_for_greeting": 1}, ["wait_for_greeting must be a boolean."]),
        ({"phone_number": HUMAN, "task": "x", "max_duration": 0}, ["max_duration must be a positive number."]),
        ({"phone_number": HUMAN, "task": "x", "max_duration": "30"}, ["max_duration must be a positive number."]),
        ({"phone_number": HUMAN, "task": "x", "max_duration": 0.5}, ["Max duration must be at least 1"]),
        ({"phone_number": HUMAN, "task": "x", "max_duration": 721}, ["max_duration must be at most 12 hours."]),
        ({"phone_number": HUMAN, "task": "x", "metadata": []}, ["metadata must be an object."]),
        ({"phone_number": HUMAN, "task": "x", "request_data": "a"}, ["request_data must be an object."]),
        ({"phone_number": HUMAN, "task": "x", "voice": 3}, ["Voice must be a string."]),
        ({"phone_number": HUMAN, "task": "x", "webhook": "http://example.com/hook"},
         ["webhook must be a string that starts with https://."]),
        ({"phone_number": HUMAN, "task": "x", "webhook": 7}, ["webhook must be a string that starts with https://."]),
        ({"phone_number": HUMAN, "task": "x", "start_time": "tomorrow"}, ["Invalid start_time."]),
        ({"phone_number": HUMAN, "task": "x", "from": "123"}, ["Invalid from phone number."]),
        ({"phone_number": HUMAN, "task": "x", "keywords": ["a"] * 21}, ["At most 20 keywords can be added."]),
        ({"phone_number": "bad", "task": 1, "record": 1},
         ["Invalid phone number.", "Task must be a string.", "Record must be a boolean"]),
    ],
)
def test_invalid_requests_get_blands_exact_error_strings(
    bland: httpx.Client, body: dict[str, Any], expected: list[str]
) -> None:
    assert errors_of(bland.post("/v1/calls", json=body)) == expected


def test_a_start_time_under_five_minutes_ahead_is_refused(bland: httpx.Client) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S +00:00")
    response = bland.post("/v1/calls", json={"phone_number": HUMAN, "task": "x", "start_time": soon})
    assert errors_of(response) == ["Calls must be scheduled at least 5 minutes in advance, or more"]


def test_a_body_that_is_not_a_json_object_is_refused(bland: httpx.Client) -> None:
    assert errors_of(bland.post("/v1/calls", content=b"not json")) == ["Request body must be a JSON object."]


def test_unknown_keys_are_ignored_and_numbers_are_normalised(bland: httpx.Client) -> None:
    call_id = place(bland, 2125550100, model="turbo", some_future_field={"x": 1}, amd=True)  # type: ignore[arg-type]
    assert details(bland, call_id)["to"] == HUMAN


@pytest.mark.parametrize("url", ["https://hooks.example.com/bland", "http://127.0.0.1:9/hook", "http://localhost/x"])
def test_https_webhooks_and_loopback_http_ones_are_accepted(bland: httpx.Client, url: str) -> None:
    place(bland, HUMAN, webhook=url)


def test_an_unknown_call_is_not_found(bland: httpx.Client) -> None:
    response = bland.get("/v1/calls/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Call not found."}


# --- list -------------------------------------------------------------------------------------------------------


def test_the_list_filters_orders_and_slices_calls(bland: httpx.Client, control: httpx.Client) -> None:
    first = place(bland, HUMAN)
    advance(control, 3600 * 3)
    busy = place(bland, BUSY)
    voicemail = place(bland, VOICEMAIL)
    advance(control, 100)
    live = place(bland, LONG)

    def ids(**params: Any) -> list[str]:
        response = bland.get("/v1/calls", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["calls"])
        return [c["call_id"] for c in body["calls"]]

    body = bland.get("/v1/calls").json()
    assert body["total_count"] == body["count"] == 4
    assert set(body["calls"][0]) == {"call_id", "created_at", "call_length", "to", "from", "completed",
                                     "queue_status", "error_message", "answered_by", "batch_id"}
    assert ids() == [live, voicemail, busy, first]
    assert ids(ascending="true") == [first, busy, voicemail, live]
    assert ids(to_number=BUSY) == [busy]
    assert ids(to_number="(212) 555-0120") == [busy]
    assert ids(from_number="+14155550100", ascending="true") == [first, busy, voicemail, live]
    assert ids(completed="false") == [live]
    assert ids(answered_by="voicemail") == [voicemail]
    assert ids(duration_gt=0.5) == [first]
    assert ids(duration_lt=0.5, completed="true") == [voicemail, busy]
    assert ids(limit=2) == [live, voicemail]
    assert ids(**{"from": 1, "to": 3}) == [voicemail, busy]
    first_created = details(bland, first)["created_at"]
    busy_created = details(bland, busy)["created_at"]
    assert ids(start_date=busy_created) == [live, voicemail, busy]
    assert ids(end_date=first_created) == [first]
    day = datetime.fromisoformat(first_created).date()
    assert first in ids(start_date=day.isoformat())
    assert ids(end_date=(day - timedelta(days=1)).isoformat()) == []
    sliced = bland.get("/v1/calls", params={"limit": 1}).json()
    assert (sliced["total_count"], sliced["count"]) == (4, 1)


def test_a_bad_list_parameter_is_a_400(bland: httpx.Client) -> None:
    response = bland.get("/v1/calls", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json()["status"] == "error"


# --- stop -------------------------------------------------------------------------------------------------------


def test_stopping_a_queued_call_cancels_it_for_free(bland: httpx.Client, control: httpx.Client) -> None:
    start = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S +00:00")
    call_id = place(bland, HUMAN, start_time=start)
    response = bland.post(f"/v1/calls/{call_id}/stop")
    assert response.json() == {"status": "success", "message": "Call ended successfully."}
    call = details(bland, call_id)
    assert (call["status"], call["completed"], call["price"], call["transcripts"]) == ("canceled", True, 0.0, [])
    assert call["disposition_tag"] == "CANCELED"
    assert bland.get("/v1/me").json()["billing"]["current_balance"] == 50.0


def test_stopping_a_live_call_ends_it_now_priced_for_the_time_connected(
    bland: httpx.Client, control: httpx.Client
) -> None:
    call_id = place(bland, LONG, record=True)
    advance(control, 3 + 5 + 90)  # dialled after 3 s, 5 s of ringing, then 90 s of talk
    assert bland.post(f"/v1/calls/{call_id}/stop").status_code == 200
    call = details(bland, call_id)
    assert (call["status"], call["answered_by"], call["call_ended_by"]) == ("completed", "human", "ASSISTANT")
    assert call["corrected_duration"] == "90"
    assert call["price"] == pytest.approx(90 / 60 * 0.14, abs=1e-6)
    assert call["transcripts"][-1]["user"] == "agent-action"
    assert "ended early" in call["summary"]
    assert call["recording_url"]
    advance(control, 1000)
    assert details(bland, call_id)["corrected_duration"] == "90"


def test_stopping_an_unknown_or_finished_call_is_an_error(bland: httpx.Client, control: httpx.Client) -> None:
    unknown = bland.post("/v1/calls/nope/stop")
    assert unknown.status_code == 404
    assert unknown.json() == {"status": "error", "message": "SID not found for the given c_id."}
    call_id = place(bland, BUSY)
    advance(control, 60)
    again = bland.post(f"/v1/calls/{call_id}/stop")
    assert again.status_code == 400
    assert again.json() == {"status": "error", "message": "Call has already ended."}


# --- recordings and corrected transcripts --------------------------------------------------------------------------


def _wav(data: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getnchannels(), audio.getframerate(), audio.getnframes()


def test_a_recorded_call_serves_a_real_wav(server: BackgroundSimulator, bland: httpx.Client,
                                           control: httpx.Client) -> None:
    call_id = place(bland, HUMAN, record=True)
    before = bland.get(f"/v1/recordings/{call_id}")
    assert before.status_code == 404
    advance(control, 100)
    call = details(bland, call_id)
    assert call["recording_url"] == f"{server.url}/v1/recordings/{call_id}"
    audio = bland.get(call["recording_url"])
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    channels, rate, frames = _wav(audio.content)
    assert (channels, rate) == (1, 8000)
    assert frames / rate == pytest.approx(45, abs=0.01)  # as long as the 45 s conversation
    assert len(audio.content) < 45 * 8000 + 100  # 8-bit samples: 8 KB a second
    mpeg = bland.get(f"/v1/recordings/{call_id}", headers={"content-type": "audio/mpeg"})
    assert mpeg.headers["content-type"] == "audio/wav"
    assert "WAV" in mpeg.headers["x-simulator-note"]
    assert mpeg.content == audio.content


def test_the_recording_of_a_call_stopped_mid_way_is_as_long_as_it_talked(bland: httpx.Client,
                                                                          control: httpx.Client) -> None:
    call_id = place(bland, HUMAN, record=True)
    advance(control, 30)  # picked up at 8 s: 22 s of conversation
    bland.post(f"/v1/calls/{call_id}/stop").raise_for_status()
    assert details(bland, call_id)["corrected_duration"] == "22"
    channels, rate, frames = _wav(bland.get(f"/v1/recordings/{call_id}").content)
    assert (channels, rate, frames) == (1, 8000, 22 * 8000)


def test_the_legacy_recording_endpoint_answers_json_or_audio(server: BackgroundSimulator, bland: httpx.Client,
                                                            control: httpx.Client) -> None:
    call_id = place(bland, VOICEMAIL, record=True)
    advance(control, 100)
    as_json = bland.get(f"/v1/calls/{call_id}/recording", headers={"accept": "application/json"})
    assert as_json.json() == {"status": "success", "url": f"{server.url}/v1/recordings/{call_id}"}
    as_audio = bland.get(f"/v1/calls/{call_id}/recording", headers={"accept": "audio/*"})
    assert _wav(as_audio.content)[2] > 0


def test_a_call_without_a_recording_answers_recording_not_found(bland: httpx.Client, control: httpx.Client) -> None:
    unrecorded, unanswered = place(bland, HUMAN), place(bland, BUSY, record=True)
    advance(control, 100)
    for call_id in (unrecorded, unanswered, "no-such-call"):
        assert details(bland, unrecorded)["recording_url"] is None
        response = bland.get(f"/v1/recordings/{call_id}")
        assert response.status_code == 404
        assert response.json() == {
            "data": None, "errors": [{"error": "CALL_RECORDING_NOT_FOUND", "message": "Call recording not found"}],
        }
        legacy = bland.get(f"/v1/calls/{call_id}/recording", headers={"accept": "application/json"})
        assert legacy.status_code == 404
        assert legacy.json() == {"status": "error", "message": "Error fetching recording"}


def test_the_corrected_transcript_has_timed_labelled_segments(bland: httpx.Client, control: httpx.Client) -> None:
    recorded, unrecorded = place(bland, HUMAN, record=True), place(bland, OTHER)
    assert bland.get(f"/v1/calls/{recorded}/correct").status_code == 404
    advance(control, 100)
    body = bland.get(f"/v1/calls/{recorded}/correct").json()
    assert body["status"] == "success"
    segments = body["corrected"]
    assert segments
    for segment in segments:
        assert 0 <= segment["start"] < segment["end"]
        assert segment["speaker_label"] in ("user", "assistant")
        assert 0 < segment["confidence"] <= 1
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert [o["id"] for o in body["original"]] == [t["id"] for t in details(bland, recorded)["transcripts"]]
    assert bland.get(f"/v1/calls/{unrecorded}/correct").status_code == 404


# --- account, limits, balance ---------------------------------------------------------------------------------------


def test_me_reports_the_balance_the_call_count_and_the_plan(bland: httpx.Client, control: httpx.Client) -> None:
    place(bland, HUMAN)
    place(bland, BUSY)
    advance(control, 100)
    assert bland.get("/v1/me").json() == {
        "status": "active",
        "billing": {"current_balance": pytest.approx(50 - 0.105 - 0.015), "refill_to": None},
        "total_calls": 2,
        "plan": {"name": "start", "daily_cap": 100, "hourly_cap": 100, "concurrency": 10, "rate_per_minute": 0.14},
    }


def test_the_same_number_twice_within_ten_seconds_is_a_429(bland: httpx.Client, control: httpx.Client) -> None:
    place(bland, HUMAN)
    advance(control, 9)
    response = bland.post("/v1/calls", json={"phone_number": HUMAN, "task": "again"})
    assert response.status_code == 429
    assert response.json() == {"status": "error", "message": SAME_NUMBER}
    place(bland, OTHER)  # another number is fine
    advance(control, 1)
    place(bland, HUMAN)


def test_the_plan_concurrency_cap_is_a_429(bland: httpx.Client, control: httpx.Client) -> None:
    for ending in range(10):
        place(bland, f"+121255501{ending:02d}")
    response = bland.post("/v1/calls", json={"phone_number": "+12125550160", "task": "x"})
    assert response.status_code == 429
    assert response.json() == {"status": "error", "message": "Rate limit exceeded"}
    advance(control, 100)
    place(bland, "+12125550160")


def test_the_plan_hourly_and_daily_caps_are_429s(bland: httpx.Client, control: httpx.Client) -> None:
    for _ in range(10):  # the start plan: 100 calls an hour, 10 at a time
        for ending in range(10):
            place(bland, f"+121255501{ending:02d}")
        advance(control, 60)
    for wait in (0, 3600):  # an hour later the start plan's 100 calls a day still hold
        advance(control, wait)
        response = bland.post("/v1/calls", json={"phone_number": "+12125550160", "task": "x"})
        assert response.status_code == 429
        assert response.json() == {"status": "error", "message": "Rate limit exceeded"}
    advance(control, 24 * 3600)
    place(bland, "+12125550160")


def test_a_bigger_plan_allows_more_concurrent_calls(bland: httpx.Client, control: httpx.Client) -> None:
    control.post("/_sim/reset", json={"plan": "build"}).raise_for_status()
    for ending in range(12):
        place(bland, f"+121255501{ending:02d}")
    advance(control, 100)
    assert details(bland, place(bland, "+12125550160"))["queue_status"] == "new"
    assert bland.get("/v1/me").json()["total_calls"] == 13


def test_an_empty_balance_is_a_402(bland: httpx.Client, control: httpx.Client) -> None:
    control.post("/_sim/reset", json={"balance": 0.1}).raise_for_status()
    place(bland, HUMAN)  # costs $0.105
    advance(control, 100)
    response = bland.post("/v1/calls", json={"phone_number": OTHER, "task": "x"})
    assert response.status_code == 402
    assert response.json() == {"status": "error", "message": "Insufficient balance."}
    assert bland.get("/v1/me").json()["billing"]["current_balance"] == pytest.approx(-0.005)


# --- faults ------------------------------------------------------------------------------------------------------


def test_an_error_rate_fails_that_fraction_of_requests(bland: httpx.Client, control: httpx.Client) -> None:
    assert control.post("/_sim/faults", json={"error_rate": 0.5}).json()["error_rate"] == 0.5
    responses = [bland.get("/v1/me") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 503, 200, 500]
    assert responses[1].json() == {"status": "error", "message": "Service temporarily unavailable."}
    assert responses[3].json() == {"status": "error", "message": "Internal server error."}


def test_an_outage_answers_503_until_lifted_but_control_still_works(
    bland: httpx.Client, control: httpx.Client
) -> None:
    control.post("/_sim/faults", json={"outage": True}).raise_for_status()
    assert bland.post("/v1/calls", json={"phone_number": HUMAN, "task": "x"}).status_code == 503
    assert bland.get("/v1/me").status_code == 503
    assert control.get("/_sim/state").json()["total_calls"] == 0
    control.post("/_sim/faults", json={"outage": False}).raise_for_status()
    assert bland.get("/v1/me").status_code == 200


def test_latency_is_added_to_every_response(bland: httpx.Client, control: httpx.Client) -> None:
    control.post("/_sim/faults", json={"latency_ms": 150}).raise_for_status()
    began = time.monotonic()
    assert bland.get("/v1/me").status_code == 200
    assert time.monotonic() - began >= 0.15


def test_invalid_fault_settings_are_refused(control: httpx.Client) -> None:
    response = control.post("/_sim/faults", json={"error_rate": 2})
    assert response.status_code == 400
    assert control.get("/_sim/state").json()["faults"]["error_rate"] == 0


# --- webhooks ---------------------------------------------------------------------------------------------------


class Receiver:
    """A local webhook endpoint: answers the queued statuses in order (then 200) and records each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/bland"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_post_call_webhook_is_signed_and_retried(bland: httpx.Client, control: httpx.Client) -> None:
    with Receiver([500]) as receiver:
        call_id = place(bland, HUMAN, webhook=receiver.url, metadata={"ref": "abc"})
        advance(control, 100)
        attempts = [receiver.received.get(timeout=5), receiver.received.get(timeout=5)]
    for headers, body in attempts:
        assert headers["content-type"] == "application/json"
        assert headers["x-webhook-signature"] == hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    payload = json.loads(attempts[1][1])
    assert attempts[0][1] == attempts[1][1]
    assert (payload["call_id"], payload["completed"], payload["status"]) == (call_id, True, "completed")
    assert payload["metadata"] == {"ref": "abc"}
    assert payload["concatenated_transcript"].endswith("agent-action: Ended call \n ")
    assert "c_id" not in payload["transcripts"][0]
    [delivery] = control.get("/_sim/state").json()["webhooks"]
    assert (delivery["call_id"], delivery["statuses"], delivery["delivered"]) == (call_id, [500, 200], True)


def test_a_stopped_call_also_sends_its_webhook(bland: httpx.Client, control: httpx.Client) -> None:
    with Receiver([]) as receiver:
        call_id = place(bland, NO_ANSWER, webhook=receiver.url)
        advance(control, 5)
        bland.post(f"/v1/calls/{call_id}/stop").raise_for_status()
        _, body = receiver.received.get(timeout=5)
    assert json.loads(body)["status"] == "canceled"


# --- the server itself ----------------------------------------------------------------------------------------------


def test_the_clock_runs_on_its_own_at_the_time_scale() -> None:
    with BackgroundSimulator(time_scale=2000, tick_interval=0.01) as sim, httpx.Client(
        base_url=sim.url, headers={"authorization": "sim-key"}, timeout=5
    ) as client:
        call_id = client.post("/v1/calls", json={"phone_number": HUMAN, "task": "x"}).json()["call_id"]
        assert sim.call(lambda simulator: simulator.calls[call_id].scenario.name) == "human"
        deadline = time.monotonic() + 10
        while not client.get(f"/v1/calls/{call_id}").json()["completed"]:
            assert time.monotonic() < deadline, "the call never ended"
        state = client.get("/_sim/state").json()
        assert state["time_scale"] == 2000
        assert state["calls"][0]["status"] == "completed"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/_sim/state")


def _moments(call: dict[str, Any]) -> list[datetime]:
    stamps = [call["created_at"], call["started_at"], call["end_at"], call["variables"]["now_utc"],
              *(item["created_at"] for item in call["transcripts"])]
    return [datetime.fromisoformat(stamp) for stamp in stamps]


def test_timestamps_stay_on_the_wall_clock_and_only_durations_are_compressed() -> None:
    before = datetime.now(UTC)
    with BackgroundSimulator(time_scale=100, tick_interval=0.01) as sim, httpx.Client(
        base_url=sim.url, headers={"authorization": "sim-key"}, timeout=5
    ) as client:
        call_id = client.post("/v1/calls", json={"phone_number": HUMAN, "task": "x"}).json()["call_id"]
        deadline = time.monotonic() + 10
        while not (call := client.get(f"/v1/calls/{call_id}").json())["completed"]:
            assert time.monotonic() < deadline, "the call never ended"
        after = datetime.now(UTC)
        advanced = client.post("/v1/calls", json={"phone_number": VOICEMAIL, "task": "x"}).json()["call_id"]
        client.post("/_sim/advance", json={"seconds": 3600}).raise_for_status()
        jumped = client.get(f"/v1/calls/{advanced}").json()
        end = datetime.now(UTC)

    assert call["corrected_duration"] == "45"  # 45 simulated seconds of conversation...
    moments = _moments(call)
    assert all(before <= moment <= after for moment in moments), (before, moments, after)
    started, ended = datetime.fromisoformat(call["started_at"]), datetime.fromisoformat(call["end_at"])
    assert ended - started < timedelta(seconds=45)  # ...that took under a second of wall time
    assert started < ended
    assert jumped["completed"] is True
    assert all(after <= moment <= end for moment in _moments(jumped)), (after, _moments(jumped), end)


def test_the_management_command_serves_and_shuts_down_cleanly() -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", "bland_simulator", "--port", str(port), "--api-key", "cmd-key",
         "--plan", "scale", "--balance", "12.5", "--time-scale", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()
            try:
                me = httpx.get(f"http://127.0.0.1:{port}/v1/me", headers={"authorization": "Bearer cmd-key"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the simulator did not start"
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.05)  # a bounded wait that also notices an early exit
        assert me.json()["billing"]["current_balance"] == 12.5
        assert httpx.get(f"http://127.0.0.1:{port}/_sim/state").json()["plan"] == "scale"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
