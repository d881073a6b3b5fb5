"""Campaigns over REST (/api/v1/campaigns/) and in the Django admin: the same rules and codes as the MCP tools,
JSON errors, another user's campaign not found, and staff stopping a campaign with the admin action. The
provider is the Bland simulator over HTTP (its webhooks go nowhere here; the stop reads the calls back)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.urls import reverse

from calls.models import Call, CallStatus, Campaign
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import bearer, sim_advance
from users.models import User
from users.selectors import credits_balance
from users.services import token_for_user

CAMPAIGNS = "/api/v1/campaigns/"
HOLD = 2 * 14

pytestmark = pytest.mark.django_db


def body(count: int, **fields: Any) -> dict[str, Any]:
    calls = [{"phone_number": f"+1212555{100 + i:04d}", "request_data": {"name": f"P{i}"}} for i in range(count)]
    return {"task": "Remind {{name}} of the appointment.", "max_duration": 2, "calls": calls, **fields}


@pytest.fixture
def rich(make_user: Any) -> User:
    return make_user("campaigner", credits=10_000)


def test_create_read_list_and_cancel_a_campaign(rich: User, sim: BackgroundSimulator) -> None:
    api = bearer(token_for_user(user=rich))
    created = api.post(CAMPAIGNS, body(30, confirm_spend=True), format="json")
    assert created.status_code == 201, created.content
    campaign = created.json()
    assert created["Location"] == f"{CAMPAIGNS}{campaign['campaign_id']}/"
    assert campaign["total_calls"] == 30
    assert campaign["spend"]["reserved_credits"] == 30 * HOLD
    assert credits_balance(user=rich).available == 10_000 - 30 * HOLD

    shown = api.get(f"{CAMPAIGNS}{campaign['campaign_id']}/", {"calls_limit": 5, "calls_offset": 10}).json()
    assert [row["index"] for row in shown["calls"]] == [10, 11, 12, 13, 14]
    assert shown["next_calls_offset"] == 15
    assert shown["counts"]["queued"] == 30
    listed = api.get(CAMPAIGNS).json()
    assert listed["total"] == 1
    assert listed["campaigns"][0]["campaign_id"] == campaign["campaign_id"]

    sim_advance(sim, 1.5)  # nothing dialled yet (the first call dials 3 s in)
    stopped = api.post(f"{CAMPAIGNS}{campaign['campaign_id']}/cancel/")
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["status"] == "cancelled"
    assert stopped.json()["counts"]["canceled"] == 30
    assert stopped.json()["spend"]["released_credits"] == 30 * HOLD
    assert credits_balance(user=rich).available == 10_000
    again = api.post(f"{CAMPAIGNS}{campaign['campaign_id']}/cancel/")
    assert again.status_code == 200


def test_bad_campaigns_are_400_with_every_bad_row_and_nothing_placed(rich: User, sim: BackgroundSimulator) -> None:
    api = bearer(token_for_user(user=rich))
    bad = body(6)
    bad["calls"][1]["phone_number"] = "12125550100"
    bad["calls"][4]["request_data"] = ["not", "an", "object"]
    bad["calls"][5]["phone_number"] = bad["calls"][0]["phone_number"]
    answer = api.post(CAMPAIGNS, bad, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_campaign"
    assert [row["index"] for row in error["details"]["rows"]] == [1, 4, 5]

    too_many = api.post(CAMPAIGNS, {**body(0), "calls": [{"phone_number": "+12125550100"}] * 1001}, format="json")
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "campaign_too_large"

    unknown_voice = api.post(CAMPAIGNS, body(2, voice="nobody"), format="json")
    assert unknown_voice.json()["error"]["code"] == "unknown_voice"
    mistyped = api.post(CAMPAIGNS, {**body(2), "max_duration": "long"}, format="json")
    assert mistyped.status_code == 400
    assert mistyped.json()["error"]["code"] == "invalid_input"
    unconfirmed = api.post(CAMPAIGNS, body(40), format="json")  # 40 x 28 credits: above the 1,000 threshold
    assert unconfirmed.json()["error"]["code"] == "confirmation_required"

    assert not Campaign.objects.exists()
    assert not Call.objects.exists()
    assert credits_balance(user=rich).available == 10_000
    asked = httpx.get(f"{sim.url}/_sim/requests", timeout=10).json()["endpoints"]
    assert "POST /v2/batches/create" not in asked


def test_another_users_campaign_is_404_and_anonymous_is_401(rich: User, make_user: Any, sim: BackgroundSimulator,
                                                            anon: Any) -> None:
    owner = bearer(token_for_user(user=rich))
    campaign_id = owner.post(CAMPAIGNS, body(2), format="json").json()["campaign_id"]
    stranger = bearer(token_for_user(user=make_user("stranger")))
    for answer in (stranger.get(f"{CAMPAIGNS}{campaign_id}/"), stranger.post(f"{CAMPAIGNS}{campaign_id}/cancel/")):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "campaign_not_found"
    assert stranger.get(CAMPAIGNS).json()["total"] == 0
    assert anon.get(CAMPAIGNS).status_code == 401
    assert Campaign.objects.get(pk=campaign_id).status == "active"


def test_staff_see_a_campaign_with_its_calls_and_stop_it(rich: User, sim: BackgroundSimulator, admin_client: Any
                                                         ) -> None:
    api = bearer(token_for_user(user=rich))
    campaign_id = api.post(CAMPAIGNS, body(3), format="json").json()["campaign_id"]
    changelist = reverse("admin:calls_campaign_changelist")
    listing = admin_client.get(changelist)
    assert listing.status_code == 200
    assert b"campaigner" in listing.content
    page = admin_client.get(reverse("admin:calls_campaign_change", args=[campaign_id]))
    assert page.status_code == 200
    assert b"+12125550100" in page.content  # its calls, inline
    assert b"still held" in page.content  # its spend

    stopped = admin_client.post(changelist, {"action": "stop_campaigns", "_selected_action": [campaign_id]},
                                follow=True)
    assert b"Stopped 1 campaign" in stopped.content
    assert Campaign.objects.get(pk=campaign_id).status == "cancelled"
    assert set(Call.objects.filter(campaign_id=campaign_id).values_list("status", flat=True)) == {CallStatus.CANCELED}
    assert credits_balance(user=rich).available == 10_000
