"""The campaign tools: makeCallCampaign, getCampaign, cancelCampaign, listCampaigns (registered through
``calls.mcp_tools``, which the gateway discovers). Each: validated input -> a service or selector in a worker
thread -> ``CampaignDetails``. Bad rows, unknown voices, too many numbers and short credits are
``DomainError``s, answered as ``isError`` results with a machine code; nothing is placed or charged then."""

from __future__ import annotations

from calls.campaigns import selectors, services
from calls.campaigns.mcp_models import CampaignRef, GetCampaignInput, ListCampaignsInput, MakeCallCampaignInput
from calls.campaigns.mcp_task_work import CampaignTask, campaign_place, campaign_prepare, own_campaign, spend_summary
from calls.campaigns.shapes import CampaignDetails, CampaignList, campaign_details
from calls.mcp_access import owner_id
from calls.mcp_confirm import confirm_spend
from calls.providers import configured_provider
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_tool
from users import scopes


@mcp_tool(
    name="makeCallCampaign",
    title="Call many numbers with one task",
    description=(
        "Place one AI phone call per row of `calls` (up to 1,000 numbers, each with its own request_data) with "
        "the same task or pathway, optionally scheduled. COSTS CREDITS: max_duration minutes are reserved for "
        "EVERY call up to front (rows x max_duration x the per-minute rate), all or nothing; each call is then "
        "charged only its real cost and the rest comes back when it ends. Every row is checked first: one bad row "
        "(invalid or duplicate number, bad request_data) rejects the whole campaign with every bad row listed by "
        "index, and nothing is placed. Returns the campaign_id at once; follow it with getCampaign or subscribe "
        "to campaigns://{campaign_id}. Each call is an ordinary call (getCallDetails, getCallTranscript). A "
        "campaign reserving more than the user's confirmation threshold is first confirmed by the user "
        "(elicitation), or needs confirm_spend=true. Clients that take MCP tasks can run it as a task: tasks/get "
        "follows the campaign until every call ended, then gives its details."
    ),
    input_model=MakeCallCampaignInput,
    output_model=CampaignDetails,
    annotations={"title": "Call many numbers with one task", "readOnlyHint": False, "destructiveHint": False,
                 "idempotentHint": False, "openWorldHint": True},
    scopes=[scopes.CALLS_WRITE],
    rate_class="place",
    task_support="optional",
    task_work=CampaignTask(),
)
async def make_call_campaign(ctx: RequestScope, arguments: MakeCallCampaignInput) -> CampaignDetails:
    shared, rows = await db.run(campaign_prepare, arguments)  # every row checked: a bad one is never put to the user
    await confirm_spend(ctx, credits=services.campaign_reservation(shared=shared, rows=rows),
                        minutes=shared.max_duration, summary=spend_summary(rows), confirmed=arguments.confirm_spend)

    def place() -> CampaignDetails:
        return campaign_details(campaign_place(ctx, shared, rows), calls_limit=0)

    return await db.run(place)


@mcp_tool(
    name="getCampaign",
    title="Get a campaign's progress",
    description=("A campaign's status (placing, active, completed, cancelled), its calls counted by status, "
                 "progress (ended of total), spend (reserved, still held, spent, released credits) and a page of "
                 "its calls in row order (calls_offset, calls_limit; each call_id works with getCallDetails)."),
    input_model=GetCampaignInput,
    output_model=CampaignDetails,
    annotations={"title": "Get a campaign's progress", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_campaign(ctx: RequestScope, arguments: GetCampaignInput) -> CampaignDetails:
    def read() -> CampaignDetails:
        campaign = own_campaign(ctx, arguments.campaign_id)
        services.campaign_link_if_due(provider=configured_provider(), campaign=campaign)
        return campaign_details(campaign, calls_offset=arguments.calls_offset, calls_limit=arguments.calls_limit)

    return await db.run(read)


@mcp_tool(
    name="listCampaigns",
    title="List your campaigns",
    description="Your campaigns, newest first, each with its status, counts, progress and spend.",
    input_model=ListCampaignsInput,
    output_model=CampaignList,
    annotations={"title": "List your campaigns", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def list_campaigns(ctx: RequestScope, arguments: ListCampaignsInput) -> CampaignList:
    def read() -> CampaignList:
        found, total = selectors.campaign_list(owner_id=owner_id(ctx), limit=arguments.limit, offset=arguments.offset)
        return CampaignList(campaigns=[campaign_details(c, calls_limit=0) for c in found], total=total)

    return await db.run(read)


@mcp_tool(
    name="cancelCampaign",
    title="Stop a campaign",
    description=("Stop a campaign: calls not dialled yet are cancelled and give back all their reserved credits; "
                 "calls already ringing or talking finish and pay their real cost. Stopping a stopped campaign "
                 "changes nothing; one whose calls have all ended cannot be stopped. Returns the campaign with its "
                 "counts and spend after the stop."),
    input_model=CampaignRef,
    output_model=CampaignDetails,
    annotations={"title": "Stop a campaign", "readOnlyHint": False, "destructiveHint": True, "idempotentHint": True,
                 "openWorldHint": True},
    scopes=[scopes.CALLS_WRITE],
    rate_class="cancel",
)
async def cancel_campaign(ctx: RequestScope, arguments: CampaignRef) -> CampaignDetails:
    def cancel() -> CampaignDetails:
        campaign = services.campaign_cancel(provider=configured_provider(), campaign=own_campaign(
            ctx, arguments.campaign_id), source="tool")
        return campaign_details(campaign, calls_limit=0)

    return await db.run(cancel)
