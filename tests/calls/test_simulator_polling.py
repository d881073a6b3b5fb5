"""The Bland simulator's side of polling, over real HTTP: the call list sorted and filtered by update time,
webhooks switched off, the account's request rate limit, failing details, a missing list endpoint, bulk
seeding and the request count."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from calls.providers.simulator import BackgroundSimulator

API_KEY = "test-key"
HUMAN, BUSY, LONG = "+12125550100", "+12125550120", "+12125550150"


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(time_scale=0, api_key=API_KEY, plan="enterprise", webhook_timeout=1,
                             webhook_retries=0) as sim:
        yield sim


@pytest.fixture
def control(server: BackgroundSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


@pytest.fixture
def bland(server: BackgroundSimulator, control: httpx.Client) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"authorization": API_KEY}, timeout=10) as client:
        yield client


def place(bland: httpx.Client, number: str, **fields: Any) -> str:
    response = bland.post("/v1/calls", json={"phone_number": number, "task": "Say hello.", **fields})
    assert response.status_code == 200, response.text
    return response.json()["call_id"]


def ids(bland: httpx.Client, **params: Any) -> list[str]:
    response = bland.get("/v1/calls", params=params)
    assert response.status_code == 200, response.text
    return [item["call_id"] for item in response.json()["calls"]]


def test_the_list_sorts_by_update_time_and_filters_on_it(bland: httpx.Client, control: httpx.Client) -> None:
    human = place(bland, HUMAN)
    long = place(bland, LONG)
    control.post("/_sim/advance", json={"seconds": 5})  # both dialled: updated, long last (placed second)
    busy = place(bland, BUSY)
    assert ids(bland, sort_by="updated_at") == [busy, long, human]
    control.post("/_sim/advance", json={"seconds": 100})  # busy ended (after 10 s), then human (53 s); long talks
    after_end = datetime.now(UTC)  # update times are wall-clock times: this advance's, then the next one's
    control.post("/_sim/advance", json={"seconds": 1000})  # long ended last
    assert ids(bland, sort_by="updated_at") == [long, human, busy]
    assert ids(bland, sort_by="updated_at", ascending="true") == [busy, human, long]
    assert ids(bland) == [busy, long, human]  # created_at, newest first, as before

    since = after_end.isoformat()
    assert ids(bland, sort_by="updated_at", update_start_date=since) == [long]
    until = after_end.isoformat()
    assert ids(bland, sort_by="updated_at", update_end_date=until) == [human, busy]
    assert ids(bland, sort_by="updated_at", update_start_date=since, completed="true") == [long]
    page = bland.get("/v1/calls", params={"sort_by": "updated_at", "from": 1, "to": 3, "limit": 1}).json()
    assert (page["total_count"], page["count"], [c["call_id"] for c in page["calls"]]) == (3, 1, [human])


def test_a_bad_sort_key_or_update_date_is_a_400(bland: httpx.Client) -> None:
    for params in ({"sort_by": "price"}, {"update_start_date": "yesterday"}):
        response = bland.get("/v1/calls", params=params)
        assert response.status_code == 400, params
        assert response.json()["status"] == "error"


def test_with_webhooks_off_calls_end_without_posting_them(bland: httpx.Client, control: httpx.Client) -> None:
    assert control.post("/_sim/faults", json={"webhooks": False}).json()["webhooks"] is False
    call_id = place(bland, HUMAN, webhook="http://127.0.0.1:9/hook")
    ended = control.post("/_sim/advance", json={"seconds": 120}).json()["ended"]
    assert ended == [call_id]
    assert control.get("/_sim/state").json()["webhooks"] == []
    assert bland.get(f"/v1/calls/{call_id}").json()["completed"] is True


def test_past_the_rate_limit_requests_get_blands_429_and_are_counted(bland: httpx.Client,
                                                                     control: httpx.Client) -> None:
    control.post("/_sim/faults", json={"rate_limit_rps": 5}).raise_for_status()
    seen: list[httpx.Response] = []

    def until_refused() -> httpx.Response:
        # The bucket refills while requests are in flight, so on a slow machine a few more may pass.
        for _ in range(50):
            seen.append(bland.get("/v1/me"))
            if seen[-1].status_code == 429:
                return seen[-1]
        raise AssertionError("fifty requests in a row passed a five-a-second limit")

    refused = until_refused()
    assert [r.status_code for r in seen[:5]] == [200] * 5  # a full bucket: one second's worth
    assert refused.json() == {"status": "error", "message": "Rate limit exceeded"}
    assert "retry-after" not in refused.headers  # Bland sends none
    control.post("/_sim/faults", json={"retry_after": 2}).raise_for_status()
    assert until_refused().headers.get("retry-after") == "2"
    time.sleep(0.25)  # the bucket refills at five a second: at least one more request's worth
    seen.append(bland.get("/v1/me"))
    assert seen[-1].status_code == 200
    counts = control.get("/_sim/requests").json()
    statuses = [r.status_code for r in seen]
    assert counts["rate_limited"] == statuses.count(429) >= 2
    assert counts["other"] == statuses.count(200)
    control.post("/_sim/faults", json={"rate_limit_rps": 0}).raise_for_status()
    assert all(bland.get("/v1/me").status_code == 200 for _ in range(20))


def test_details_fail_for_the_chosen_calls_only(bland: httpx.Client, control: httpx.Client) -> None:
    broken, fine = place(bland, HUMAN), place(bland, BUSY)
    control.post("/_sim/faults", json={"fail_details": [broken]}).raise_for_status()
    failed = bland.get(f"/v1/calls/{broken}")
    assert failed.status_code == 500
    assert failed.json() == {"status": "error", "message": "Internal server error."}
    assert bland.get(f"/v1/calls/{fine}").status_code == 200
    assert broken in ids(bland)
    assert control.post("/_sim/faults", json={"fail_details": "all"}).status_code == 400


def test_the_list_endpoint_can_be_switched_off(bland: httpx.Client, control: httpx.Client) -> None:
    call_id = place(bland, HUMAN)
    control.post("/_sim/faults", json={"list_disabled": True}).raise_for_status()
    response = bland.get("/v1/calls")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Not found."}
    assert bland.get(f"/v1/calls/{call_id}").status_code == 200
    control.post("/_sim/faults", json={"list_disabled": False}).raise_for_status()
    assert ids(bland) == [call_id]


def test_seeding_places_many_calls_at_once_or_none(bland: httpx.Client, control: httpx.Client) -> None:
    bodies = [{"phone_number": HUMAN, "task": "Say hello.", "metadata": {"n": n}} for n in range(50)]
    seeded = control.post("/_sim/seed", json={"calls": bodies})
    assert seeded.status_code == 200, seeded.text
    call_ids = seeded.json()["call_ids"]
    assert len(set(call_ids)) == 50  # the same number fifty times: no 10-second rule, no plan caps
    assert bland.get(f"/v1/calls/{call_ids[7]}").json()["metadata"] == {"n": 7}
    invalid = control.post("/_sim/seed", json={"calls": [*bodies, {"task": "no number"}]})
    assert invalid.status_code == 400
    assert control.get("/_sim/state").json()["total_calls"] == 50


def test_the_request_count_says_how_often_each_call_was_asked_about(bland: httpx.Client,
                                                                     control: httpx.Client) -> None:
    first, second = place(bland, HUMAN), place(bland, BUSY)
    for call_id in (first, second, first):
        bland.get(f"/v1/calls/{call_id}")
    bland.get("/v1/calls")
    counts = control.get("/_sim/requests", params={"by_call": 1}).json()
    assert (counts["list"], counts["details"], counts["other"]) == (1, 3, 2)
    assert (counts["details_calls"], counts["details_repeated"]) == (2, 1)
    assert counts["details_by_call"] == {first: 2, second: 1}
    assert control.delete("/_sim/requests").json()["details"] == 0
