"""MCP over WebSocket at /mcp: subprotocol ``mcp``, one JSON-RPC message per text frame, the full
legacy lifecycle per connection (the connection is the session), as the Python SDK 1.x
``websocket_client`` and the TypeScript SDK's ``WebSocketClientTransport`` speak it.

Auth: ``Authorization: Bearer`` on the handshake; for browsers, which cannot set headers, a
``bearer.<token>`` entry beside ``mcp`` in the subprotocol list, ``?access_token=``, or
``params._meta.authorization = "Bearer ..."`` on the first message (initialize).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import validate_host

from mcp_gateway import codec, errors
from mcp_gateway.apps import gateway
from mcp_gateway.auth import bearer_from_header, conformance_principal, principal_from_token
from mcp_gateway.context import Connection, Principal
from mcp_gateway.sessions import SessionState, new_session_id
from mcp_gateway.streams import user_group

logger = logging.getLogger(__name__)
CLOSE_UNAUTHORIZED = 4401


class McpConsumer(AsyncWebsocketConsumer):
    principal: Principal | None = None

    async def connect(self) -> None:
        headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in self.scope.get("headers", [])}
        if not self._origin_ok(headers.get("origin")):
            await self.close(code=4403)
            return
        offered = self.scope.get("subprotocols") or []
        if offered and "mcp" not in offered:
            await self.close(code=4400)
            return
        token = bearer_from_header(headers.get("authorization"))
        if token is None:
            query = parse_qs(self.scope.get("query_string", b"").decode())
            token = (query.get("access_token") or query.get("token") or [None])[0]
        if token is None:  # browsers cannot set headers: a "bearer.<token>" entry in the subprotocol list
            token = next((p.removeprefix("bearer.") for p in offered if p.startswith("bearer.")), None)
        if settings.MCP_CONFORMANCE:
            self.principal = conformance_principal()
        elif token is not None:
            try:
                self.principal = await principal_from_token(token)
            except errors.Unauthorized:
                await self.close(code=CLOSE_UNAUTHORIZED)  # before accept: the handshake is refused
                return
        self.session = SessionState(id=new_session_id(), owner="", protocol_version="")
        self.tasks: set[asyncio.Task[Any]] = set()
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.counter = itertools.count(1)
        self.send_lock = asyncio.Lock()
        await self.accept(subprotocol="mcp" if "mcp" in offered else None)
        if self.principal is not None:
            await self._joined()

    @staticmethod
    def _origin_ok(origin: str | None) -> bool:
        if not origin or origin in settings.MCP_ALLOWED_ORIGINS or "*" in settings.MCP_ALLOWED_ORIGINS:
            return True
        host = urlsplit(origin).hostname or ""
        return validate_host(host, settings.ALLOWED_HOSTS) or validate_host(f"[{host}]", settings.ALLOWED_HOSTS)

    async def _joined(self) -> None:
        assert self.principal is not None  # noqa: S101 - set just before
        self.session.owner = self.principal.rate_key
        self.group = user_group(self.principal.rate_key)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message ``close_old_connections`` hop to a worker thread
        (a quarter of a frame's cost): this consumer touches the database only through
        ``mcp_gateway.db.run``, which does that check in the thread that uses the connection."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        for task in list(getattr(self, "tasks", ())):
            task.cancel()
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _send_json(self, message: dict[str, Any] | list[Any]) -> None:
        async with self.send_lock:
            await self.send(text_data=codec.dumps_text(message))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._send_json(self._error(errors.InvalidRequest("Send JSON-RPC messages as text frames.")))
            return
        if len(text_data.encode()) > settings.MCP_MAX_BODY_BYTES:
            await self._send_json(
                self._error(
                    errors.InvalidRequest(f"Message too large: the limit is {settings.MCP_MAX_BODY_BYTES} bytes.")
                )
            )
            return
        try:
            payload = json.loads(text_data)
        except json.JSONDecodeError as exc:
            await self._send_json(self._error(errors.ParseError(f"Parse error: {exc}")))
            return
        if self.principal is None and not await self._authenticate_first(payload):
            return
        if isinstance(payload, dict) and "method" not in payload and "id" in payload:
            future = self.pending.pop(str(payload["id"]), None)
            if future is not None and not future.done():
                future.set_result(payload)
            return
        task = asyncio.ensure_future(self._dispatch(payload))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _authenticate_first(self, payload: Any) -> bool:
        params = payload.get("params") if isinstance(payload, dict) else None
        meta = params.get("_meta") if isinstance(params, dict) else None
        raw = meta.get("authorization") if isinstance(meta, dict) else None
        try:
            self.principal = await principal_from_token(bearer_from_header(raw) or raw)
        except errors.Unauthorized as exc:
            request_id = payload.get("id") if isinstance(payload, dict) else None
            await self._send_json(self._error(exc, request_id))
            await self.close(code=CLOSE_UNAUTHORIZED)
            return False
        await self._joined()
        return True

    async def _dispatch(self, payload: Any) -> None:
        assert self.principal is not None  # noqa: S101 - authenticated before dispatch
        connection = Connection(
            transport="websocket",
            principal=self.principal,
            session_id=self.session.id,
            protocol_version=self.session.protocol_version or None,
        )
        answer = await gateway().dispatcher.handle(
            payload,
            connection=connection,
            session=self.session,
            emit=self._send_json,
            request_client=self._ask_client,
        )
        if answer is not None:
            await self._send_json(answer)

    async def _ask_client(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = f"srv-{next(self.counter)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        await self._send_json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        try:
            reply = await asyncio.wait_for(future, timeout=300)
        except TimeoutError as exc:
            raise errors.McpError(f"The client did not answer {method} in time.") from exc
        finally:
            self.pending.pop(request_id, None)
        if "error" in reply:
            raise errors.McpError(f"The client refused {method}: {reply['error'].get('message')}")
        return reply.get("result") or {}

    async def mcp_notify(self, event: dict[str, Any]) -> None:
        """A notification published for this user (see ``mcp_gateway.notify``)."""
        message = event.get("message") or {}
        if event.get("session") not in (None, self.session.id) or not self.session.protocol_version:
            return
        if message.get("method") == "notifications/resources/updated" and (
            message.get("params", {}).get("uri") not in self.session.subscriptions
        ):
            return
        await self._send_json(message)

    @staticmethod
    def _error(exc: errors.McpError, request_id: Any = None) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": request_id, "error": exc.to_error()}
