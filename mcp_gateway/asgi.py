"""The MCP ASGI application: a lean entry for the MCP HTTP paths and the WebSocket route, both given one
gateway.

Requests for ``/api/v1/mcp`` (and the HTTP+SSE paths and the OAuth metadata) go straight to the DRF
views without Django's middleware chain (but for CORS) and request signals: under ASGI each of those is
a thread hop (reference: django_perf.md), and the MCP views need none of them (no sessions, CSRF,
messages or templates; auth, Host and Origin checks happen in the view). Everything else goes to the
fallback (Django's handler) unchanged. The views close their own database connections (see ``db.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from typing import IO, Any

from channels.routing import ProtocolTypeRouter, URLRouter
from corsheaders.middleware import CorsMiddleware
from django.core.handlers.asgi import ASGIHandler
from django.urls import path

from mcp_gateway import codec, jsonrpc
from mcp_gateway.gateway import Gateway
from mcp_gateway.http.legacy_sse import LegacySseView
from mcp_gateway.http.metadata import ProtectedResourceMetadata
from mcp_gateway.http.streamable import MCP_PATH, McpView
from mcp_gateway.transport.frames import FrameTooLarge
from mcp_gateway.websocket import McpConsumer

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
METADATA_PATHS = ("/.well-known/oauth-protected-resource", f"/.well-known/oauth-protected-resource{MCP_PATH}")


class _Aborted(Exception):
    pass


class McpAsgiApp:
    def __init__(self, fallback: Any, *, gateway: Gateway) -> None:
        self.fallback = fallback
        self.limit = gateway.limits.max_body_bytes
        self.handler = ASGIHandler()
        # The one middleware these paths keep: CORS for browser clients (preflights answered, headers
        # exposed), async like the views, so it costs no thread hop.
        sse = CorsMiddleware(LegacySseView.as_view(gateway=gateway))
        metadata = CorsMiddleware(ProtectedResourceMetadata.as_view(gateway=gateway))
        self.views: dict[str, Any] = {
            MCP_PATH: CorsMiddleware(McpView.as_view(gateway=gateway)),
            f"{MCP_PATH}/sse": sse,
            f"{MCP_PATH}/messages": sse,
            **{route: metadata for route in METADATA_PATHS},
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        view = self.views.get(scope.get("path", "")) if scope["type"] == "http" else None
        if view is None:
            await self.fallback(scope, receive, send)
            return
        try:
            body_file = await self._read_body(receive)
        except _Aborted:
            return
        except FrameTooLarge as exc:
            await self._send_json(send, 413, jsonrpc.error_response(None, exc))
            return
        request, error_response = self.handler.create_request(scope, body_file)
        try:
            if request is None:
                if error_response is not None:
                    await self.handler.send_response(error_response, send)
                return
            respond = asyncio.ensure_future(self._respond(view, request, send))
            disconnect = asyncio.ensure_future(self._wait_for_disconnect(receive))
            await asyncio.wait({respond, disconnect}, return_when=asyncio.FIRST_COMPLETED)
            for task in (disconnect, respond):
                if not task.done():
                    task.cancel()  # a closed stream cancels the request it carried
                with contextlib.suppress(asyncio.CancelledError, _Aborted):
                    await task
        finally:
            body_file.close()

    async def _respond(self, view: Any, request: Any, send: Any) -> None:
        response = await view(request)
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name.decode(), value.decode())
        await self.handler.send_response(response, send)

    @staticmethod
    async def _wait_for_disconnect(receive: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    async def _read_body(self, receive: Any) -> IO[bytes]:
        body_file = tempfile.SpooledTemporaryFile(max_size=self.limit + 1, mode="w+b")  # noqa: SIM115 - closed by caller
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise _Aborted
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                body_file.close()
                raise FrameTooLarge("Request body", self.limit)
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    @staticmethod
    async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
        payload = codec.dumps(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                   *SECURITY_HEADERS]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def mcp_application(http_fallback: Any, *, gateway: Gateway) -> ProtocolTypeRouter:
    """HTTP: the MCP paths, everything else to ``http_fallback``; WebSocket: MCP at ``/mcp``."""
    return ProtocolTypeRouter({
        "http": McpAsgiApp(http_fallback, gateway=gateway),
        "websocket": URLRouter([path("mcp", McpConsumer.as_asgi(gateway=gateway))]),
    })
