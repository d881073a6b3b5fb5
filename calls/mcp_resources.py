"""MCP resources of the calls app: history (with a filtering template), each call, its transcript and
recording, and usage. Only the owner (or staff) can read a call; anyone else gets "not found".

Call changes (``calls.events``) drop the owner's cached resources and reach subscribers of the call,
of the history (new calls) and of the resource list.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from pydantic import ValidationError

from calls import presenters, selectors, services

# Registered with the calls app's resources (and its subscribers connected): campaigns://{campaign_id}.
from calls.campaigns.mcp_resources import campaign, recent_campaigns  # noqa: F401
from calls.events import CallChanged, call_changes
from calls.mcp_access import history_page, own_call, owner_id, recent_call_ids
from calls.mcp_models import GetCallHistoryInput
from calls.models import AnsweredBy, CallStatus
from calls.providers import configured_provider
from calls.recordings import recording_link
from calls.usage import GROUPINGS, usage_report
from config.errors import InvalidInput
from mcp_gateway import db, notify
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_resource, mcp_resource_lister, mcp_resource_template
from mcp_gateway.tool_models import validation_problem
from users import resource_cache, scopes
from users.selectors import user_get

LISTED_CALLS = 20
HISTORY_URI = "calls://history"


def call_uri(call_id: object) -> str:
    return f"calls://{call_id}"


def _values(choices: list[str]) -> Any:
    return lambda ctx, value, context: [c for c in choices if c.startswith(value)]


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _history(ctx: RequestScope, values: dict[str, str]) -> dict[str, Any]:
    """A history page from the template's variables, read exactly as getCallHistory reads its arguments."""
    try:
        arguments = GetCallHistoryInput.model_validate({k: v for k, v in values.items() if v not in (None, "")})
    except ValidationError as exc:
        raise validation_problem(exc) from None
    return history_page(ctx, arguments).as_json()


@mcp_resource(
    uri=HISTORY_URI,
    name="Call history",
    description="Your 20 most recent calls as JSON, with the total and a cursor for the next page.",
    mime_type="application/json",
    scopes=[scopes.CALLS_READ],
)
async def history(ctx: RequestScope, uri: str) -> Any:
    user_id = owner_id(ctx)
    return json.dumps(await db.run(resource_cache.cached, user_id, "calls:history", lambda: _history(ctx, {})))


@mcp_resource_template(
    uri_template="calls://history{?status,answered_by,number,since,until,cursor,limit}",
    name="Filtered call history",
    description=("Your calls, newest first, filtered by status and answered_by (comma lists), number (E.164), "
                 "since/until (ISO dates), a page size (limit, 1-100) and the cursor of the previous page."),
    mime_type="application/json",
    scopes=[scopes.CALLS_READ],
    completers={"status": _values(CallStatus.values), "answered_by": _values(AnsweredBy.values)},
)
async def filtered_history(ctx: RequestScope, uri: str, **values: str) -> Any:
    return json.dumps(await db.run(_history, ctx, values))


@mcp_resource_template(
    uri_template="calls://{call_id}",
    name="Call",
    description="One of your calls as JSON: status, parties, timestamps, duration, cost, summary.",
    mime_type="application/json",
    scopes=[scopes.CALLS_READ],
    completers={"call_id": recent_call_ids},
)
async def call(ctx: RequestScope, uri: str, call_id: str) -> Any:
    def read() -> dict[str, Any]:
        found = services.call_refresh_if_stale(provider=configured_provider(), call=own_call(ctx, call_id),
                                               source="tool")
        return presenters.call_details(found).as_json()

    return json.dumps(await db.run(read))


@mcp_resource_template(
    uri_template="calls://{call_id}/transcript",
    name="Call transcript",
    description="What was said on one of your calls, as 'Agent: ... / Callee: ...' lines.",
    mime_type="text/plain",
    scopes=[scopes.CALLS_READ],
    completers={"call_id": recent_call_ids},
)
async def transcript(ctx: RequestScope, uri: str, call_id: str) -> Any:
    def read() -> str:
        found = own_call(ctx, call_id)
        return presenters.transcript_text(list(found.transcript))

    return await db.run(read)


