"""The six tools about phone calls: place, read, transcript, recording, cancel. Tool names are the public
contract.

Each tool: a validated input model (``calls.mcp_models``) -> a service or selector (in a worker thread:
the ORM is sync) -> an output shape (``calls.shapes``), whose schema is the tool's outputSchema.
Failures a model can fix (bad number, insufficient credits, call not found) are ``DomainError``s, which
the dispatcher returns as ``isError`` results; nothing is placed or charged when they happen.
"""

from __future__ import annotations

import asyncio
import json

from django.conf import settings

from calls import presenters, services
from calls.details_cache import cache_key, details_cache
from calls.mcp_access import history_page, own_call, own_call_details, own_call_details_on_loop
from calls.mcp_confirm import confirm_spend
from calls.mcp_models import (
    CallDetails,
    CallHistory,
    CallRef,
    GetCallHistoryInput,
    GetCallTranscriptInput,
    MakePhoneCallInput,
    PlacedCall,
    RecordingLink,
    Transcript,
)
from calls.mcp_tools.call_tasks import PhoneCallTask, Spend, follow_call_changes, place_call, placed
from calls.models import TERMINAL_STATUSES, Call, CallStatus
from calls.providers import configured_provider
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.dispatcher import ToolResult
from mcp_gateway.registry import mcp_tool, tool_spec
from users import scopes

STAGES: dict[str, int] = {CallStatus.PENDING: 1, CallStatus.SCHEDULED: 1, CallStatus.QUEUED: 1, CallStatus.RINGING: 2,
          CallStatus.IN_PROGRESS: 3}
SPOKEN = ("agent", "callee")  # transcript speakers whose lines a progress message quotes


# --- makePhoneCall ----------------------------------------------------------------------------------


@mcp_tool(
    name="makePhoneCall",
    title="Place an AI phone call",
    description=(
        "Place a real phone call in which an AI voice agent carries out `task` (or a Bland `pathway_id`). "
        "Costs credits: max_duration minutes are reserved up front and only the real cost is charged. "
        "Returns the call_id and status at once; set wait_for_completion=true to wait (with progress "
        "notifications) until the call ends and get the outcome, summary and duration. Reuse the same "
        "idempotency_key when retrying so a call is never placed twice. A call reserving more than the user's "
        "confirmation threshold is first confirmed by the user (elicitation), or needs confirm_spend=true. "
        "Clients that take MCP tasks can run it as a task: the answer is a task at once, and tasks/get gives "
        "the call's outcome when it ends."
    ),
    input_model=MakePhoneCallInput,
    output_model=PlacedCall,
    annotations={"title": "Place an AI phone call", "readOnlyHint": False, "destructiveHint": False,
                 "idempotentHint": False, "openWorldHint": True},
    scopes=[scopes.CALLS_WRITE],
    rate_class="place",
    task_support="optional",
    task_work=PhoneCallTask(),
)
async def make_phone_call(ctx: RequestScope, arguments: MakePhoneCallInput) -> PlacedCall:
    spend = Spend.of(arguments)  # a bad number is never confirmed
    await confirm_spend(ctx, credits=spend.credits, minutes=spend.minutes, summary=spend.summary,
                        confirmed=arguments.confirm_spend)
    call = await db.run(place_call, ctx, arguments)
    if not arguments.wait_for_completion or call.start_time:
        return await db.run(placed, call)  # its details read the call's analyses: in a worker thread
    return await _wait_for_end(ctx, call, min(arguments.max_wait_seconds, settings.CALL_WAIT_MAX_SECONDS))


follow_call_changes(tool_spec(make_phone_call))  # its tasks hear of the call's changes as they commit


def _progress(call: Call) -> tuple[float, str]:
    """Where the call is (1 queued .. 4 ended) and what to say: its status and, while it runs, the latest line
    said. Each line moves the progress a little further within the stage, so every new line is a notification."""
    if call.status in TERMINAL_STATUSES:
        return 4, f"Call {call.status.replace('_', ' ')}"
    lines = [line for line in call.transcript if isinstance(line, dict) and line.get("speaker") in SPOKEN
             and line.get("text")]
    message = f"Call {call.status.replace('_', ' ')}"
    if lines:
        message += f". {presenters.SPEAKER_LABELS[lines[-1]['speaker']]}: {lines[-1]['text']}"
    return STAGES.get(call.status, 1) + len(lines) / (len(lines) + 1), message


async def _wait_for_end(ctx: RequestScope, call: Call, max_wait: int) -> PlacedCall:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while True:
        progress, message = _progress(call)
        await ctx.progress(progress, 4, message)
        label = call.status.replace("_", " ")
        if call.status in TERMINAL_STATUSES:
            return await db.run(placed, call)
        if loop.time() >= deadline:
            return await db.run(placed, call, f"Still {label} after {max_wait}s; call getCallDetails later, "
                                              "or cancelCall to stop it.")
        await asyncio.sleep(settings.CALL_WAIT_POLL_SECONDS)
        call = await db.run(services.call_refresh, provider=configured_provider(), call=call, source="tool")


