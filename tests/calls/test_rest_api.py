"""The calls REST API at /api/v1/calls/: the MCP tools' operations over HTTP, with the same filters, the
same validation codes and the same access rule (another user's call is simply not found)."""

from __future__ import annotations

import json
import logging
import math
import secrets
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core import signing
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus
from calls.recordings import SALT
from tests.calls.conftest import (
    BUSY,
    HUMAN,
    VOICEMAIL,
    bearer,
    post_webhook,
    queued_call,
    sim_call_count,
    sim_details,
    sim_faults,
)
from users.selectors import credits_balance, credits_ledger
from users.services import token_for_user

CALLS = "/api/v1/calls/"

pytestmark = pytest.mark.django_db


def _call(owner, *, created_ago_hours: float = 0, **fields) -> Call:  # noqa: ANN001
    values = {"owner": owner, "to_number": HUMAN, "task": "t", "max_duration": 5, "status": CallStatus.COMPLETED}
    values.update(fields)
    call = Call.objects.create(**values)
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(hours=created_ago_hours))
    return call


def _ids(response) -> list[str]:  # noqa: ANN001
    return [item["call_id"] for item in response.json()["results"]]


def _place(api, number: str = HUMAN, **fields):  # noqa: ANN001, ANN202
    return api.post(CALLS, {"phone_number": number, "task": "Confirm the 3pm appointment.", "max_duration": 5,
                            **fields}, format="json")


# --- list -------------------------------------------------------------------------------------------


def test_list_filters_like_get_call_history(api, user, make_user):
    done = _call(user, created_ago_hours=5, answered_by="human", duration_seconds=45, to_number=HUMAN)
    voicemail = _call(user, created_ago_hours=3, answered_by="voicemail", duration_seconds=20, to_number=VOICEMAIL)
    busy = _call(user, created_ago_hours=1, status=CallStatus.BUSY, to_number=BUSY, duration_seconds=0)
    queued = _call(user, status=CallStatus.QUEUED, to_number=HUMAN)
    _call(make_user("bob"), answered_by="human", duration_seconds=45)  # never anyone else's

    everything = api.get(CALLS)
    assert everything.status_code == 200
    assert _ids(everything) == [str(c.id) for c in (queued, busy, voicemail, done)]
    assert everything.json()["total"] == 4

    assert set(_ids(api.get(CALLS, {"status": "completed"}))) == {str(done.id), str(voicemail.id)}
    assert _ids(api.get(CALLS, {"answered_by": "voicemail"})) == [str(voicemail.id)]
    assert _ids(api.get(CALLS, {"number": BUSY})) == [str(busy.id)]
    assert set(_ids(api.get(CALLS, {"number": HUMAN}))) == {str(done.id), str(queued.id)}
    since = (timezone.now() - timedelta(hours=4)).isoformat()
    until = (timezone.now() - timedelta(minutes=30)).isoformat()
    assert _ids(api.get(CALLS, {"since": since, "until": until})) == [str(busy.id), str(voicemail.id)]
    assert _ids(api.get(CALLS, {"min_duration": 21})) == [str(done.id)]
    assert set(_ids(api.get(CALLS, {"min_duration": 1, "max_duration": 45}))) == {str(done.id), str(voicemail.id)}


def test_list_takes_repeated_or_comma_separated_values(api, user):
    busy = _call(user, status=CallStatus.BUSY, created_ago_hours=2)
    failed = _call(user, status=CallStatus.FAILED, created_ago_hours=1)
    _call(user, status=CallStatus.COMPLETED)
    expected = [str(failed.id), str(busy.id)]
    assert _ids(api.get(f"{CALLS}?status=busy&status=failed")) == expected
    assert _ids(api.get(f"{CALLS}?status=busy,failed")) == expected
    response = api.get(f"{CALLS}?answered_by=human,voicemail&status=busy")
    assert response.json()["total"] == 0


