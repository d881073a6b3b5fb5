"""The official MCP Python SDK as a test client: connected over Streamable HTTP or WebSocket with a bearer
token, and an inbox for the notifications it hands to ``message_handler`` / ``logging_callback``.

The SDK 2.x ships no WebSocket client (it was removed in 2.0); ``websocket_transport`` is one, a few lines
over ``websockets`` (subprotocol ``mcp``, one JSON-RPC message per text frame), so the same ``Client``
with the same callbacks runs over both transports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

MCP_PATH = "/api/v1/mcp"
WAIT = 10  # seconds: the read timeout of the SDK's HTTP client (streams get 60)


@asynccontextmanager
async def streamable_client(base_url: str, token: str, **options: Any) -> AsyncIterator[Client]:
    """A connected SDK ``Client`` over Streamable HTTP, sending ``Authorization: Bearer`` on every request."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(WAIT, read=60))
    async with http, Client(streamable_http_client(f"{base_url}{MCP_PATH}", http_client=http), **options) as client:
        yield client


Streams = tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]


@asynccontextmanager
async def websocket_transport(base_url: str, token: str) -> AsyncIterator[Streams]:
    """An SDK ``Transport`` over ws://host/mcp: what the server sends arrives on the read stream, what the
    session writes goes out as one text frame each."""
    url = "ws" + base_url.removeprefix("http") + "/mcp"
    incoming_writer, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    outgoing, outgoing_reader = anyio.create_memory_object_stream[SessionMessage](16)

    async with ws_connect(url, subprotocols=["mcp"], additional_headers={"Authorization": f"Bearer {token}"},
                          open_timeout=WAIT, proxy=None) as ws:

        async def read() -> None:
            async with incoming_writer:
                try:
                    async for frame in ws:
                        text = frame if isinstance(frame, str) else frame.decode()
                        try:
                            message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
                        except ValueError as exc:
                            await incoming_writer.send(exc)
                            continue
                        await incoming_writer.send(SessionMessage(message))
                except (ConnectionClosed, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the server hung up, or the session stopped reading (a late notification)

        async def write() -> None:
            async with outgoing_reader:
                async for session_message in outgoing_reader:
                    await ws.send(session_message.message.model_dump_json(by_alias=True, exclude_unset=True))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            tasks.start_soon(write)
            try:
                yield incoming, outgoing
            finally:
                tasks.cancel_scope.cancel()


@asynccontextmanager
async def websocket_client(base_url: str, token: str, **options: Any) -> AsyncIterator[Client]:
    """A connected SDK ``Client`` over the WebSocket transport at ``/mcp``."""
    async with Client(websocket_transport(base_url, token), **options) as client:
        yield client


class Inbox:
    """Server notifications as the SDK hands them to ``message_handler``, with a bounded wait."""

    def __init__(self) -> None:
        self.notifications: list[types.ServerNotification] = []
        self.log_messages: list[str] = []
        self._changed = anyio.Event()

    async def message_handler(self, message: types.ServerNotification | Exception) -> None:
        if isinstance(message, Exception):
            return
        self.notifications.append(message)
        self._changed.set()

    async def logging_callback(self, params: types.LoggingMessageNotificationParams) -> None:
        self.log_messages.append(str(params.data))

    def updated_uris(self) -> list[str]:
        return [n.params.uri for n in self.notifications if isinstance(n, types.ResourceUpdatedNotification)]

    async def wait_changed(self, timeout: float) -> None:
        """Return when the next notification arrives, or after ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            await self._changed.wait()
        self._changed = anyio.Event()