# --- reading --------------------------------------------------------------------------------------


@mcp_tool(
    name="getCallDetails",
    title="Get a call's details",
    description=("Status, parties, timestamps, duration, cost, who answered (human or voicemail), the AI "
                 "summary and any error of one of your calls."),
    input_model=CallRef,
    output_model=CallDetails,
    annotations={"title": "Get a call's details", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_details(ctx: RequestScope, arguments: CallRef) -> CallDetails:
    # A settled call read before, unchanged since, comes from this process's cache (one Redis GET). Else the
    # row is read on the event loop where it can be (one statement, no worker-thread hop); a call the provider
    # may still report on, or one with analyses to load, goes on to a worker thread with it.
    key, viewer = cache_key(arguments.call_id), "staff" if ctx.principal.is_staff else str(ctx.principal.user_id)
    version = await details_cache.lookup(key, viewer) if key is not None else None
    if version is not None and version.details is not None:
        return version.details
    call = await own_call_details_on_loop(ctx, arguments.call_id)
    if call is not None and not services.call_may_refresh(call) and not getattr(call, "analyses_present", True):
        shown = presenters.call_details(call)
        if key is not None and version is not None and call.is_terminal:  # a finished call: kept
            details_cache.keep(key, viewer, version, shown)
        return shown

    def read() -> CallDetails:
        found = own_call_details(ctx, arguments.call_id) if call is None else call
        return presenters.call_details(services.call_refresh_if_stale(provider=configured_provider(), call=found,
                                                                      source="tool"))

    return await db.run(read)


@mcp_tool(
    name="getCallHistory",
    title="List your calls",
    description=("Your calls, newest first, filtered by status, who answered, number, date range and "
                 "duration. Pages are never silently capped: `total` counts every match (as of the first page) and "
                 "`next_cursor` fetches the next page."),
    input_model=GetCallHistoryInput,
    output_model=CallHistory,
    annotations={"title": "List your calls", "readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_history(ctx: RequestScope, arguments: GetCallHistoryInput) -> CallHistory:
    return await db.run(history_page, ctx, arguments)


@mcp_tool(
    name="getCallTranscript",
    title="Get a call's transcript",
    description=("What was said on a call. format=text gives 'Agent: ... / Callee: ...' lines; segments gives "
                 "speaker turns as a list; corrected gives the provider's audio-aligned transcript with "
                 "confidence scores when the call was recorded. Long transcripts are cut at max_chars, with a note."),
    input_model=GetCallTranscriptInput,
    output_model=Transcript,
    annotations={"title": "Get a call's transcript", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_transcript(ctx: RequestScope, arguments: GetCallTranscriptInput) -> Transcript:
    def read() -> Transcript:
        call = own_call(ctx, arguments.call_id)
        if arguments.format == "corrected":
            call = services.call_store_corrected_transcript(provider=configured_provider(), call=call)
        return presenters.call_transcript(call, arguments.format, max_chars=arguments.max_chars)

    return await db.run(read)


@mcp_tool(
    name="getCallRecording",
    title="Get a call's recording",
    description=("A time-limited download link to the audio of a recorded call (placed with record=true), "
                 "with its duration and content type, plus a link to the calls://{call_id}/recording resource."),
    input_model=CallRef,
    output_model=RecordingLink,
    annotations={"title": "Get a call's recording", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_recording(ctx: RequestScope, arguments: CallRef) -> ToolResult:
    def read() -> RecordingLink:
        call = services.call_attach_recording(provider=configured_provider(), call=own_call(ctx, arguments.call_id))
        return presenters.call_recording(call)

    info = await db.run(read)
    link = {"type": "resource_link", "uri": f"calls://{info.call_id}/recording", "name": "Call recording",
            "mimeType": info.content_type, "description": "The recording as an MCP resource."}
    return ToolResult(content=[{"type": "text", "text": json.dumps(info.as_json())}, link], structured=info)


@mcp_tool(
    name="cancelCall",
    title="Cancel a call",
    description=("Stop a queued, scheduled or live call and give back its reserved credits. Cancelling a call "
                 "that is already cancelled changes nothing; a call that already ended cannot be cancelled."),
    input_model=CallRef,
    output_model=CallDetails,
    annotations={"title": "Cancel a call", "readOnlyHint": False, "destructiveHint": True, "idempotentHint": True,
                 "openWorldHint": True},
    scopes=[scopes.CALLS_WRITE],
    rate_class="cancel",
)
async def cancel_call(ctx: RequestScope, arguments: CallRef) -> CallDetails:
    def cancel() -> CallDetails:
        call = own_call(ctx, arguments.call_id)
        return presenters.call_details(services.call_cancel(provider=configured_provider(), call=call, source="tool"))

    return await db.run(cancel)

