"""analyzeCall: questions about one of your ended calls, answered by the provider from the conversation and
stored with the call (getCallDetails and calls://{call_id} show them too)."""

from __future__ import annotations

from calls import presenters
from calls.analysis import call_analyze
from calls.mcp_access import own_call
from calls.mcp_models import AnalyzeCallInput, CallAnalysisResult
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
        "(getCallDetails shows them). A call still queued or live gives call_not_ended: wait for it to end; a "
        "call nobody answered gives call_not_analyzable."
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