def test_list_pages_with_a_cursor_a_full_next_url_and_the_full_total(api, user):
    calls = [_call(user, created_ago_hours=hours, status=CallStatus.BUSY) for hours in range(5)]
    _call(user, status=CallStatus.COMPLETED)

    first = api.get(CALLS, {"status": "busy", "limit": 2}).json()
    assert first["total"] == 5
    assert [c["call_id"] for c in first["results"]] == [str(c.id) for c in calls[:2]]
    next_url = urlsplit(first["next"])
    assert next_url.scheme == "http"
    assert next_url.netloc == "testserver"
    assert next_url.path == CALLS
    assert parse_qs(next_url.query) == {"status": ["busy"], "limit": ["2"], "cursor": [first["next_cursor"]]}

    second = api.get(f"{next_url.path}?{next_url.query}").json()
    assert [c["call_id"] for c in second["results"]] == [str(c.id) for c in calls[2:4]]
    third = api.get(CALLS, {"status": "busy", "limit": 2, "cursor": second["next_cursor"]}).json()
    assert [c["call_id"] for c in third["results"]] == [str(calls[4].id)]
    assert third["next_cursor"] is None
    assert third["next"] is None
    assert third["total"] == 5
    assert set(third["results"][0]) == {"call_id", "to", "status", "answered_by", "created_at", "duration_seconds",
                                        "cost_credits"}


