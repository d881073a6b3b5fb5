"""Requests from the server to the client (sampling, elicitation, roots): send, then wait for the
answer with a timeout.

``PendingRequests`` serves transports where the answer comes back on the same connection (WebSocket,
stdio): a future per request id. ``RelayedRequests`` serves HTTP, where the client POSTs its answer
in another request, possibly to another process: the answer travels over the channel layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

from mcp_gateway import errors
from mcp_gateway.jsonrpc import request_message

Send = Callable[[dict[str, Any]], Awaitable[None]]
Wait = Callable[[], Awaitable[dict[str, Any]]]


class _ClientRequests:
    def __init__(self, send: Send, *, timeout: float, prefix: str) -> None:
        self._send = send
        self._timeout = timeout
        self._prefix = prefix
        self._ids = itertools.count(1)

    def _waiting(self, request_id: str) -> contextlib.AbstractAsyncContextManager[Wait]:
        raise NotImplementedError

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The client's result; ``McpError`` if it refuses or does not answer in time."""
        request_id = f"{self._prefix}-{next(self._ids)}"
        async with self._waiting(request_id) as wait:
            await self._send(request_message(request_id, method, params))
            try:
                reply = await asyncio.wait_for(wait(), timeout=self._timeout)
            except TimeoutError as exc:
                raise errors.McpError(f"The client did not answer {method} in time.") from exc
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise errors.McpError(f"The client refused {method}: {error.get('message')}")
        return reply.get("result") or {}


class PendingRequests(_ClientRequests):
    """Server-to-client requests on one connection, matched to their answers by id."""

    def __init__(self, send: Send, *, timeout: float, prefix: str = "srv") -> None:
        super().__init__(send, timeout=timeout, prefix=prefix)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    @contextlib.asynccontextmanager
    async def _waiting(self, request_id: str) -> AsyncIterator[Wait]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future

        async def wait() -> dict[str, Any]:
            return await future

        try:
            yield wait
        finally:
            self._pending.pop(request_id, None)

    def deliver(self, reply: dict[str, Any]) -> bool:
        """Hand the client's answer to the request waiting for it; False if none is."""
        future = self._pending.pop(str(reply.get("id")), None)
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True


def reply_group(session_id: str, request_id: Any) -> str:
    """Group names allow only [A-Za-z0-9._-]; server-to-client request ids are ours, so they fit."""
    return f"mcp_reply_{session_id}_{request_id}"[:99]


class RelayedRequests(_ClientRequests):
    """Server-to-client requests of one HTTP request; the answers arrive in other POSTs of the session."""

    def __init__(self, send: Send, *, session_id: str, timeout: float) -> None:
        super().__init__(send, timeout=timeout, prefix=f"srv-{secrets.token_hex(8)}")
        self._session_id = session_id

    @contextlib.asynccontextmanager
    async def _waiting(self, request_id: str) -> AsyncIterator[Wait]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        group = reply_group(self._session_id, request_id)
        await layer.group_add(group, channel)

        async def wait() -> dict[str, Any]:
            event = await layer.receive(channel)
            return event["message"]

        try:
            yield wait
        finally:
            await layer.group_discard(group, channel)

    @staticmethod
    async def deliver(session_id: str, reply: dict[str, Any]) -> None:
        """Relay the client's answer to whichever process asked."""
        event = {"type": "mcp.reply", "message": reply}
        await get_channel_layer().group_send(reply_group(session_id, reply.get("id")), event)
