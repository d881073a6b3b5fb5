"""A session's server-to-client stream: the Streamable HTTP GET stream and the HTTP+SSE stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from channels.layers import get_channel_layer

from mcp_gateway.gateway import Gateway
from mcp_gateway.notify import messages_of, user_group
from mcp_gateway.sessions import SessionState
from mcp_gateway.streams import sse_event
from mcp_gateway.transport import forwarding


async def _replay(gateway: Gateway, last_event_id: str) -> tuple[str, int, list[bytes], bool] | None:
    """The events after ``last_event_id``: stream id, last seq, framed events, whether the stream ended."""
    replay = await gateway.events.after(last_event_id)
    if replay is None:
        return None
    stream_id, seq, events = replay
    framed = []
    for event_seq, message in events:
        seq = max(seq, event_seq)
        framed.append(sse_event(message, event_id=f"{stream_id}-{event_seq}"))
    return stream_id, seq, framed, not stream_id.startswith("get")


async def _forwarded(gateway: Gateway, session_id: str, event: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The messages of one channel-layer event this session's stream carries; None once the session is gone.
    Subscriptions change in other requests, so they are read per event, once however many messages it has."""
    if not forwarding.for_session(event, session_id):
        return []
    messages = [message for message in messages_of(event) if not forwarding.modern_only(message)]
    if not any(forwarding.needs_subscription(message) is not None for message in messages):
        return messages
    current = await gateway.sessions.get(session_id)
    if current is None:
        return None
    return [message for message in messages if forwarding.forwards(event, message, session_id, current.subscriptions)]


async def session_stream(gateway: Gateway, session: SessionState, last_event_id: str | None, *,
                         endpoint: str | None = None) -> AsyncIterator[bytes]:
    """Notifications for one session: replayed after ``last_event_id``, then live until the client leaves.

    With ``endpoint`` (HTTP+SSE) the first event names the POST URL and events carry no ids.
    """
    stream_id, seq = f"get{session.id}", 0
    if last_event_id and (replay := await _replay(gateway, last_event_id)) is not None:
        stream_id, seq, framed, finished = replay
        for replayed in framed:
            yield replayed
        if finished:
            return  # a finished POST stream: everything it had is replayed
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = user_group(session.owner)
    await layer.group_add(group, channel)  # before the first event, so nothing sent after it is missed
    try:
        yield sse_event(endpoint, event="endpoint") if endpoint is not None else sse_event(
            "", event_id=f"{stream_id}-{seq}", event="")
        while True:
            try:
                event = await asyncio.wait_for(layer.receive(channel), timeout=gateway.limits.keepalive_seconds)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            forwarded = await _forwarded(gateway, session.id, event)
            if forwarded is None:
                return  # the session is gone
            for message in forwarded:
                seq += 1
                event_id = await gateway.events.append(stream_id, seq, message)
                yield sse_event(message, event_id=event_id if endpoint is None else None)
    finally:
        await layer.group_discard(group, channel)
