"""analyzeCall and analyzeCampaign: questions about your ended calls (one, or each call of a campaign), answered
by the provider from the conversation and stored with each call (getCallDetails and calls://{call_id} show them)."""

from __future__ import annotations

from django.conf import settings

from calls import presenters
from calls.analysis import call_analyze, campaign_analyze
from calls.campaigns.mcp_task_work import own_campaign
from calls.mcp_access import own_call
from calls.mcp_models import AnalyzeCallInput, AnalyzeCampaignInput, CallAnalysisResult, CampaignAnalysis
from calls.providers import configured_provider
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_tool
from users import scopes


@mcp_tool(
    name="analyzeCall",
    title="Analyze a call",
    description=(
        "Answer questions about one of your calls that has ended, from what was said on it: e.g. who answered, "
        "whether the callee agreed, a date they gave. Answers come back one per question, in order, as an array; "
        "give answer_schema (a JSON Schema: an object with one property per question, or an array with one item "
        "per question) to get typed answers that validate against it. The answers are stored with the call "
        "(getCallDetails shows them), and each analysis is a new request to the provider that COSTS CREDITS: "
        f"{settings.ANALYSIS_CREDITS_PER_CALL} per call analyzed, charged only when answers are stored "
        "(insufficient_credits when the balance is short), so reuse stored answers rather than asking twice. A "
        "call still queued or live gives call_not_ended: wait for it to end; a call nobody answered gives "
        "call_not_analyzable."
    ),
    input_model=AnalyzeCallInput,
    output_model=CallAnalysisResult,
    annotations={"title": "Analyze a call", "readOnlyHint": False, "destructiveHint": False, "idempotentHint": False,
                 "openWorldHint": True},
    scopes=[scopes.CALLS_READ],
)
async def analyze_call(ctx: RequestScope, arguments: AnalyzeCallInput) -> CallAnalysisResult:
    def analyze() -> CallAnalysisResult:
        analysis = call_analyze(provider=configured_provider(), call=own_call(ctx, arguments.call_id),
                                questions=arguments.questions, answer_schema=arguments.answer_schema,
                                goal=arguments.goal, source="tool")
        return presenters.call_analysis(analysis)

    return await db.run(analyze)


@mcp_tool(
    name="analyzeCampaign",
    title="Analyze a campaign's calls",
    description=(
        "Ask the same questions about every ended call of one of your campaigns (makeCallCampaign), e.g. who "
        "answered and whether they agreed, and get the answers per call in row order, each stored with its call. "
        "Same questions and answer_schema as analyzeCall. A page of calls_limit calls (default 50) is analyzed "
        "per request: pass next_offset as calls_offset for the next page. Calls not ended yet or never answered "
        "are listed with their error code (call_not_ended, call_not_analyzable) and can be analyzed later. COSTS "
        f"CREDITS: {settings.ANALYSIS_CREDITS_PER_CALL} per call analyzed; the page's total is held first "
        "(insufficient_credits and nothing asked when the balance is short) and only stored answers are charged."
    ),
    input_model=AnalyzeCampaignInput,
    output_model=CampaignAnalysis,
    annotations={"title": "Analyze a campaign's calls", "readOnlyHint": False, "destructiveHint": False,
                 "idempotentHint": False, "openWorldHint": True},
    scopes=[scopes.CALLS_READ],
)
async def analyze_campaign(ctx: RequestScope, arguments: AnalyzeCampaignInput) -> CampaignAnalysis:
    def analyze() -> CampaignAnalysis:
        campaign = own_campaign(ctx, arguments.campaign_id)
        outcome = campaign_analyze(provider=configured_provider(), campaign=campaign, questions=arguments.questions,
                                   answer_schema=arguments.answer_schema, goal=arguments.goal,
                                   offset=arguments.calls_offset, limit=arguments.calls_limit, source="tool")
        return presenters.campaign_analysis(campaign, outcome, questions=arguments.questions,
                                            answer_schema=arguments.answer_schema)

    return await db.run(analyze)
