"""Server-initiated MCP notifications, carried to every live stream of a user across processes.

The channel layer (Redis in production) takes them to whichever process holds the user's WebSocket,
Streamable HTTP GET stream, HTTP+SSE stream or subscriptions/listen stream; each stream forwards
``resources/updated`` only for URIs its session subscribed to (``mcp_gateway.transport.forwarding``).
The sync helpers are for code that runs after a database commit (the apps' event receivers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from channels.layers import get_channel_layer

from config.async_bridge import call_async
from mcp_gateway.jsonrpc import notification_message

EVENT_TYPE = "mcp.notify"


def user_group(owner: str) -> str:
    """The channel-layer group of one principal's streams (``Principal.rate_key``)."""
    return f"mcp_user_{owner}"


class Notifier:
    """Publishes to, and listens on, the channel-layer groups of principals."""

    async def publish(self, *, owner: str, message: dict[str, Any], session: str | None = None) -> None:
        """``session`` keeps the message to one session's streams (answers of the HTTP+SSE transport)."""
        event: dict[str, Any] = {"type": EVENT_TYPE, "message": message}
        if session is not None:
            event["session"] = session
        await get_channel_layer().group_send(user_group(owner), event)

    @contextlib.asynccontextmanager
    async def listen(self, *, owner: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """The owner's notifications for every stream; the group is joined before this yields."""
        layer = get_channel_layer()
        channel = await layer.new_channel()
        group = user_group(owner)
        await layer.group_add(group, channel)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            while True:
                event = await layer.receive(channel)
                if event.get("session") is None:
                    for message in messages_of(event):
                        yield message

        try:
            yield messages()
        finally:
            await layer.group_discard(group, channel)


def _owner(user_id: int | str) -> str:
    return str(user_id)


def resource_updated(*, user_id: int | str, uri: str) -> None:
    call_async(Notifier().publish, owner=_owner(user_id), message=updated_message(uri))


def list_changed(*, user_id: int | str, kind: str = "resources") -> None:
    """``kind`` is resources, tools or prompts."""
    call_async(Notifier().publish, owner=_owner(user_id), message=list_changed_message(kind))


def messages_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The notifications one channel-layer event carries: one, or the batch ``publish_many`` sent together."""
    batch = event.get("messages")
    if isinstance(batch, list):
        return batch
    message = event.get("message")
    return [message] if message else []


def publish_many(messages: Iterable[tuple[int | str, dict[str, Any]]]) -> None:
    """Publish each ``(user_id, message)``, in order: one channel-layer event per user carrying all of that
    user's messages, sent in one trip to the event loop (a poller batch's changes)."""
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for user_id, message in messages:
        by_owner.setdefault(_owner(user_id), []).append(message)
    if by_owner:
        call_async(_publish_batches, by_owner)


async def _publish_batches(by_owner: dict[str, list[dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(user_group(owner), {"type": EVENT_TYPE, "messages": batch})
                           for owner, batch in by_owner.items()))


def updated_message(uri: str) -> dict[str, Any]:
    return notification_message("notifications/resources/updated", {"uri": uri})


def list_changed_message(kind: str = "resources") -> dict[str, Any]:
    return notification_message(f"notifications/{kind}/list_changed")


async def apublish(*, user_id: int | str, message: dict[str, Any], session: str | None = None) -> None:
    await Notifier().publish(owner=_owner(user_id), message=message, session=session)
