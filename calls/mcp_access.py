"""What the MCP tools, resources and prompts of calls share: who is asking, their calls, completion of
call ids, and the history page (the getCallHistory tool and the calls://history resources show the same).

Every read goes through ``calls.selectors``; nothing here queries the ORM itself.
"""

from __future__ import annotations

from typing import Any

from calls import presenters, selectors
from calls.mcp_models import GetCallHistoryInput
from calls.models import Call
from calls.shapes import CallHistory
from calls.validation import normalize_phone_number
from mcp_gateway.context import RequestScope


def owner_id(ctx: RequestScope) -> int:
    """The caller's user id. Call tools and resources are only served to authenticated users (the one
    anonymous principal belongs to the conformance server, which serves its own fixtures)."""
    user_id = ctx.principal.user_id
    if user_id is None:
        raise PermissionError("the calls tools and resources need an authenticated user")
    return user_id


def own_call(ctx: RequestScope, call_id: Any) -> Call:
    """The caller's call, in one query: the principal is authenticated, the user row is not needed."""
    return selectors.call_get_for_user(user_id=owner_id(ctx), call_id=call_id, staff=ctx.principal.is_staff)


def own_call_details(ctx: RequestScope, call_id: Any) -> Call:
    """``own_call`` with only what ``presenters.call_details`` shows, in one statement."""
    return selectors.call_details_get_for_user(user_id=owner_id(ctx), call_id=call_id, staff=ctx.principal.is_staff)


async def own_call_details_on_loop(ctx: RequestScope, call_id: Any) -> Call | None:
    """``own_call_details`` read on the event loop, or None where that cannot be done here."""
    return await selectors.call_details_aget_for_user(user_id=owner_id(ctx), call_id=call_id,
                                                      staff=ctx.principal.is_staff)


def recent_call_ids(ctx: RequestScope, value: str, context: dict[str, str]) -> list[str]:
    """Completion of a ``call_id`` argument: the caller's recent calls that start with what was typed."""
    return selectors.call_ids_starting_with(owner_id=owner_id(ctx), prefix=value)


def history_filters(arguments: GetCallHistoryInput) -> selectors.HistoryFilters:
    since, until = arguments.window()
    return selectors.HistoryFilters(
        status=arguments.statuses(),
        answered_by=arguments.answered(),
        number=normalize_phone_number(arguments.number, field="number") if arguments.number else "",
        since=since,
        until=until,
        min_duration=arguments.min_duration,
        max_duration=arguments.max_duration,
    )


def history_page(ctx: RequestScope, arguments: GetCallHistoryInput) -> CallHistory:
    page = selectors.call_history(owner_id=owner_id(ctx), filters=history_filters(arguments),
                                  cursor=arguments.cursor or None, limit=arguments.limit)
    return CallHistory(calls=[presenters.call_summary(c) for c in page.calls], total=page.total,
                       next_cursor=page.next_cursor)
