"""Publish server-initiated MCP notifications to every live stream of a user, across processes.

The channel layer (Redis in production) carries them to whichever process holds the user's
WebSocket, Streamable HTTP GET stream, HTTP+SSE stream or subscriptions/listen stream; each stream
forwards ``resources/updated`` only for URIs its session subscribed to. Domain services call the
sync helpers after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from mcp_gateway.sessions import redis_for_loop
from mcp_gateway.streams import user_group


def _owner_key(user_id: int | None) -> str:
    return str(user_id) if user_id is not None else "anonymous"


async def apublish(*, user_id: int | None, message: dict[str, Any], session: str | None = None) -> None:
    layer = get_channel_layer()
    event: dict[str, Any] = {"type": "mcp.notify", "message": message}
    if session is not None:
        event["session"] = session
    await layer.group_send(user_group(_owner_key(user_id)), event)


def resource_updated(*, user_id: int | None, uri: str) -> None:
    message = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}
    async_to_sync(apublish)(user_id=user_id, message=message)


def list_changed(*, user_id: int | None, kind: str = "resources") -> None:
    """``kind`` is resources, tools or prompts."""
    message = {"jsonrpc": "2.0", "method": f"notifications/{kind}/list_changed"}
    async_to_sync(apublish)(user_id=user_id, message=message)


@contextlib.asynccontextmanager
async def listen(*, user_id: int | None) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Subscribe to the user's notifications; the group is joined before this yields."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = user_group(_owner_key(user_id))
    await layer.group_add(group, channel)

    async def messages() -> AsyncIterator[dict[str, Any]]:
        while True:
            event = await layer.receive(channel)
            if event.get("session") is None and event.get("message"):
                yield event["message"]

    try:
        yield messages()
    finally:
        await layer.group_discard(group, channel)


CANCEL_CHANNEL = "callmcp:mcp:cancellations"
_cancel_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)
logger = logging.getLogger(__name__)


async def broadcast_cancel(*, session_id: str, request_id: Any) -> None:
    """Ask every process to stop ``request_id`` of ``session_id`` (one of them is running it).

    Over Redis pub/sub: without Redis there is one process, and it has already looked locally.
    """
    if not settings.REDIS_URL:
        return
    message = json.dumps({"session": session_id, "request_id": request_id})
    await redis_for_loop(settings.REDIS_URL).publish(CANCEL_CHANNEL, message)


def ensure_cancel_listener(cancel: Callable[[str, Any], bool]) -> None:
    """One subscriber per event loop (normally one per process), started by the first session request."""
    if not settings.REDIS_URL:
        return
    loop = asyncio.get_running_loop()
    task = _cancel_listeners.get(loop)
    if task is not None and not task.done():
        return

    async def listen_for_cancellations() -> None:
        try:
            pubsub = redis_for_loop(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(CANCEL_CHANNEL)
            async for message in pubsub.listen():
                try:
                    event = json.loads(message["data"])
                    cancel(str(event.get("session", "")), event.get("request_id"))
                except (ValueError, TypeError, KeyError):
                    continue
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a lost subscription must not take the process down; the next
            logger.warning("cancellation listener stopped; it restarts with the next request", exc_info=True)

    _cancel_listeners[loop] = loop.create_task(listen_for_cancellations())
