"""The official MCP Python SDK as a test client: connected over Streamable HTTP with a bearer token,
and an inbox for the notifications it hands to ``message_handler`` / ``logging_callback``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

MCP_PATH = "/api/v1/mcp"
WAIT = 10  # seconds: the read timeout of the SDK's HTTP client (streams get 60)


@asynccontextmanager
async def streamable_client(base_url: str, token: str, **options: Any) -> AsyncIterator[Client]:
    """A connected SDK ``Client`` over Streamable HTTP, sending ``Authorization: Bearer`` on every request."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(WAIT, read=60))
    async with http, Client(streamable_http_client(f"{base_url}{MCP_PATH}", http_client=http), **options) as client:
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
