"""makeCallCampaign as an MCP task, both revisions, raw JSON-RPC over Streamable HTTP: the task follows the
campaign until every call ended (then its details are the result), and cancelling the task stops the
campaign, giving back the credits of the calls not dialled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from calls.models import Call, CallStatus, Campaign, CampaignStatus
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import sim_advance
from tests.calls.test_campaigns import TERMINAL_STATUSES, rows
from tests.calls.test_mcp_call_tasks import Tasks
from tests.calls.test_mcp_tools import balance
from tests.mcp.clients import HttpMcp
from tests.waiting import wait_until
from users.models import User
from users.services import credits_grant, token_for_user

WAIT = 30
ERAS = pytest.mark.parametrize("modern", [False, True], ids=["2025-11-25", "2026-07-28"])


@pytest.fixture
def funded(mcp_user: User) -> User:
    credits_grant(user=mcp_user, amount=5_000, memo="campaign task tests")
    return mcp_user


@pytest.fixture
def http(live_db: None, mcp_server: str, funded: User, live_sim: BackgroundSimulator) -> Iterator[HttpMcp]:
    client = HttpMcp(mcp_server, token_for_user(user=funded))
    yield client
    client.close()


def start(tasks: Tasks, count: int) -> dict[str, Any]:
    return tasks.call_as_task("makeCallCampaign", {"task": "Remind {{name}} of the {{time}} visit.",
                                                   "max_duration": 2, "calls": rows(count), "confirm_spend": True})


def ended(campaign: Campaign) -> bool:
    return not Call.objects.filter(campaign=campaign).exclude(status__in=TERMINAL_STATUSES).exists()


@ERAS
def test_a_campaign_task_ends_with_the_campaigns_details(http, modern, funded, live_sim):
    tasks = Tasks(http, modern=modern)
    listed = {tool["name"]: tool for tool in tasks.result("tools/list")["tools"]}
    assert listed["makeCallCampaign"]["execution"] == {"taskSupport": "optional"}

    task = start(tasks, 5)
    assert task["status"] == "working"
    (campaign,) = Campaign.objects.filter(owner=funded)
    assert tasks.get(task["taskId"])["status"] == "working"

    sim_advance(live_sim, 400)  # every call dialled and ended; the webhooks tell the live server
    wait_until(lambda: ended(campaign), timeout=WAIT, what="the campaign's calls to end")
    outcome = tasks.outcome(task["taskId"])
    assert outcome["structuredContent"]["campaign_id"] == str(campaign.id)
    assert outcome["structuredContent"]["status"] == "completed"
    assert outcome["structuredContent"]["progress"] == {"ended": 5, "total": 5, "percent": 100.0}


@ERAS
def test_cancelling_a_campaign_task_stops_the_campaign_and_releases_its_credits(http, modern, funded, live_sim):
    tasks = Tasks(http, modern=modern)
    before = balance(funded)
    task = start(tasks, 4)
    assert balance(funded) < before  # every call's credits held

    tasks.result("tasks/cancel", {"taskId": task["taskId"]})

    assert tasks.get(task["taskId"])["status"] == "cancelled"
    (campaign,) = Campaign.objects.filter(owner=funded)
    assert campaign.status == CampaignStatus.CANCELLED
    assert set(Call.objects.filter(campaign=campaign).values_list("status", flat=True)) == {CallStatus.CANCELED}
    assert balance(funded) == before  # no call was dialled: every credit came back
