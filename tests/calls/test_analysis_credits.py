"""What post-call analysis costs the user: ``ANALYSIS_CREDITS_PER_CALL`` per call analyzed, held before the
provider is asked and charged exactly once when the answers are stored; a short balance is a clear
``insufficient_credits`` tool error with nothing asked or stored; answers that are not stored are not paid."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from calls.campaigns import services as campaigns
from calls.models import Call, CallAnalysis, CallStatus
from calls.poller import PollOptions, poll_calls
from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import VOICEMAIL, sim_advance
from tests.calls.test_analysis_tools import QUESTIONS, TYPED, ended_call
from tests.calls.test_campaigns import numbers
from tests.calls.test_mcp_tools import balance, error_of
from tests.calls.test_mcp_tools import connect as connect  # fixtures: the user's tools over HTTP and WebSocket
from tests.calls.test_mcp_tools import tools as tools
from users.models import CreditLedgerEntry, User

pytestmark = pytest.mark.postgres

PRICE = 3


def analysis_ledger(user: User) -> list[tuple[str, str, int]]:
    """(reference, kind, amount) of each ledger row of an analysis, oldest first."""
    return list(CreditLedgerEntry.objects.filter(account__user=user, reference__startswith="analysis:")
                .order_by("id").values_list("reference", "kind", "amount"))


def analyze_requests(sim: BackgroundSimulator) -> int:
    counts = httpx.get(f"{sim.url}/_sim/requests", timeout=5).json()["endpoints"]
    return sum(count for endpoint, count in counts.items() if endpoint.endswith("/analyze"))


def test_analyzing_a_call_charges_its_owner_the_price_exactly_once(tools, mcp_user, live_sim, settings):
    settings.ANALYSIS_CREDITS_PER_CALL = PRICE
    call_id = ended_call(tools, live_sim)
    before = balance(mcp_user)

    answer = tools.call("analyzeCall", {"call_id": call_id, "questions": QUESTIONS, "answer_schema": TYPED})

    assert not answer.is_error, answer.text
    assert balance(mcp_user) == before - PRICE
    rows = analysis_ledger(mcp_user)
    assert [(kind, amount) for _, kind, amount in rows] == [("reserve", -PRICE), ("settle", 0)]
    assert rows[0][0] == rows[1][0], "the charge settles the analysis's own hold"


def test_a_balance_that_cannot_pay_for_an_analysis_is_a_tool_error_and_nothing_is_asked(
        tools, mcp_user, live_sim, settings):
    call_id = ended_call(tools, live_sim)
    settings.ANALYSIS_CREDITS_PER_CALL = balance(mcp_user) + 1
    before, asked = balance(mcp_user), analyze_requests(live_sim)

    code, message = error_of(tools, "analyzeCall", {"call_id": call_id, "questions": QUESTIONS})

    assert code == "insufficient_credits"
    assert f"{before + 1} needed" in message
    assert analyze_requests(live_sim) == asked
    assert not CallAnalysis.objects.exists()
    assert balance(mcp_user) == before
    assert analysis_ledger(mcp_user) == []


def test_answers_that_break_the_schema_are_not_stored_and_not_paid(tools, mcp_user, live_sim, settings):
    settings.ANALYSIS_CREDITS_PER_CALL = PRICE
    call_id = ended_call(tools, live_sim, VOICEMAIL)
    before = balance(mcp_user)
    # each answer fits its own property; the whole refuses a voicemail (the simulator answers per property)
    no_voicemail = {**TYPED, "not": {"properties": {"answered_by": {"const": "voicemail"}}}}

    code, _ = error_of(tools, "analyzeCall", {"call_id": call_id, "questions": QUESTIONS,
                                              "answer_schema": no_voicemail})

    assert code == "analysis_answers_invalid"
    assert not CallAnalysis.objects.exists()
    assert balance(mcp_user) == before
    assert [(kind, amount) for _, kind, amount in analysis_ledger(mcp_user)] == [("reserve", -PRICE),
                                                                               ("release", PRICE)]


def test_free_analysis_writes_no_ledger_row(tools, mcp_user, live_sim, settings):
    settings.ANALYSIS_CREDITS_PER_CALL = 0
    call_id = ended_call(tools, live_sim)
    before = balance(mcp_user)
    assert not tools.call("analyzeCall", {"call_id": call_id, "questions": QUESTIONS}).is_error
    assert balance(mcp_user) == before
    assert analysis_ledger(mcp_user) == []


@pytest.fixture
def ended_campaign(transactional_db, make_user, sim, provider, settings) -> tuple[User, Any]:  # noqa: ANN001
    """A campaign of 6 calls that have ended: rows 0-3 answered by a human, rows 4-5 busy."""
    settings.POLLER_GRACE_SECONDS = 0
    owner = make_user("analysis-owner", credits=10_000)
    rows: list[Any] = [{"phone_number": number} for number in numbers(4, scenarios=(0,)) + numbers(2, scenarios=(2,))]
    shared, good = campaigns.campaign_prepare(provider=provider, rows=rows, task="Book a table.", max_duration=2)
    campaign = campaigns.campaign_place(provider=provider, user=owner, shared=shared, rows=good)
    sim_advance(sim, 30)  # every call dialled (the batch is dispatched as the clock moves) ...
    sim_advance(sim, 400)  # ... and ended
    campaigns.campaign_link_calls(provider=provider, campaign=campaign)
    poll_calls(options=PollOptions.from_settings(max_seconds=60, trigger="test"))
    assert set(Call.objects.filter(campaign=campaign).values_list("status", flat=True)) <= {
        CallStatus.COMPLETED, CallStatus.BUSY}
    return owner, campaign


def test_a_campaign_page_holds_every_analyzable_call_at_once_and_charges_each_stored_answer(
        ended_campaign, sim, provider, settings):
    from calls.analysis import campaign_analyze
    from users.errors import InsufficientCredits

    owner, campaign = ended_campaign
    settings.ANALYSIS_CREDITS_PER_CALL = PRICE
    analyzable = Call.objects.filter(campaign=campaign, status=CallStatus.COMPLETED).exclude(transcript="").count()
    assert analyzable >= 1
    before = balance(owner)

    outcome = campaign_analyze(provider=provider, campaign=campaign, questions=QUESTIONS[:1])

    analyzed = [item for item in outcome.calls if item.analysis is not None]
    assert len(analyzed) == analyzable
    assert balance(owner) == before - PRICE * analyzable
    kinds = [kind for _, kind, _ in analysis_ledger(owner)]
    assert kinds.count("reserve") == kinds.count("settle") == analyzable
    assert "release" not in kinds  # the busy calls were never held

    settings.ANALYSIS_CREDITS_PER_CALL = balance(owner) // analyzable + 1  # one call's worth, not the page's
    stored, asked = CallAnalysis.objects.count(), analyze_requests(sim)
    with pytest.raises(InsufficientCredits):
        campaign_analyze(provider=provider, campaign=campaign, questions=QUESTIONS[:1])
    assert (CallAnalysis.objects.count(), analyze_requests(sim)) == (stored, asked)
    assert len(analysis_ledger(owner)) == 2 * analyzable
