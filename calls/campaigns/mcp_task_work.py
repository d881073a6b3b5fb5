"""makeCallCampaign as an MCP task: the campaign is the job, and the task says what the campaign says.

The task keeps the campaign's id; every ``tasks/get`` reads the campaign (its calls end by webhook or the
poller, whichever process placed them), ``working`` while it places and runs, ``completed`` with the
campaign's details once every call ended, ``cancelled`` once stopped. ``tasks/cancel`` stops it through
``services.campaign_cancel`` (calls not dialled give back their credits). Above the user's spend
threshold the task first asks (``input_required``, as makePhoneCall's; ``calls.mcp_confirm``) and
places nothing until the user accepts.
"""

from __future__ import annotations

from typing import Any

from calls.campaigns import selectors, services
from calls.campaigns.errors import CampaignNotCancellable
from calls.campaigns.mcp_models import MakeCallCampaignInput
from calls.campaigns.shapes import CampaignDetails, campaign_details
from calls.campaigns.validation import CampaignRow, CampaignSettings
from calls.mcp_access import owner_id
from calls.mcp_confirm import CONFIRM_KEY, check_answer, spend_question
from calls.models import Campaign, CampaignStatus
from calls.providers import configured_provider
from mcp_gateway import db
from mcp_gateway.context import Elicitation, RequestScope
from mcp_gateway.tasks import CANCELLED, WORKING, Step, TaskWork
from users.selectors import user_get


def campaign_prepare(arguments: MakeCallCampaignInput) -> tuple[CampaignSettings, list[CampaignRow]]:
    """Every row and setting checked, nothing written (a bad campaign is never put to the user)."""
    return services.campaign_prepare(
        provider=configured_provider(), rows=arguments.calls, name=arguments.name, task=arguments.task,
        pathway_id=arguments.pathway_id, voice=arguments.voice, first_sentence=arguments.first_sentence,
        language=arguments.language or "", max_duration=arguments.max_duration, record=arguments.record,
        wait_for_greeting=arguments.wait_for_greeting, start_time=arguments.start_time)


def spend_summary(rows: list[CampaignRow]) -> str:
    count = len(rows)
    return f"call {rows[0].to_number}" + (f" and {count - 1:,} more numbers" if count > 1 else "")


def campaign_place(ctx: RequestScope, shared: CampaignSettings, rows: list[CampaignRow]) -> Campaign:
    return services.campaign_place(provider=configured_provider(), user=user_get(user_id=owner_id(ctx)),
                                   shared=shared, rows=rows, source="tool")


def own_campaign(ctx: RequestScope, campaign_id: str) -> Campaign:
    return selectors.campaign_get_for_user(user_id=owner_id(ctx), campaign_id=campaign_id,
                                           staff=ctx.principal.is_staff)


def campaign_step(campaign: Campaign, state: dict[str, Any] | None = None) -> Step:
    details: CampaignDetails = campaign_details(campaign, calls_limit=0)
    progress = f"{details.progress.ended} of {details.progress.total} calls ended"
    if campaign.status == CampaignStatus.CANCELLED:
        return Step(CANCELLED, message=f"Campaign {campaign.id} was stopped ({progress}).", state=state)
    if campaign.status == CampaignStatus.COMPLETED:
        return Step.done(details, message=f"Campaign {campaign.id} ended: {progress}.")
    return Step(WORKING, message=f"Campaign {campaign.id} is {campaign.status}: {progress}.", state=state,
                ref=f"campaign:{campaign.id}")


class CampaignTask(TaskWork):
    poll_interval_ms = 5000

    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        shared, rows = await db.run(campaign_prepare, arguments)
        credits = services.campaign_reservation(shared=shared, rows=rows)
        question = await spend_question(ctx, credits=credits, minutes=shared.max_duration,
                                        summary=spend_summary(rows), confirmed=arguments.confirm_spend)
        if question is None:
            return await self._place(ctx, shared, rows)
        return Step.asking({CONFIRM_KEY: question}, message="Waiting for the user to confirm the spend.",
                           state={"arguments": arguments.model_dump(mode="json"), "credits": credits})

    async def resume(self, ctx: RequestScope, state: dict[str, Any], responses: dict[str, Any]) -> Step:
        check_answer(Elicitation.of(responses.get(CONFIRM_KEY)), credits=state["credits"])
        shared, rows = await db.run(campaign_prepare, MakeCallCampaignInput.model_validate(state["arguments"]))
        return await self._place(ctx, shared, rows)

    @staticmethod
    async def _place(ctx: RequestScope, shared: CampaignSettings, rows: list[CampaignRow]) -> Step:
        def place() -> Step:
            campaign = campaign_place(ctx, shared, rows)
            return campaign_step(campaign, state={"campaign_id": str(campaign.id)})

        return await db.run(place)

    async def poll(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        def read() -> Step:
            campaign = own_campaign(ctx, state["campaign_id"])
            services.campaign_link_if_due(provider=configured_provider(), campaign=campaign)
            return campaign_step(campaign)

        return await db.run(read)

    async def cancel(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        if "campaign_id" not in state:  # still waiting for the confirmation: nothing placed, nothing to stop
            return Step(CANCELLED, message="Cancelled before the campaign was placed.")

        def cancel() -> Step:
            campaign = own_campaign(ctx, state["campaign_id"])
            try:
                campaign = services.campaign_cancel(provider=configured_provider(), campaign=campaign, source="tool")
            except CampaignNotCancellable:
                campaign = own_campaign(ctx, state["campaign_id"])  # it ended first: the task takes its outcome
            return campaign_step(campaign)

        return await db.run(cancel)
