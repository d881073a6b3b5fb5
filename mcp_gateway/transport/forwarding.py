"""Which server-initiated notifications a session's stream forwards.

Every stream of a principal hears every notification published for it (``mcp_gateway.notify``). A
stream forwards one unless it is meant for another session, or it is ``notifications/resources/updated``
for a URI the session did not subscribe to.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

RESOURCE_UPDATED = "notifications/resources/updated"


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


def forwards(event: dict[str, Any], session_id: str, subscriptions: Container[str]) -> bool:
    if not for_session(event, session_id):
        return False
    uri = needs_subscription(event.get("message") or {})
    return uri is None or uri in subscriptions