@mcp_resource_template(
    uri_template="calls://{call_id}/recording",
    name="Call recording",
    description=("The audio of one of your recorded calls: inline (base64) up to the size limit, otherwise a "
                 "time-limited download link."),
    scopes=[scopes.CALLS_READ],
    completers={"call_id": recent_call_ids},
)
async def recording(ctx: RequestScope, uri: str, call_id: str) -> Any:
    def read() -> list[dict[str, Any]]:
        found = services.call_attach_recording(provider=configured_provider(), call=own_call(ctx, call_id))
        if (found.recording_bytes or 0) <= settings.RECORDING_INLINE_MAX_BYTES:
            with found.recording_file.open("rb") as handle:
                blob = base64.b64encode(handle.read()).decode()
            return [{"uri": uri, "mimeType": found.recording_content_type, "blob": blob}]
        url, expires = recording_link(found)
        return [{"uri": uri, "mimeType": "application/json", "text": json.dumps({
            "url": url, "expires_at": expires.isoformat(), "content_type": found.recording_content_type,
            "bytes": found.recording_bytes, "note": "Too large to inline; download it from url.",
        })}]

    return await db.run(read)


def _usage(ctx: RequestScope, values: dict[str, str]) -> dict[str, Any]:
    def when(name: str) -> datetime | None:
        raw = values.get(name)
        if not raw:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(reason=f"{name} must be an ISO 8601 date or date-time, not {raw!r}.") from None
        return _utc(parsed)

    return usage_report(user=user_get(user_id=owner_id(ctx)), since=when("since"), until=when("until"),
                        group_by=values.get("group_by") or "day")


@mcp_resource(
    uri="credits://usage",
    name="Usage",
    description="Credits spent, minutes called and calls by status per day over the last 30 days.",
    mime_type="application/json",
    scopes=[scopes.CREDITS_READ],
)
async def usage(ctx: RequestScope, uri: str) -> Any:
    return json.dumps(await db.run(_usage, ctx, {}))


@mcp_resource_template(
    uri_template="credits://usage{?since,until,group_by}",
    name="Usage over a period",
    description="Credits spent, minutes and calls by status, per day or month (group_by) between since and until.",
    mime_type="application/json",
    scopes=[scopes.CREDITS_READ],
    completers={"group_by": _values(list(GROUPINGS))},
)
async def usage_period(ctx: RequestScope, uri: str, **values: str) -> Any:
    return json.dumps(await db.run(_usage, ctx, values))


@mcp_resource_lister(name="recent_calls", description="Your most recent calls", scopes=[scopes.CALLS_READ])
async def recent_calls(ctx: RequestScope) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        calls = selectors.call_recent(owner_id=owner_id(ctx), limit=LISTED_CALLS)
        return [{"uri": call_uri(c.id), "name": f"Call to {c.to_number}",
                 "description": f"{c.status} call created {c.created_at:%Y-%m-%d %H:%M} UTC",
                 "mimeType": "application/json"} for c in calls]

    return await db.run(read)



@call_changes.subscribe_many
def calls_changed(events: Sequence[CallChanged]) -> None:
    """Cached resources go stale the moment the change commits: drop them before anyone reads them again,
    then tell subscribers; a batch of changes costs one cache delete and one round of publishing."""
    resource_cache.invalidate_many([event.owner_id for event in events], *resource_cache.HOT)
    messages: list[tuple[int, dict[str, Any]]] = []
    for event in events:
        messages.append((event.owner_id, notify.updated_message(call_uri(event.call_id))))
        if event.transcript:
            messages.append((event.owner_id, notify.updated_message(f"{call_uri(event.call_id)}/transcript")))
    for owner in dict.fromkeys(event.owner_id for event in events if event.created):
        messages += [(owner, notify.updated_message(HISTORY_URI)), (owner, notify.list_changed_message())]
    notify.publish_many(messages)

