"""Bland's post-call webhook: signed, applied once through the services, harmless when redelivered."""

from __future__ import annotations

import json
import math
import threading
import time
from decimal import Decimal

import pytest

from calls.models import Call, CallEvent, CallStatus
from calls.providers.simulator import BackgroundSimulator
from calls.webhooks import signature_valid
from tests.calls.conftest import (
    BUSY,
    FAILED,
    HUMAN,
    SIM_KEY,
    WEBHOOK_SECRET,
    bearer,
    bland_payload,
    post_webhook,
    queued_call,
    sign,
    sim_details,
    use_simulator,
)
from users.models import CreditLedgerEntry
from users.selectors import credits_balance, credits_ledger
from users.services import token_for_user


def _state(call: Call) -> tuple:
    call.refresh_from_db()
    balance = credits_balance(user=call.owner)
    return (call.status, call.cost_credits, call.updated_at, balance.available, balance.reserved,
            CallEvent.objects.filter(call=call).count(), CreditLedgerEntry.objects.count())


@pytest.fixture
def queued(user, calls_settings) -> Call:  # noqa: ANN001
    return queued_call(user, max_duration=5)  # 70 credits held


# --- signature and shape -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["", "0" * 64, "not-hex", sign(b"another body"),
                                       sign(b"x", secret="wrong-secret")])
def test_a_missing_or_wrong_signature_is_401_and_changes_nothing(anon, queued, signature):
    before = _state(queued)
    response = post_webhook(anon, bland_payload(queued.provider_call_id), signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_signature_invalid"
    assert _state(queued) == before


@pytest.mark.django_db
def test_a_payload_signed_with_the_secret_of_another_account_is_401(anon, queued):
    body = json.dumps(bland_payload(queued.provider_call_id)).encode()
    response = post_webhook(anon, None, raw=body, signature=sign(body, secret="someone-elses-secret"))
    assert response.status_code == 401
    queued.refresh_from_db()
    assert queued.status == CallStatus.QUEUED


@pytest.mark.django_db
def test_without_a_configured_secret_every_webhook_is_refused(anon, queued, calls_settings):
    calls_settings.BLAND_WEBHOOK_SECRET = ""
    body = json.dumps(bland_payload(queued.provider_call_id)).encode()
    response = post_webhook(anon, None, raw=body, signature=sign(body, secret=""))
    assert response.status_code == 401
    queued.refresh_from_db()
    assert queued.status == CallStatus.QUEUED


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"call"', b"{}", b'{"call_id": ""}', b'{"call_id": 7}',
                                 b"\xff\xfe"])
def test_a_signed_body_that_is_not_a_call_object_is_400(anon, calls_settings, raw):
    response = post_webhook(anon, None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_payload_invalid"


def test_signature_accepts_the_raw_body_and_javascripts_re_serialised_json():
    body = b'{ "call_id": "abc",  "summary": "caf\\u00e9" }'
    compact = '{"call_id":"abc","summary":"café"}'.encode()
    assert signature_valid(secret="s", body=body, signature=sign(body, secret="s"))
    assert signature_valid(secret="s", body=body, signature=sign(compact, secret="s").upper())
    assert not signature_valid(secret="s", body=body, signature=sign(compact + b" ", secret="s"))
    assert not signature_valid(secret="", body=body, signature=sign(body, secret=""))


@pytest.mark.django_db
def test_a_webhook_for_a_call_we_do_not_know_is_accepted_and_ignored(anon, calls_settings, user):
    response = post_webhook(anon, bland_payload("5f1c0d5e-0000-4000-8000-000000000000"))
    assert response.status_code == 200
    assert response.json() == {"received": True, "call_id": "5f1c0d5e-0000-4000-8000-000000000000"}
    assert Call.objects.count() == 0
    assert CallEvent.objects.count() == 0


# --- applying it ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_completed_call_webhook_ends_the_call_and_settles_its_real_cost_once(anon, queued, user):
    response = post_webhook(anon, bland_payload(queued.provider_call_id, seconds=45, price=0.105))
    assert response.status_code == 200
    queued.refresh_from_db()
    assert queued.status == CallStatus.COMPLETED
    assert queued.answered_by == "human"
    assert queued.duration_seconds == 45
    assert queued.cost_credits == 11
    assert queued.summary == "The callee agreed."
    assert [s["speaker"] for s in queued.transcript] == ["agent", "callee"]
    assert queued.provider_payload["price"] == 0.105
    event = CallEvent.objects.get(call=queued, to_status=CallStatus.COMPLETED)
    assert event.source == "webhook"
    assert event.from_status == CallStatus.QUEUED
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (1000 - 11, 0)
    settle = credits_ledger(user=user).get(kind="settle")
    assert settle.spent == 11
    assert settle.reference == queued.credit_reference


@pytest.mark.django_db
def test_a_redelivered_webhook_changes_nothing_and_charges_nothing(anon, queued):
    payload = bland_payload(queued.provider_call_id, seconds=45, price=0.105)
    assert post_webhook(anon, payload).status_code == 200
    after_first = _state(queued)
    for _ in range(3):
        assert post_webhook(anon, payload).status_code == 200
    assert _state(queued) == after_first
    assert credits_ledger(user=queued.owner).filter(kind="settle").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "status", "answered_by", "error_message", "expected"),
    [
        (BUSY, "busy", None, "Call failed. The number you dialed is busy. Please try again later.", CallStatus.BUSY),
        (FAILED, "failed", None, "Call failed. The number you dialed is not found.", CallStatus.FAILED),
        (HUMAN, "no-answer", "no-answer", None, CallStatus.NO_ANSWER),
    ],
)
def test_a_call_that_never_connected_releases_its_whole_hold(anon, user, calls_settings, number, status,
                                                             answered_by, error_message, expected):
    call = queued_call(user, to_number=number)
    payload = bland_payload(call.provider_call_id, status=status, answered_by=answered_by, seconds=0, price=None,
                            error_message=error_message)
    assert post_webhook(anon, payload).status_code == 200
    call.refresh_from_db()
    assert call.status == expected
    assert call.cost_credits == 0
    assert call.error_message == (error_message or "")
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (1000, 0)
    assert credits_ledger(user=user).filter(kind="release").count() == 1
    assert post_webhook(anon, payload).status_code == 200
    assert credits_ledger(user=user).filter(kind="release").count() == 1


