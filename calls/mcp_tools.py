"""The six MCP tools of callmcp. Tool names are the public contract.

Each tool: validated input -> a service or selector (in a worker thread: the ORM is sync) -> output.
Failures a model can fix (bad number, insufficient credits, call not found) are ``DomainError``s,
which the dispatcher returns as ``isError`` results; nothing is placed or charged when they happen.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from calls import presenters, selectors, services
from calls.models import TERMINAL_STATUSES, AnsweredBy, Call, CallStatus
from calls.providers import configured_provider
from calls.recordings import recording_duration_seconds, recording_link
from config.errors import InvalidInput
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.dispatcher import ToolResult
from mcp_gateway.registry import mcp_tool
from users import scopes
from users.models import User

CALL_ID = {"type": "string", "format": "uuid", "description": "The call_id returned by makePhoneCall."}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
CALL_DETAILS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "call_id": {"type": "string"},
        "to": {"type": "string"},
        "from": NULLABLE_STRING,
        "status": {"type": "string", "enum": CallStatus.values},
        "answered_by": NULLABLE_STRING,
        "created_at": NULLABLE_STRING,
        "started_at": NULLABLE_STRING,
        "ended_at": NULLABLE_STRING,
        "scheduled_for": NULLABLE_STRING,
        "duration_seconds": NULLABLE_INT,
        "cost_credits": NULLABLE_INT,
        "reserved_credits": {"type": "integer"},
        "summary": NULLABLE_STRING,
        "error": NULLABLE_STRING,
        "has_transcript": {"type": "boolean"},
        "has_recording": {"type": "boolean"},
        "note": {"type": "string"},
    },
    "required": ["call_id", "to", "status"],
}
STAGES = {CallStatus.PENDING: 1, CallStatus.SCHEDULED: 1, CallStatus.QUEUED: 1, CallStatus.RINGING: 2,
          CallStatus.IN_PROGRESS: 3}


def _user(ctx: RequestScope) -> User:
    return User.objects.get(pk=ctx.principal.user_id)


def own_call(ctx: RequestScope, call_id: Any) -> Call:
    """The caller's call, in one query: the principal is authenticated, the user row is not needed."""
    return selectors.call_get_for_user(user_id=ctx.principal.user_id, call_id=call_id, staff=ctx.principal.is_staff)


