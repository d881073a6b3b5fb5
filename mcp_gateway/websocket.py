"""MCP over WebSocket at /mcp: subprotocol ``mcp``, one JSON-RPC message per text frame, the full legacy
lifecycle per connection (the connection is the session), as the Python SDK 1.x ``websocket_client``
and the TypeScript SDK's ``WebSocketClientTransport`` speak it. Route it with
``McpConsumer.as_asgi(gateway=...)``.

Auth: ``Authorization: Bearer`` on the handshake; for browsers, which cannot set headers, a
``bearer.<token>`` entry beside ``mcp`` in the subprotocol list, ``?access_token=``, or
``params._meta.authorization = "Bearer ..."`` on the first message. A missing or bad token is treated
the same way, where a browser can see it: the handshake is accepted, the first message is answered
with JSON-RPC error -31001 saying what is wrong, and the socket closes with 4401. A connection that
sends nothing is closed the same way after ``MCP_WS_AUTH_TIMEOUT_SECONDS``.

Close codes: 4401 unauthorized; 1009 a message over ``MCP_MAX_BODY_BYTES`` (after a JSON-RPC error
saying the limit). A foreign Origin or a subprotocol list without ``mcp`` is refused at the handshake.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from mcp_gateway import codec, errors, jsonrpc
from mcp_gateway.auth import bearer_from_header
from mcp_gateway.context import Connection, Principal
from mcp_gateway.gateway import Gateway
from mcp_gateway.notify import messages_of, user_group
from mcp_gateway.sessions import SessionState, new_session_id
from mcp_gateway.transport import forwarding, frames
from mcp_gateway.transport.client_requests import PendingRequests
from mcp_gateway.transport.origin import origin_allowed

logger = logging.getLogger(__name__)
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_BIG = 1009
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_BAD_SUBPROTOCOL = 4400


def _handshake_token(headers: dict[str, str], query_string: bytes, offered: list[str]) -> str | None:
    token = bearer_from_header(headers.get("authorization"))
    if token is None:
        query = parse_qs(query_string.decode())
        found = query.get("access_token") or query.get("token")
        token = found[0] if found else None
    if token is None:  # browsers cannot set headers: a "bearer.<token>" entry in the subprotocol list
        token = next((p.removeprefix("bearer.") for p in offered if p.startswith("bearer.")), None)
    return token


def _meta_token(payload: Any) -> str | None:
    params = payload.get("params") if isinstance(payload, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    raw = meta.get("authorization") if isinstance(meta, dict) else None
    return (bearer_from_header(raw) or raw) if isinstance(raw, str) else None


class McpConsumer(AsyncWebsocketConsumer):
    def __init__(self, *args: Any, gateway: Gateway, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gateway = gateway
        self.principal: Principal | None = None
        self.refusal: errors.Unauthorized | None = None
        self.session = SessionState(id=new_session_id(), owner="", protocol_version="")
        self.tasks: set[asyncio.Task[Any]] = set()
        self.requests = PendingRequests(self._send_json, timeout=gateway.limits.client_request_timeout)
        self.send_lock = asyncio.Lock()
        self.group: str | None = None

    async def connect(self) -> None:
        headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in self.scope.get("headers", [])}
        limits = self.gateway.limits
        if not origin_allowed(headers.get("origin"), allowed_origins=limits.allowed_origins,
                              allowed_hosts=limits.allowed_hosts):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)  # before accept: the handshake is refused
            return
        offered = self.scope.get("subprotocols") or []
        if offered and "mcp" not in offered:
            await self.close(code=CLOSE_BAD_SUBPROTOCOL)
            return
        token = _handshake_token(headers, self.scope.get("query_string", b""), offered)
        if token is not None or self.gateway.authenticator.anonymous:
            await self._authenticate(token)
        await self.accept(subprotocol="mcp" if "mcp" in offered else None)
        if self.principal is not None:
            await self._joined()
        else:
            self._spawn(self._close_if_still_anonymous())

    async def _authenticate(self, token: str | None) -> bool:
        try:
            self.principal = await self.gateway.authenticator.authenticate(token)
        except errors.Unauthorized as exc:
            self.refusal = exc
            return False
        return True

    async def _joined(self) -> None:
        if self.principal is None:
            return
        self.session.owner = self.principal.rate_key
        self.group = user_group(self.principal.rate_key)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def _close_if_still_anonymous(self) -> None:
        await asyncio.sleep(self.gateway.limits.ws_auth_timeout)
        if self.principal is None:
            seconds = f"{self.gateway.limits.ws_auth_timeout:g}"
            await self._refuse(None, self.refusal or errors.Unauthorized(
                f"Missing bearer token: send one within {seconds} s.", data={"error": "invalid_request"}))

    async def _refuse(self, request_id: Any, exc: errors.Unauthorized) -> None:
        await self._send_json(jsonrpc.error_response(request_id, exc))
        await self.close(code=CLOSE_UNAUTHORIZED)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message ``close_old_connections`` hop to a worker thread
        (a quarter of a frame's cost): this consumer touches the database only through
        ``mcp_gateway.db.run``, which does that check in the thread that uses the connection."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _send_json(self, message: Any) -> None:
        async with self.send_lock:
            await self.send(text_data=codec.dumps_text(message))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._send_json(jsonrpc.error_response(None, errors.InvalidRequest(
                "Send JSON-RPC messages as text frames.")))
            return
        try:
            payload = frames.decode(text_data, limit=self.gateway.limits.max_body_bytes, what="Message")
        except frames.FrameTooLarge as exc:
            await self._send_json(jsonrpc.error_response(None, exc))
            await self.close(code=CLOSE_TOO_BIG)
            return
        except errors.ParseError as exc:
            await self._send_json(jsonrpc.error_response(None, exc))
            return
        if self.principal is None and not await self._authenticate_first(payload):
            return
        if jsonrpc.is_response(payload) or (isinstance(payload, dict) and "method" not in payload and "id" in payload):
            self.requests.deliver(payload)
            return
        self._spawn(self._dispatch(payload))

    async def _authenticate_first(self, payload: Any) -> bool:
        """Credentials from the handshake, else from this first message; refused: -31001 and 4401."""
        if self.refusal is None and await self._authenticate(_meta_token(payload)):
            await self._joined()
            return True
        request_id = payload.get("id") if isinstance(payload, dict) else None
        request_id = request_id if jsonrpc.is_request_id(request_id) else None
        await self._refuse(request_id, self.refusal or errors.Unauthorized("Missing bearer token."))
        return False

    async def _dispatch(self, payload: Any) -> None:
        if self.principal is None:
            return
        connection = Connection(transport="websocket", principal=self.principal, session_id=self.session.id,
                                protocol_version=self.session.protocol_version or None)
        answer = await self.gateway.dispatcher.handle(payload, connection=connection, session=self.session,
                                                      emit=self._send_json, request_client=self.requests.ask)
        if answer is not None:
            await self._send_json(answer)

    async def mcp_notify(self, event: dict[str, Any]) -> None:
        """A notification published for this principal (see ``mcp_gateway.notify``)."""
        if not self.session.protocol_version:
            return
        for message in messages_of(event):
            if forwarding.forwards(event, message, self.session.id, self.session.subscriptions):
                await self._send_json(message)
