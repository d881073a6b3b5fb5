"""MCP over stdio for desktop clients: one JSON-RPC message per line on stdin and stdout.

``StdioServer(gateway=..., principal=...)`` serves one session until stdin closes; the management
command ``mcp_stdio`` builds it. Messages are encoded with the codec every transport uses; stdout
carries only protocol messages (logs go to stderr).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, TextIO

from mcp_gateway import codec, errors, jsonrpc
from mcp_gateway.context import Connection, Principal
from mcp_gateway.gateway import Gateway
from mcp_gateway.sessions import SessionState, new_session_id
from mcp_gateway.transport import frames
from mcp_gateway.transport.client_requests import PendingRequests

DRAIN_SECONDS = 30


class StdioServer:
    def __init__(self, *, gateway: Gateway, principal: Principal, stdin: TextIO | None = None,
                 stdout: TextIO | None = None) -> None:
        self.gateway = gateway
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.session = SessionState(id=new_session_id(), owner=principal.rate_key, protocol_version="")
        self.connection = Connection(transport="stdio", principal=principal, session_id=self.session.id)
        self.requests = PendingRequests(self.write, timeout=gateway.limits.client_request_timeout)
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def write(self, message: Any) -> None:
        async with self._write_lock:
            self.stdout.write(codec.dumps_text(message) + "\n")
            self.stdout.flush()

    def _read_lines(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
        for line in self.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    async def serve(self) -> None:
        """Answer every line until stdin closes, then let running requests finish (bounded)."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._read_lines, args=(loop, lines), daemon=True).start()
        while (line := await lines.get()) is not None:
            if line.strip():
                await self.receive(line)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=DRAIN_SECONDS)

    async def receive(self, line: str) -> None:
        try:
            payload = frames.decode(line, limit=self.gateway.limits.max_body_bytes, what="Message")
        except errors.McpError as exc:  # too large, or not JSON
            await self.write(jsonrpc.error_response(None, exc))
            return
        if isinstance(payload, dict) and "method" not in payload and self.requests.deliver(payload):
            return
        task = asyncio.ensure_future(self._dispatch(payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, payload: Any) -> None:
        answer = await self.gateway.dispatcher.handle(payload, connection=self.connection, session=self.session,
                                                      emit=self.write, request_client=self.requests.ask)
        if answer is not None:
            await self.write(answer)
