"""A lean ASGI entry for the MCP HTTP paths.

Requests for ``/api/v1/mcp`` (and the HTTP+SSE paths) go straight to the same DRF views that the
URLconf routes, without Django's middleware chain (but for CORS) and request signals: under ASGI each of those is
a thread hop (reference: django_perf.md), and the MCP views need none of them (no sessions, CSRF,
messages or templates; auth, Host and Origin checks happen in the view). Everything else goes to
Django's handler unchanged. The views close their own database connections (see ``db.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]


class _Aborted(Exception):
    pass


class _TooLarge(Exception):
    pass


class McpAsgiApp:
    def __init__(self, fallback: Any) -> None:
        from corsheaders.middleware import CorsMiddleware

        from mcp_gateway.views import LegacySseView, McpView

        self.fallback = fallback
        self.handler = ASGIHandler()
        # The one middleware these paths keep: CORS for browser clients (preflights answered, headers
        # exposed), async like the views, so it costs no thread hop.
        self.views = {
            "/api/v1/mcp": CorsMiddleware(McpView.as_view()),
            "/api/v1/mcp/sse": CorsMiddleware(LegacySseView.as_view()),
            "/api/v1/mcp/messages": CorsMiddleware(LegacySseView.as_view()),
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
        except _TooLarge:
            await self._send_json(
                send,
                413,
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": -32600,
                        "message": f"Request body too large: the limit is {settings.MCP_MAX_BODY_BYTES} bytes.",
                    },
                },
            )
            return
        request, error_response = self.handler.create_request(scope, body_file)
        try:
            if request is None:
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

    @staticmethod
    async def _read_body(receive: Any) -> Any:
        limit = settings.MCP_MAX_BODY_BYTES
        body_file = tempfile.SpooledTemporaryFile(max_size=limit + 1, mode="w+b")  # noqa: SIM115 - closed by caller
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise _Aborted
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                body_file.close()
                raise _TooLarge
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    @staticmethod
    async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
