"""Spend confirmation: before a placement reserves more credits than the user's threshold, the user says yes.

Tools that reserve credits call ``confirm_spend`` before they reserve anything. Under the threshold, or
with ``confirm_spend: true`` in the arguments, it returns at once. Above it the user is asked through
the client: ``elicitation/create`` in a session (HTTP with an SSE answer, WebSocket, stdio), an
``input_required`` answer on 2026-07-28 (the client retries with the user's answer). A client that
declared no elicitation gets a ``confirmation_required`` error result telling the model to ask the user
and call again with ``confirm_spend: true``. Only an accepted answer lets the caller go on.
"""

from __future__ import annotations

from typing import Any

from calls import errors
from calls.mcp_access import owner_id
from mcp_gateway import db
from mcp_gateway.context import Elicitation, RequestScope
from mcp_gateway.errors import McpError
from users.selectors import spend_needs_confirmation, user_get

CONFIRM_KEY = "confirm_spend"  # the 2026-07-28 inputRequests key, named like the argument it stands for
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "confirm": {"type": "boolean", "title": "Proceed", "description": "Reserve the credits and go ahead.",
                    "default": True},
    },
    "required": ["confirm"],
}


def _threshold_if_asking(user_id: int, credits: int) -> int | None:
    return spend_needs_confirmation(user=user_get(user_id=user_id), credits=credits)


def _question(credits: int, minutes: int, summary: str) -> str:
    return f"This will reserve {credits} credits for up to {minutes} minutes to {summary}; proceed?"


def check_answer(answer: Elicitation, *, credits: int) -> None:
    """Raise ``SpendNotConfirmed`` unless the user accepted (and did not untick "Proceed")."""
    if not answer.accepted:
        raise errors.SpendNotConfirmed(credits=credits, action=answer.action)
    if answer.content.get("confirm") is False:
        raise errors.SpendNotConfirmed(credits=credits, action="decline")


async def confirm_spend(ctx: RequestScope, *, credits: int, minutes: int, summary: str, confirmed: bool) -> None:
    """Return when the spend may go ahead; raise when the user has not agreed to it.

    ``summary`` completes "This will reserve N credits for up to M minutes to ...", e.g. "call +14155550123".
    Raises ``SpendConfirmationRequired`` (the client cannot ask: no elicitation), ``SpendNotConfirmed``
    (the user declined, cancelled or did not answer) and, on 2026-07-28, ``InputRequired`` on the first round.
    """
    if confirmed:
        return
    threshold = await db.run(_threshold_if_asking, owner_id(ctx), credits)
    if threshold is None:
        return
    if not ctx.can_elicit():
        raise errors.SpendConfirmationRequired(credits=credits, minutes=minutes, summary=summary, threshold=threshold)
    try:
        answer = await ctx.elicit(CONFIRM_KEY, _question(credits, minutes, summary), CONFIRM_SCHEMA,
                                  state={"credits": credits, "summary": summary})
    except McpError:
        raise errors.SpendNotConfirmed(credits=credits, action="no_answer") from None
    check_answer(answer, credits=credits)


async def spend_question(ctx: RequestScope, *, credits: int, minutes: int, summary: str, confirmed: bool
                         ) -> dict[str, Any] | None:
    """For a placement run as an MCP task: the ``elicitation/create`` request the task asks in its
    ``inputRequests`` (under ``CONFIRM_KEY``), or None when the spend may go ahead without asking.

    The task asks later (its ``input_required`` status), so what counts is that the client declared
    elicitation, not that this request could carry it. Raises ``SpendConfirmationRequired`` when it did not."""
    if confirmed:
        return None
    threshold = await db.run(_threshold_if_asking, owner_id(ctx), credits)
    if threshold is None:
        return None
    if not ctx.declares_form_elicitation():
        raise errors.SpendConfirmationRequired(credits=credits, minutes=minutes, summary=summary, threshold=threshold)
    return {"method": "elicitation/create",
            "params": {"message": _question(credits, minutes, summary), "requestedSchema": CONFIRM_SCHEMA}}