@pytest.mark.parametrize(
    "query",
    [{"status": "done"}, {"answered_by": "robot"}, {"since": "yesterday"}, {"since": "2026-01-01T00:00:00"},
     {"limit": 0}, {"limit": 101}, {"min_duration": -1}, {"number": "555-0100"}, {"cursor": "not-a-cursor"}],
)
def test_list_answers_bad_filters_with_400_invalid_input(api, query):
    response = api.get(CALLS, query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_list_reads_an_offset_whose_plus_became_a_space_in_the_query_string(api, user):
    old = _call(user, created_ago_hours=3)
    since = (timezone.now() - timedelta(hours=4)).replace(microsecond=0).isoformat()  # ...+00:00
    response = api.get(f"{CALLS}?since={since}")  # unencoded: the + arrives as a space
    assert response.status_code == 200
    assert _ids(response) == [str(old.id)]


def test_list_needs_a_token_and_the_calls_read_scope(anon, user):
    assert anon.get(CALLS).status_code == 401
    response = bearer(token_for_user(user=user, scopes=["credits:read"])).get(CALLS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


# --- create -----------------------------------------------------------------------------------------


def test_create_places_the_call_reserves_credits_and_answers_201_with_details(api, user, sim):
    response = _place(api, metadata={"ticket": 42}, record=True)
    assert response.status_code == 201, response.json()
    body = response.json()
    call = Call.objects.get(pk=body["call_id"])
    assert response["Location"] == f"{CALLS}{call.id}/"
    assert body["status"] == "queued"
    assert body["to"] == HUMAN
    assert body["record"] is True
    assert body["metadata"] == {"ticket": 42}
    assert body["reserved_credits"] == 70
    assert body["from"] is None
    assert call.owner == user
    assert call.provider_call_id
    assert CallEvent.objects.get(call=call).source == "api"
    assert sim_details(sim, call.provider_call_id)["to"] == HUMAN
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (930, 70)


def test_create_with_a_bad_number_is_400_invalid_call_request_and_places_nothing(api, user, sim):
    for number in ("555-0100", "+1555", "+99912345678", ""):
        response = _place(api, number)
        assert response.status_code == 400, number
        assert response.json()["error"]["code"] == "invalid_call_request"
    assert Call.objects.count() == 0
    assert sim_call_count(sim) == 0
    assert credits_balance(user=user).available == 1000


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"phone_number": HUMAN}, "task"),
        ({"phone_number": HUMAN, "task": "  "}, "task"),
        ({"phone_number": HUMAN, "task": "x", "pathway_id": "p"}, "not both"),
        ({"task": "x"}, "phone_number"),
        ({"phone_number": HUMAN, "task": "x", "max_duration": 0}, "max_duration"),
        ({"phone_number": HUMAN, "task": "x", "max_duration": "long"}, "max_duration"),
        ({"phone_number": HUMAN, "task": "x", "record": "maybe"}, "record"),
        ({"phone_number": HUMAN, "task": "x", "metadata": [1]}, "metadata"),
        ({"phone_number": HUMAN, "task": "x" * 2001}, "task"),
        ({"phone_number": HUMAN, "task": "x", "start_time": "2030-01-01T10:00:00"}, "offset"),
        ({"phone_number": HUMAN, "task": "x", "start_time": "2020-01-01T10:00:00Z"}, "5 minutes"),
        ({"phone_number": HUMAN, "task": "x", "phone": HUMAN}, "phone"),
    ],
)
def test_create_rejects_invalid_requests_with_400_naming_the_problem(api, user, body, mentions):
    response = api.post(CALLS, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_call_request"
    assert mentions in error["message"]
    assert Call.objects.count() == 0


def test_create_answers_malformed_json_with_400(api):
    response = api.post(CALLS, "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    response = api.post(CALLS, [HUMAN], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_call_request"


def test_create_without_enough_credits_is_402_and_places_nothing(make_user, sim):
    poor = make_user("poor", credits=50)  # 5 minutes need 70
    response = _place(bearer(token_for_user(user=poor)))
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert Call.objects.count() == 0
    assert sim_call_count(sim) == 0
    assert credits_balance(user=poor).available == 50


def test_create_when_the_provider_is_down_is_503_and_gives_the_credits_back(api, user, sim):
    sim_faults(sim, outage=True)
    response = _place(api)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert Call.objects.count() == 0
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (1000, 0)


def test_an_unreachable_provider_is_a_503_whose_detail_goes_to_the_log_not_to_the_caller(
        api, user, calls_settings, caplog):
    calls_settings.BLAND_BASE_URL = "http://127.0.0.1:9"  # nobody listens there
    calls_settings.BLAND_RETRIES = 0
    with caplog.at_level(logging.WARNING, logger="calls.providers.bland"):
        response = _place(api)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert "try again" in error["message"].lower()
    assert "connect" not in json.dumps(response.json()).lower()
    assert "127.0.0.1" not in json.dumps(response.json())
    assert any("cannot connect" in record.getMessage() for record in caplog.records)
    assert Call.objects.count() == 0
    assert credits_balance(user=user).available == 1000


def test_create_checks_language_against_blands_codes_and_says_numbers_in_its_own_words(api, user, sim):
    klingon = api.post(CALLS, {"phone_number": HUMAN, "task": "x", "language": "klingon"}, format="json")
    assert klingon.status_code == 400
    assert klingon.json()["error"]["code"] == "invalid_call_request"
    assert "language" in klingon.json()["error"]["message"]
    assert "en-US" in klingon.json()["error"]["message"]
    for number in ("+999 1234567", "+1 2", "+44 (0) hello"):
        response = api.post(CALLS, {"phone_number": number, "task": "x"}, format="json")
        assert response.status_code == 400, number
        message = response.json()["error"]["message"]
        assert "E.164" in message, message
        assert "The string supplied" not in message, message
        assert "Could not interpret" not in message, message
    assert api.post(CALLS, {"phone_number": HUMAN, "task": "x", "language": "pt-BR"}, format="json").status_code == 201
    assert Call.objects.get().language == "pt-BR"


def test_create_with_an_idempotency_key_places_one_call(api, user, sim):
    first = api.post(CALLS, {"phone_number": HUMAN, "task": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    again = api.post(CALLS, {"phone_number": HUMAN, "task": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    in_body = api.post(CALLS, {"phone_number": HUMAN, "task": "x", "idempotency_key": "order-7"}, format="json")
    assert first.status_code == again.status_code == in_body.status_code == 201
    assert first.json()["call_id"] == again.json()["call_id"] == in_body.json()["call_id"]
    assert Call.objects.count() == 1
    assert sim_call_count(sim) == 1
    assert credits_balance(user=user).reserved == 140  # the default 10 minutes, once

    clash = api.post(CALLS, {"phone_number": HUMAN, "task": "x", "idempotency_key": "a"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="b")
    assert clash.status_code == 400
    assert clash.json()["error"]["code"] == "invalid_call_request"


def test_create_needs_the_calls_write_scope(user, sim):
    reader = bearer(token_for_user(user=user, scopes=["calls:read"]))
    response = _place(reader)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert reader.get(CALLS).status_code == 200
    assert Call.objects.count() == 0


# --- one call ---------------------------------------------------------------------------------------


def test_details_of_your_call(api, user):
    call = _call(user, answered_by="human", duration_seconds=45, cost_credits=11, summary="Done.")
    body = api.get(f"{CALLS}{call.id}/").json()
    assert body["call_id"] == str(call.id)
    assert body["status"] == "completed"
    assert body["summary"] == "Done."
    assert body["cost_credits"] == 11
    assert body["answered_by"] == "human"
    assert body["has_transcript"] is False


@pytest.mark.parametrize("call_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_call_is_404_call_not_found(api, call_id):
    response = api.get(f"{CALLS}{call_id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "call_not_found"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", "cancel/"), ("get", "transcript/"), ("get", "transcript/?format=corrected"),
     ("get", "recording/")],
)
def test_another_users_call_is_not_found_for_every_operation(make_user, method, suffix):
    alice = make_user("alice", credits=1000)
    call = queued_call(alice, record=True)
    bob = bearer(token_for_user(user=make_user("bob", credits=1000)))
    response = getattr(bob, method)(f"{CALLS}{call.id}/{suffix}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "call_not_found"
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED
    assert credits_balance(user=alice).reserved == 70


def test_cancel_stops_a_queued_call_releases_its_credits_and_is_idempotent(api, user, sim):
    placed = _place(api).json()
    response = api.post(f"{CALLS}{placed['call_id']}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["cost_credits"] == 0
    assert sim_details(sim, Call.objects.get().provider_call_id)["status"] == "canceled"
    again = api.post(f"{CALLS}{placed['call_id']}/cancel/")
    assert again.status_code == 200
    assert again.json()["status"] == "canceled"
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (1000, 0)
    assert credits_ledger(user=user).filter(kind="release").count() == 1


def test_a_live_call_cancelled_before_its_price_is_known_keeps_its_hold_until_the_provider_reports_it(
        api, anon, user, sim):
    placed = _place(api)
    call = Call.objects.get(pk=placed.json()["call_id"])
    sim.advance(41)  # 33 s of conversation
    sim_faults(sim, error_rate=0.5)  # the stop goes through; the read right after it fails
    cancelled = api.post(f"{CALLS}{call.pk}/cancel/")
    sim_faults(sim, error_rate=0)

    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cost_credits"]) == ("canceled", None)
    assert credits_balance(user=user).reserved == call.reserved_credits  # not given away before the price is known

    report = sim_details(sim, call.provider_call_id)
    assert post_webhook(anon, report).status_code == 200
    cost = math.ceil(Decimal(str(report["price"])) * 100)
    assert cost == 8
    shown = api.get(f"{CALLS}{call.pk}/").json()
    assert (shown["status"], shown["duration_seconds"], shown["cost_credits"]) == ("canceled", 33, cost)
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (1000 - cost, 0)
    assert post_webhook(anon, report).status_code == 200  # a redelivery charges nothing more
    assert credits_balance(user=user).available == 1000 - cost


def _details_requests(sim) -> int:  # noqa: ANN001
    response = httpx.get(f"{sim.url}/_sim/requests", timeout=5)
    response.raise_for_status()
    return int(response.json()["details"])


def test_reading_a_stale_call_refreshes_it_from_the_provider_at_most_once_per_interval(
        api, user, sim, calls_settings):
    calls_settings.CALL_DETAILS_REFRESH_SECONDS = 5
    moving = Call.objects.get(pk=_place(api).json()["call_id"])
    still = Call.objects.get(pk=_place(api, VOICEMAIL).json()["call_id"])
    assert api.get(f"{CALLS}{moving.pk}/").json()["status"] == "queued"  # just placed: not asked again
    sim.advance(20)  # the first call is talking; the second one too, but its row says nothing yet
    stale = timezone.now() - timedelta(seconds=6)
    Call.objects.filter(pk__in=[moving.pk, still.pk]).update(updated_at=stale)
    httpx.delete(f"{sim.url}/_sim/requests", timeout=5).raise_for_status()

    statuses = [api.get(f"{CALLS}{moving.pk}/").json()["status"] for _ in range(20)]

    assert set(statuses) == {"in_progress"}  # the first read asked the provider, the call moved
    assert _details_requests(sim) == 1  # and the other nineteen did not ask again

    sim_faults(sim, outage=True)  # a provider that fails leaves the call as it was, without an error
    Call.objects.filter(pk=still.pk).update(updated_at=stale)
    polled = [api.get(f"{CALLS}{still.pk}/") for _ in range(20)]
    assert {response.status_code for response in polled} == {200}
    assert {response.json()["status"] for response in polled} == {"queued"}
    sim_faults(sim, outage=False)
    assert _details_requests(sim) == 2  # one (failed) ask for the second call, no retry within 5 s


def test_cancelling_a_call_that_ended_is_409(api, user):
    call = _call(user)
    response = api.post(f"{CALLS}{call.id}/cancel/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "call_not_cancellable"


def test_cancel_needs_the_calls_write_scope(user):
    call = queued_call(user, provider_call_id=None)
    response = bearer(token_for_user(user=user, scopes=["calls:read"])).post(f"{CALLS}{call.id}/cancel/")
    assert response.status_code == 403
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED


# --- transcript and recording, on a call the simulator really made -----------------------------------


@pytest.fixture
def finished_call(api, anon, sim) -> Call:  # noqa: ANN001
    """A recorded call placed through the API, ended by the simulator, reported by its signed webhook."""
    placed = _place(api, record=True).json()
    call = Call.objects.get(pk=placed["call_id"])
    sim.advance(120)
    assert post_webhook(anon, sim_details(sim, call.provider_call_id)).status_code == 200
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    return call


def test_transcript_as_text_segments_and_corrected(api, finished_call):
    url = f"{CALLS}{finished_call.id}/transcript/"
    text = api.get(url).json()
    assert text["format"] == "text"
    assert text["status"] == "completed"
    assert text["transcript"].startswith("Agent: ")
    assert "\nCallee: " in text["transcript"]

    segments = api.get(url, {"format": "segments"}).json()
    assert segments["format"] == "segments"
    assert {s["speaker"] for s in segments["transcript"]} >= {"agent", "callee"}

    corrected = api.get(url, {"format": "corrected"}).json()
    assert corrected["format"] == "corrected"
    assert "note" not in corrected
    assert all("confidence" in s for s in corrected["transcript"])

    bad = api.get(url, {"format": "xml"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_input"


def test_transcript_of_a_call_not_answered_yet_says_so(api, user):
    call = queued_call(user, provider_call_id=None)
    body = api.get(f"{CALLS}{call.id}/transcript/").json()
    assert body["transcript"] == ""
    assert "not produced a transcript yet" in body["note"]


def test_recording_gives_a_signed_link_that_downloads_without_a_token(api, anon, finished_call):
    info = api.get(f"{CALLS}{finished_call.id}/recording/")
    assert info.status_code == 200, info.json()
    body = info.json()
    assert body["content_type"] == "audio/wav"
    assert body["bytes"] > 44
    assert body["duration_seconds"] > 0
    link = urlsplit(body["url"])
    assert link.path == f"{CALLS}{finished_call.id}/recording/download"

    download = anon.get(f"{link.path}?{link.query}", HTTP_ACCEPT="audio/wav")
    assert download.status_code == 200
    assert download["Content-Type"] == "audio/wav"
    audio = download.content
    assert audio[:4] == b"RIFF"
    assert len(audio) == body["bytes"]


def test_recording_of_a_call_placed_without_record_is_404(api, user):
    call = _call(user, record=False)
    response = api.get(f"{CALLS}{call.id}/recording/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "recording_not_available"


def test_a_recording_link_opens_only_its_own_call_for_its_owner_until_it_expires(
    api, anon, make_user, finished_call, settings
):
    link = urlsplit(api.get(f"{CALLS}{finished_call.id}/recording/").json()["url"])
    token = parse_qs(link.query)["token"][0]
    other = _call(finished_call.owner, record=True, recording_file=finished_call.recording_file.name,
                  recording_content_type="audio/wav")
    bob = make_user("bob")
    foreign = signing.dumps({"c": str(finished_call.id), "u": bob.pk}, salt=SALT, compress=True)
    unsalted = signing.dumps({"c": str(finished_call.id), "u": finished_call.owner_id}, compress=True)

    attempts = [
        f"{CALLS}{other.id}/recording/download?token={token}",  # a valid token, another call
        f"{CALLS}{finished_call.id}/recording/download?token={token[:-2]}xx",  # tampered
        f"{CALLS}{finished_call.id}/recording/download?token={foreign}",  # signed for someone else
        f"{CALLS}{finished_call.id}/recording/download?token={unsalted}",  # signed for another purpose
        f"{CALLS}{finished_call.id}/recording/download",  # no token
        f"{CALLS}not-a-uuid/recording/download?token={token}",
    ]
    for url in attempts:
        response = anon.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "recording_link_invalid"

    assert anon.get(f"{link.path}?{link.query}").status_code == 200
    settings.RECORDING_LINK_TTL_SECONDS = -1  # every link issued so far has expired
    expired = anon.get(f"{link.path}?{link.query}")
    assert expired.status_code == 404
    assert expired.json()["error"]["code"] == "recording_link_invalid"


def test_swagger_schema_documents_every_calls_operation(api):
    schema = api.get("/api/schema/?format=json").json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"calls_list", "calls_create", "calls_retrieve", "calls_cancel", "calls_transcript", "calls_recording",
            "calls_recording_download", "webhooks_bland"} <= operations
    assert "jwtAuth" in schema["components"]["securitySchemes"]


def test_the_documented_call_shape_is_the_one_rest_and_mcp_answer_with(api, user, sim):
    """One source per shape: the OpenAPI component, the REST answer and the tool's outputSchema agree."""
    from mcp_gateway.registry import Registry

    documented = api.get("/api/schema/?format=json").json()["components"]["schemas"]["CallDetails"]
    answered = _place(api).json()
    tool = Registry.discover().tools["getCallDetails"].definition()["outputSchema"]
    assert set(documented["properties"]) == set(answered) == set(tool["properties"])
    assert {"task", "voice", "metadata", "queue_status", "from"} <= set(answered)


def test_rest_placing_spends_the_same_per_user_budget_as_mcp_and_answers_429(api, user, settings):
    from mcp_gateway.apps import gateway
    from mcp_gateway.ratelimit import RateLimiter

    limiter = gateway().dispatcher.rate_limiter
    hour = 3600.0 * secrets.randbelow(10**9)  # a window of its own: Redis may keep counters of earlier runs
    gateway().dispatcher.rate_limiter = RateLimiter({"place": "1/hour", "read": "100/minute"}, settings.REDIS_URL,
                                                    clock=lambda: hour)
    try:
        user.rate_limits = {"place": "1/hour"}
        user.save(update_fields=["rate_limits"])
        body = {"phone_number": "not a number", "task": "x"}
        first = api.post("/api/v1/calls/", body, format="json")
        second = api.post("/api/v1/calls/", body, format="json")
    finally:
        gateway().dispatcher.rate_limiter = limiter
    assert first.status_code == 400  # counted, then refused for its bad number
    assert second.status_code == 429
    assert int(second["Retry-After"]) > 0
    assert second.json()["error"]["code"] == "throttled"