@pytest.mark.django_db
def test_a_late_in_progress_report_never_moves_an_ended_call_back(anon, queued):
    live = bland_payload(queued.provider_call_id, completed=False, queue_status="started", status=None, price=None)
    assert post_webhook(anon, live).status_code == 200
    queued.refresh_from_db()
    assert queued.status == CallStatus.IN_PROGRESS
    assert post_webhook(anon, bland_payload(queued.provider_call_id)).status_code == 200
    ended = _state(queued)
    assert ended[0] == CallStatus.COMPLETED
    assert post_webhook(anon, live).status_code == 200
    assert _state(queued)[0] == CallStatus.COMPLETED


@pytest.mark.django_db
def test_the_simulators_webhook_body_completes_a_call_placed_through_the_api(api, anon, user, sim):
    placed = api.post("/api/v1/calls/", {"phone_number": HUMAN, "task": "Say hi.", "max_duration": 5},
                      format="json").json()
    call = Call.objects.get(pk=placed["call_id"])
    sim.advance(120)
    details = sim_details(sim, call.provider_call_id)
    assert post_webhook(anon, details).status_code == 200
    call.refresh_from_db()
    expected_cost = math.ceil(Decimal(str(details["price"])) * 100)  # dollars to credits, rounded up
    assert call.status == CallStatus.COMPLETED
    assert call.cost_credits == expected_cost
    assert credits_balance(user=user).available == 1000 - expected_cost


# --- end to end: the simulator itself posts the webhook to a live server --------------------------------


def _wait_until(predicate, timeout: float = 15.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause.wait(0.05)
    return predicate()


def _live_request_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


@pytest.mark.django_db(transaction=True)
def test_the_simulator_posts_a_signed_webhook_that_settles_the_call_once(live_server, make_user, calls_settings):
    calls_settings.PUBLIC_BASE_URL = live_server.url
    user = make_user("carol", credits=1000)
    client = bearer(token_for_user(user=user))
    # A simulator of its own: stopping it closes its keep-alive connection to the live server before the
    # live server (and the in-memory SQLite connection it shares) goes away.
    with BackgroundSimulator(time_scale=0, api_key=SIM_KEY, webhook_secret=WEBHOOK_SECRET, webhook_retries=2,
                             webhook_backoff=0.05) as sim:
        use_simulator(calls_settings, sim)
        placed = client.post("/api/v1/calls/", {"phone_number": HUMAN, "task": "Say hi.", "max_duration": 5},
                             format="json")
        assert placed.status_code == 201
        call = Call.objects.get(pk=placed.json()["call_id"])
        assert call.status == CallStatus.QUEUED

        sim.advance(120)  # the call ends; the simulator signs and posts its details to our webhook
        assert _wait_until(lambda: Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED)
    assert _wait_until(lambda: not _live_request_threads(), timeout=5)

    call.refresh_from_db()
    assert call.cost_credits
    assert call.cost_credits > 0
    assert call.ended_at is not None
    # its live events moved it to in progress; the post-call webhook ended it, once
    assert CallEvent.objects.filter(call=call, source="webhook", to_status=CallStatus.COMPLETED).count() == 1
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (1000 - call.cost_credits, 0)
