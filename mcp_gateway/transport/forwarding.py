"""Which server-initiated notifications a session's stream forwards.

Every stream of a principal hears every notification published for it (``mcp_gateway.notify``). A
stream forwards one unless it is meant for another session, it is ``notifications/resources/updated``
for a URI the session did not subscribe to, or it belongs to the 2026-07-28 era only.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

RESOURCE_UPDATED = "notifications/resources/updated"
# The 2026-07-28 tasks extension's status notification: only subscriptions/listen streams carry it (a
# session's streams get notifications/tasks/status for the tasks the session made).
MODERN_ONLY = frozenset({"notifications/tasks"})


def for_session(event: dict[str, Any], session_id: str) -> bool:
    """The channel-layer event is for every session of the principal, or for this one."""
    return event.get("session") in (None, session_id)


def needs_subscription(message: dict[str, Any]) -> str | None:
    """The URI a session must have subscribed to for this notification to reach it, if any."""
    if message.get("method") != RESOURCE_UPDATED:
        return None
    params = message.get("params")
    uri = params.get("uri") if isinstance(params, dict) else None
    return uri if isinstance(uri, str) else ""


def modern_only(message: dict[str, Any]) -> bool:
    """A notification a session's streams never carry (it is for subscriptions/listen streams)."""
    return message.get("method") in MODERN_ONLY


def forwards(event: dict[str, Any], message: dict[str, Any], session_id: str, subscriptions: Container[str]) -> bool:
    """Whether a session's stream forwards ``message``, one of those ``event`` carries."""
    if not for_session(event, session_id) or modern_only(message):
        return False
    uri = needs_subscription(message)
    return uri is None or uri in subscriptions