def _parse_time(value: Any, field: str, *, assume_utc: bool = False) -> datetime | None:
    """ISO 8601; a filter bound without an offset is read as UTC (a schedule must say its offset)."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(reason=f"{field} must be an ISO 8601 date-time, e.g. 2026-12-01T15:00:00+00:00.") from None
    if assume_utc and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- makePhoneCall ----------------------------------------------------------------------------------


@mcp_tool(
    name="makePhoneCall",
    title="Place an AI phone call",
    description=(
        "Place a real phone call in which an AI voice agent carries out `task` (or a Bland `pathway_id`). "
        "Costs credits: max_duration minutes are reserved up front and only the real cost is charged. "
        "Returns the call_id and status at once; set wait_for_completion=true to wait (with progress "
        "notifications) until the call ends and get the outcome, summary and duration. Reuse the same "
        "idempotency_key when retrying so a call is never placed twice."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "phone_number": {"type": "string", "description": "Who to call, in E.164 format: +14155550123."},
            "task": {"type": "string", "maxLength": 2000,
                     "description": "What the AI agent should do and say, in plain language."},
            "pathway_id": {"type": "string", "description": "A Bland conversational pathway instead of a task."},
            "voice": {"type": "string", "description": "Voice name, e.g. 'maya' or 'josh'."},
            "first_sentence": {"type": "string", "maxLength": 500, "description": "The agent's opening line."},
            "language": {"type": "string", "description": "Language code, e.g. 'en-US', 'es', 'fr'."},
            "max_duration": {"type": "integer", "minimum": 1, "maximum": 720,
                             "description": "Longest the call may last, in minutes (default 10)."},
            "record": {"type": "boolean", "description": "Record the audio (needed for getCallRecording)."},
            "wait_for_greeting": {"type": "boolean", "description": "Let the callee speak first."},
            "start_time": {"type": "string", "format": "date-time",
                           "description": "Schedule the call (at least 5 minutes ahead), with a UTC offset."},
            "metadata": {"type": "object", "description": "Your own data, returned with the call."},
            "request_data": {"type": "object", "description": "Variables the agent can use in the task."},
            "idempotency_key": {"type": "string", "maxLength": 100,
                                "description": "Same key, same call: retries never place a second call."},
            "wait_for_completion": {"type": "boolean",
                                    "description": "Wait until the call ends, sending progress notifications."},
            "max_wait_seconds": {"type": "integer", "minimum": 5, "maximum": 600,
                                 "description": "Longest to wait when wait_for_completion is true (default 300)."},
        },
        "required": ["phone_number"],
        "additionalProperties": False,
    },
    output_schema=CALL_DETAILS_SCHEMA,
    annotations={"title": "Place an AI phone call", "readOnlyHint": False, "destructiveHint": False,
                 "idempotentHint": False, "openWorldHint": True},
    scopes=[scopes.CALLS_WRITE],
    rate_class="place",
)
async def make_phone_call(ctx: RequestScope, arguments: dict[str, Any]) -> dict[str, Any]:
    start_time = _parse_time(arguments.get("start_time"), "start_time")

    def place() -> Call:
        return services.call_place(
            provider=configured_provider(), user=_user(ctx), to_number=arguments["phone_number"],
            task=arguments.get("task", ""),
            pathway_id=arguments.get("pathway_id", ""), voice=arguments.get("voice", ""),
            first_sentence=arguments.get("first_sentence", ""), language=arguments.get("language", ""),
            max_duration=arguments.get("max_duration"), record=bool(arguments.get("record")),
            wait_for_greeting=bool(arguments.get("wait_for_greeting")), start_time=start_time,
            metadata=arguments.get("metadata"), request_data=arguments.get("request_data"),
            idempotency_key=arguments.get("idempotency_key"), source="tool",
        )

    call = await db.run(place)
    if not arguments.get("wait_for_completion") or call.start_time:
        return presenters.call_details(call)
    wait = min(int(arguments.get("max_wait_seconds", 300)), settings.CALL_WAIT_MAX_SECONDS)
    return await _wait_for_end(ctx, call, wait)


async def _wait_for_end(ctx: RequestScope, call: Call, max_wait: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while True:
        stage = 4 if call.status in TERMINAL_STATUSES else STAGES.get(call.status, 1)
        label = call.status.replace("_", " ")
        await ctx.progress(stage, 4, f"Call {label}")
        if call.status in TERMINAL_STATUSES:
            return presenters.call_details(call)
        if loop.time() >= deadline:
            details = presenters.call_details(call)
            details["note"] = (f"Still {label} after {max_wait}s; call getCallDetails later, "
                               "or cancelCall to stop it.")
            return details
        await asyncio.sleep(settings.CALL_WAIT_POLL_SECONDS)
        call = await db.run(services.call_refresh, provider=configured_provider(), call=call, source="tool")


# --- reading --------------------------------------------------------------------------------------


@mcp_tool(
    name="getCallDetails",
    title="Get a call's details",
    description=("Status, parties, timestamps, duration, cost, who answered (human or voicemail), the AI "
                 "summary and any error of one of your calls."),
    input_schema={"type": "object", "properties": {"call_id": CALL_ID}, "required": ["call_id"],
                  "additionalProperties": False},
    output_schema=CALL_DETAILS_SCHEMA,
    annotations={"title": "Get a call's details", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_details(ctx: RequestScope, arguments: dict[str, Any]) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        return presenters.call_details(own_call(ctx, arguments["call_id"]))

    return await db.run(read)


@mcp_tool(
    name="getCallHistory",
    title="List your calls",
    description=("Your calls, newest first, filtered by status, who answered, number, date range and "
                 "duration. Pages are never silently capped: `total` counts every match (as of the first page) and "
                 "`next_cursor` fetches the next page."),
    input_schema={
        "type": "object",
        "properties": {
            "status": {"oneOf": [{"type": "string", "enum": CallStatus.values},
                                 {"type": "array", "items": {"type": "string", "enum": CallStatus.values}}]},
            "answered_by": {"oneOf": [{"type": "string", "enum": AnsweredBy.values},
                                      {"type": "array", "items": {"type": "string", "enum": AnsweredBy.values}}]},
            "number": {"type": "string", "description": "Only calls to or from this E.164 number."},
            "since": {"type": "string", "format": "date-time", "description": "Created at or after."},
            "until": {"type": "string", "format": "date-time", "description": "Created before."},
            "min_duration": {"type": "integer", "minimum": 0, "description": "Seconds."},
            "max_duration": {"type": "integer", "minimum": 0, "description": "Seconds."},
            "cursor": {"type": "string", "description": "next_cursor from the previous page."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Page size (default 20)."},
        },
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "calls": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"},
            "next_cursor": NULLABLE_STRING,
        },
        "required": ["calls", "total", "next_cursor"],
    },
    annotations={"title": "List your calls", "readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_history(ctx: RequestScope, arguments: dict[str, Any]) -> dict[str, Any]:
    filters = history_filters(arguments)

    def read() -> dict[str, Any]:
        page = selectors.call_history(owner_id=ctx.principal.user_id, filters=filters, cursor=arguments.get("cursor"),
                                      limit=int(arguments.get("limit", 20)))
        return {"calls": [presenters.call_summary(c) for c in page.calls], "total": page.total,
                "next_cursor": page.next_cursor}

    return await db.run(read)


def history_filters(arguments: dict[str, Any]) -> selectors.HistoryFilters:
    def many(value: Any) -> tuple[str, ...]:
        if value in (None, ""):
            return ()
        return tuple(value) if isinstance(value, list) else (str(value),)

    number = arguments.get("number") or ""
    return selectors.HistoryFilters(
        status=many(arguments.get("status")),
        answered_by=many(arguments.get("answered_by")),
        number=services.normalize_phone_number(number, field="number") if number else "",
        since=_parse_time(arguments.get("since"), "since", assume_utc=True),
        until=_parse_time(arguments.get("until"), "until", assume_utc=True),
        min_duration=arguments.get("min_duration"),
        max_duration=arguments.get("max_duration"),
    )


@mcp_tool(
    name="getCallTranscript",
    title="Get a call's transcript",
    description=("What was said on a call. format=text gives 'Agent: ... / Callee: ...' lines; segments gives "
                 "speaker turns as a list; corrected gives the provider's audio-aligned transcript with "
                 "confidence scores when the call was recorded. Long transcripts are cut at max_chars, with a note."),
    input_schema={
        "type": "object",
        "properties": {
            "call_id": CALL_ID,
            "format": {"type": "string", "enum": ["text", "segments", "corrected"], "default": "text"},
            "max_chars": {"type": "integer", "minimum": 100, "maximum": 200000, "default": 20000},
        },
        "required": ["call_id"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "call_id": {"type": "string"}, "status": {"type": "string"}, "format": {"type": "string"},
            "transcript": {"type": ["string", "array"]}, "truncated": {"type": "boolean"}, "note": {"type": "string"},
        },
        "required": ["call_id", "format", "transcript", "truncated"],
    },
    annotations={"title": "Get a call's transcript", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_transcript(ctx: RequestScope, arguments: dict[str, Any]) -> dict[str, Any]:
    fmt = arguments.get("format", "text")
    max_chars = int(arguments.get("max_chars", 20000))

    def read() -> dict[str, Any]:
        call = own_call(ctx, arguments["call_id"])
        segments = list(call.transcript)
        note = ""
        if fmt == "corrected":
            call = services.call_store_corrected_transcript(provider=configured_provider(), call=call)
            if call.corrected_transcript:
                segments = list(call.corrected_transcript)
            else:
                note = "No corrected transcript (it needs record=true and a finished call); showing the live one. "
        if not segments:
            note += ("The call has not produced a transcript yet." if not call.is_terminal
                     else "This call has no transcript (it was not answered).")
        return _bounded_transcript(call, fmt, segments, max_chars, note.strip())

    return await db.run(read)


def _bounded_transcript(call: Call, fmt: str, segments: list[dict[str, Any]], max_chars: int,
                        note: str) -> dict[str, Any]:
    result: dict[str, Any] = {"call_id": str(call.id), "status": call.status, "format": fmt, "truncated": False}
    if fmt == "text":
        text = presenters.transcript_text(segments)
        if len(text) > max_chars:
            result["truncated"] = True
            text = text[:max_chars]
        result["transcript"] = text
    else:
        kept, used = [], 0
        for segment in segments:
            used += len(json.dumps(segment))
            if used > max_chars:
                result["truncated"] = True
                break
            kept.append(segment)
        result["transcript"] = kept
    if result["truncated"]:
        note = (note + f" Cut at max_chars={max_chars}; ask again with a larger max_chars for the rest.").strip()
    if note:
        result["note"] = note
    return result


@mcp_tool(
    name="getCallRecording",
    title="Get a call's recording",
    description=("A time-limited download link to the audio of a recorded call (placed with record=true), "
                 "with its duration and content type, plus a link to the calls://{call_id}/recording resource."),
    input_schema={"type": "object", "properties": {"call_id": CALL_ID}, "required": ["call_id"],
                  "additionalProperties": False},
    output_schema={
        "type": "object",
        "properties": {
            "call_id": {"type": "string"}, "url": {"type": "string"}, "expires_at": {"type": "string"},
            "content_type": {"type": "string"}, "bytes": NULLABLE_INT,
            "duration_seconds": {"type": ["number", "null"]},
        },
        "required": ["call_id", "url", "expires_at", "content_type"],
    },
    annotations={"title": "Get a call's recording", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": False},
    scopes=[scopes.CALLS_READ],
)
async def get_call_recording(ctx: RequestScope, arguments: dict[str, Any]) -> ToolResult:
    def read() -> dict[str, Any]:
        call = own_call(ctx, arguments["call_id"])
        call = services.call_attach_recording(provider=configured_provider(), call=call)
        url, expires = recording_link(call)
        return {"call_id": str(call.id), "url": url, "expires_at": expires.isoformat(),
                "content_type": call.recording_content_type, "bytes": call.recording_bytes,
                "duration_seconds": recording_duration_seconds(call)}

    info = await db.run(read)
    link = {"type": "resource_link", "uri": f"calls://{info['call_id']}/recording", "name": "Call recording",
            "mimeType": info["content_type"], "description": "The recording as an MCP resource."}
    return ToolResult(content=[{"type": "text", "text": json.dumps(info)}, link], structured=info)


@mcp_tool(
    name="cancelCall",
    title="Cancel a call",
    description=("Stop a queued, scheduled or live call and give back its reserved credits. Cancelling a call "
                 "that is already cancelled changes nothing; a call that already ended cannot be cancelled."),
    input_schema={"type": "object", "properties": {"call_id": CALL_ID}, "required": ["call_id"],
                  "additionalProperties": False},
    output_schema=CALL_DETAILS_SCHEMA,
    annotations={"title": "Cancel a call", "readOnlyHint": False, "destructiveHint": True, "idempotentHint": True,
                 "openWorldHint": True},
    scopes=[scopes.CALLS_WRITE],
    rate_class="place",
)
async def cancel_call(ctx: RequestScope, arguments: dict[str, Any]) -> dict[str, Any]:
    def cancel() -> dict[str, Any]:
        call = own_call(ctx, arguments["call_id"])
        return presenters.call_details(services.call_cancel(provider=configured_provider(), call=call, source="tool"))

    return await db.run(cancel)
