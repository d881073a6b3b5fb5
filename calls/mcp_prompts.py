"""Prompts that help an agent use the call tools well."""

from __future__ import annotations

import json
from typing import Any

from calls import presenters
from calls.mcp_access import own_call, recent_call_ids
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import PromptArgument, mcp_prompt
from users import scopes

TONES = ["friendly", "formal", "brief", "warm", "assertive"]
PERIODS = ["day", "week", "month"]


def _choices(options: list[str]) -> Any:
    return lambda ctx, value, context: [o for o in options if o.startswith(value)]


def _user_text(text: str) -> dict[str, Any]:
    return {"role": "user", "content": {"type": "text", "text": text}}


@mcp_prompt(
    name="plan_call",
    title="Plan a phone call",
    description=("Turn a goal into a ready makePhoneCall request: a task the voice agent can follow, an opening "
                 "line, a voice, a sensible max_duration and what to record."),
    arguments=[
        PromptArgument("goal", "What the call should achieve, e.g. 'book a table for 4 at 7pm Friday'.", True),
        PromptArgument("callee", "Who will answer (a restaurant, a customer, a clinic...).", False),
        PromptArgument("tone", "How the agent should sound: friendly, formal, brief, warm, assertive.", False,
                       _choices(TONES)),
        PromptArgument("language", "Language code for the call, e.g. en-US, es, fr.", False),
    ],
    scopes=[scopes.CALLS_WRITE],
)
async def plan_call(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    tone = arguments.get("tone") or "friendly"
    language = arguments.get("language") or "en-US"
    callee = arguments.get("callee") or "the person who answers"
    return [_user_text(
        f"Plan a phone call for this goal: {arguments['goal']}\n"
        f"The callee is {callee}. Tone: {tone}. Language: {language}.\n\n"
        "Write the makePhoneCall arguments as JSON with: task (second person instructions for the voice agent, "
        "under 2000 characters: who it is calling for, the goal, facts it may share, what it must not promise, "
        "how to handle voicemail and how to end the call), first_sentence (one natural opening line), voice "
        "(e.g. 'maya' or 'josh'), language, max_duration in minutes (short: 3-5 for simple bookings), "
        "record (true when the outcome must be checked later) and an idempotency_key. Then list what to "
        "check in the transcript afterwards to know whether the goal was met."
    )]


@mcp_prompt(
    name="review_call",
    title="Review a call",
    description="Summarise what happened on a call from its transcript and details, its outcome and the next step.",
    arguments=[PromptArgument("call_id", "The call to review.", True, recent_call_ids)],
    scopes=[scopes.CALLS_READ],
)
async def review_call(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    def read() -> tuple[dict[str, Any], str]:
        call = own_call(ctx, arguments["call_id"])
        return presenters.call_details(call).as_json(), presenters.transcript_text(list(call.transcript))

    details, transcript = await db.run(read)
    call_id = details["call_id"]
    return [
        {"role": "user", "content": {"type": "resource", "resource": {
            "uri": f"calls://{call_id}", "mimeType": "application/json", "text": json.dumps(details)}}},
        {"role": "user", "content": {"type": "resource", "resource": {
            "uri": f"calls://{call_id}/transcript", "mimeType": "text/plain",
            "text": transcript or "(no transcript: the call was not answered or has not ended)"}}},
        _user_text("Review this call: in three sentences say what happened, whether the task's goal was met "
                   "(quote the transcript), and the single best next step (call again, follow up by message, "
                   "or nothing)."),
    ]


@mcp_prompt(
    name="spending_report",
    title="Spending report",
    description="Explain what calls cost over a period, from credits://usage and credits://balance.",
    arguments=[PromptArgument("period", "day, week or month.", False, _choices(PERIODS))],
    scopes=[scopes.CREDITS_READ],
)
async def spending_report(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    period = arguments.get("period") or "month"
    group_by = "month" if period == "month" else "day"
    return [_user_text(
        f"Write a short spending report for the last {period}. Read credits://balance and "
        f"credits://usage?group_by={group_by}. Credits are cents. Report: total spent, minutes "
        "called, calls by status (how many were answered), the average cost of an answered call, the busiest "
        "day, and the credits still available with how many average calls they cover."
    )]
