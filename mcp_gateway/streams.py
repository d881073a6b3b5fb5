"""Server-Sent Events: framing, and the stored events that let a client resume a stream (Last-Event-ID)."""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from typing import Any

from config.redis_clients import redis_for_loop
from mcp_gateway import codec

EVENT_TTL_SECONDS = 3600
MAX_EVENTS_PER_STREAM = 1000
MAX_STREAMS_IN_MEMORY = 1000


def sse_event(data: dict[str, Any] | str, *, event_id: str | None = None, event: str = "message") -> bytes:
    payload = data if isinstance(data, str) else codec.dumps_text(data)
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in payload.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def new_stream_id() -> str:
    return secrets.token_hex(8)


class EventStore:
    """Events of each stream kept for an hour so a client can resume after a dropped connection.

    Redis lists when configured (any process can replay), otherwise this process's memory (at most
    ``MAX_STREAMS_IN_MEMORY`` streams, the oldest dropped first).
    """

    def __init__(self, redis_url: str = "") -> None:
        self._redis_url = redis_url
        self._memory: OrderedDict[str, list[tuple[int, str]]] = OrderedDict()

    @staticmethod
    def _key(stream_id: str) -> str:
        return f"callmcp:mcp:events:{stream_id}"

    async def append(self, stream_id: str, seq: int, message: dict[str, Any]) -> str:
        event_id = f"{stream_id}-{seq}"
        raw = codec.dumps_text(message)
        if self._redis_url:
            key = self._key(stream_id)
            async with redis_for_loop(self._redis_url).pipeline(transaction=False) as pipe:
                await (
                    pipe.rpush(key, f"{seq}\n{raw}")
                    .ltrim(key, -MAX_EVENTS_PER_STREAM, -1)
                    .expire(key, EVENT_TTL_SECONDS)
                    .execute()
                )
        else:
            self._memory.setdefault(stream_id, []).append((seq, raw))
            self._memory.move_to_end(stream_id)
            while len(self._memory) > MAX_STREAMS_IN_MEMORY:
                self._memory.popitem(last=False)
        return event_id

    async def after(self, last_event_id: str) -> tuple[str, int, list[tuple[int, dict[str, Any]]]] | None:
        """The stream id, the last seq and the events after ``last_event_id``; None if unknown."""
        stream_id, _, seq_text = last_event_id.rpartition("-")
        if not stream_id or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if self._redis_url:
            raw_items = await redis_for_loop(self._redis_url).lrange(self._key(stream_id), 0, -1)
            items = []
            for raw in raw_items:
                head, _, body = raw.decode().partition("\n")
                items.append((int(head), body))
        else:
            items = list(self._memory.get(stream_id, []))
        if not items:
            return None
        return stream_id, seq, [(s, json.loads(body)) for s, body in items if s > seq]
