"""What a campaign looks like to clients, shared by the MCP tools, the ``campaigns://{id}`` resource and the
REST API (whose OpenAPI schema documents these models), and how to build it from the models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from calls.campaigns import selectors
from calls.models import Call, Campaign, CampaignStatus
from calls.shapes import Answered, Instant, Shape, Status, enum_schema, one_of

__all__ = ["CampaignCall", "CampaignDetails", "CampaignList", "CampaignProgress", "CampaignSpend", "campaign_details"]

CAMPAIGN_STATUSES = tuple(CampaignStatus.values)  # CampaignStatusEnum in the OpenAPI schema
CampaignState = Annotated[str, one_of(CAMPAIGN_STATUSES), enum_schema(CAMPAIGN_STATUSES)]


class CampaignCall(Shape):
    """One call of a campaign, by its row."""

    index: int = Field(description="Its row in the calls list the campaign was made with (from 0).")
    call_id: str = Field(description="An ordinary call: getCallDetails, getCallTranscript and calls://{id} work.")
    to: str
    status: Status
    answered_by: Answered | None
    duration_seconds: int | None
    cost_credits: int | None


class CampaignProgress(Shape):
    ended: int = Field(description="Calls that have ended (completed, failed, busy, no answer or cancelled).")
    total: int
    percent: float = Field(description="ended / total, in percent.")


class CampaignSpend(Shape):
    reserved_credits: int = Field(description="Held for every call when the campaign was placed.")
    held_credits: int = Field(description="Still held for calls that have not ended (or await their price).")
    spent_credits: int = Field(description="Charged so far for calls that ended.")
    released_credits: int = Field(description="Given back: calls that ended under their hold, or never ran.")


class CampaignDetails(Shape):
    """A campaign: its status, counts of its calls by status, progress and spend, and a page of its calls."""

    campaign_id: str
    name: str
    status: CampaignState = Field(description="placing, active, completed (every call ended) or cancelled.")
    task: str | None
    pathway_id: str | None
    voice: str | None
    max_duration_minutes: int = Field(description="The longest each call may last.")
    scheduled_for: Instant | None
    created_at: Instant
    placed_at: Instant | None
    cancelled_at: Instant | None
    completed_at: Instant | None
    total_calls: int
    counts: dict[str, int] = Field(description="Calls by status (every status, zeros included).")
    progress: CampaignProgress
    spend: CampaignSpend
    calls: list[CampaignCall] = Field(description="A page of its calls in row order (calls_offset, calls_limit).")
    next_calls_offset: int | None = Field(description="calls_offset of the next page of calls; null on the last.")


class CampaignList(Shape):
    campaigns: list[CampaignDetails]
    total: int


def _row(call: Call) -> CampaignCall:
    return CampaignCall(index=call.campaign_index or 0, call_id=str(call.id), to=call.to_number, status=call.status,
                        answered_by=call.answered_by or None, duration_seconds=call.duration_seconds,
                        cost_credits=call.cost_credits)


def campaign_details(campaign: Campaign, *, calls_offset: int = 0, calls_limit: int = 20) -> CampaignDetails:
    totals = selectors.campaign_totals(campaign=campaign)
    total = campaign.total_calls
    rows = selectors.campaign_calls(campaign=campaign, offset=calls_offset, limit=calls_limit) if calls_limit else []
    following = calls_offset + len(rows)
    return CampaignDetails(
        campaign_id=str(campaign.id), name=campaign.name, status=campaign.status, task=campaign.task or None,
        pathway_id=campaign.pathway_id or None, voice=campaign.voice or None,
        max_duration_minutes=campaign.max_duration, scheduled_for=campaign.start_time,
        created_at=campaign.created_at, placed_at=campaign.placed_at, cancelled_at=campaign.cancelled_at,
        completed_at=campaign.completed_at, total_calls=total, counts=totals.counts,
        progress=CampaignProgress(ended=totals.ended, total=total,
                                  percent=round(100 * totals.ended / total, 1) if total else 100.0),
        spend=CampaignSpend(reserved_credits=campaign.reserved_credits, held_credits=totals.held,
                            spent_credits=totals.spent,
                            released_credits=max(0, campaign.reserved_credits - totals.held - totals.spent)),
        calls=[_row(call) for call in rows],
        next_calls_offset=following if rows and following < total else None,
    )
