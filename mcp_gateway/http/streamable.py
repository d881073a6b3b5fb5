"""Streamable HTTP at /api/v1/mcp, both protocol generations: POST a JSON-RPC message (answered JSON,
or an SSE stream once the method sends messages first), GET the session's stream, DELETE the session.

An async DRF view (adrf) so a request makes no thread hop of its own; auth, the Host/Origin checks and
the session lookup are async too. The gateway (injected with ``as_view(gateway=...)``) does the
protocol; this module adapts HTTP: headers, statuses (``status.py``) and streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from adrf.views import APIView
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import BaseContentNegotiation

from mcp_gateway import errors, jsonrpc, lifecycle
from mcp_gateway.auth import bearer_from_header
from mcp_gateway.context import Connection, Principal
from mcp_gateway.gateway import Gateway
from mcp_gateway.http import status
from mcp_gateway.http.headers import check_routing_headers
from mcp_gateway.http.responses import Refusal, empty_response, json_response, refuse
from mcp_gateway.http.session_stream import session_stream
from mcp_gateway.sessions import SessionState, new_session_id
from mcp_gateway.streams import new_stream_id, sse_event
from mcp_gateway.transport import frames
from mcp_gateway.transport.client_requests import RelayedRequests
from mcp_gateway.transport.origin import origin_allowed

MCP_PATH = "/api/v1/mcp"
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
MISSING_SESSION = "Bad Request: missing Mcp-Session-Id header"


class _AnyContent(BaseContentNegotiation):
    """The view writes its own responses; DRF must not refuse a request over Accept."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


def resource_metadata_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}/.well-known/oauth-protected-resource{MCP_PATH}"


def _accepts(request: HttpRequest, *types: str) -> bool:
    accept = request.headers.get("Accept", "")
    return "*/*" in accept or all(kind in accept for kind in types)


class McpView(APIView):
    """MCP Streamable HTTP endpoint. POST a JSON-RPC message; GET opens the server stream; DELETE ends a session."""

    gateway: ClassVar[Gateway | None] = None
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes: list[Any] = []
    content_negotiation_class = _AnyContent
    transport = "http"

    @property
    def mcp(self) -> Gateway:
        if self.gateway is None:
            raise TypeError(f"{type(self).__name__}.as_view() needs gateway=...")
        return self.gateway

    async def async_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """adrf's dispatch, with ``initial()`` run inline instead of in a worker thread: this view has no
        authenticators, permissions or throttles (auth is async, below), so ``initial()`` does no I/O."""
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            self.initial(drf_request, *args, **kwargs)
            name = (drf_request.method or "").lower()
            handler = getattr(self, name, None) if name in self.http_method_names else None
            response = await (handler or self._not_allowed)(request, *args, **kwargs)
        except Refusal as refusal:
            response = refusal.response
        except Exception as exc:  # noqa: BLE001 - DRF's own handler answers (e.g. 405), as in DRF
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response

    async def _not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise refuse(errors.InvalidRequest(f"Method {request.method} not allowed."), status=405,
                     headers={"Allow": "GET, POST, DELETE"})

    # --- shared checks ---------------------------------------------------------------------------

    async def _guard(self, request: HttpRequest) -> Principal:
        """Host, Origin, then the bearer token; ``Refusal`` (421, 403, 401) otherwise."""
        try:
            request.get_host()
        except DisallowedHost:
            raise refuse(errors.InvalidRequest("Invalid Host header."), status=421) from None
        limits = self.mcp.limits
        if not origin_allowed(request.headers.get("Origin"), allowed_origins=limits.allowed_origins,
                              allowed_hosts=limits.allowed_hosts):
            raise refuse(errors.InvalidRequest("Forbidden: invalid Origin header."), status=403)
        try:
            return await self.mcp.authenticator.authenticate(bearer_from_header(request.headers.get("Authorization")))
        except errors.Unauthorized as exc:
            raise Refusal(self._unauthorized(request, exc)) from None

    @staticmethod
    def _unauthorized(request: HttpRequest, exc: errors.Unauthorized) -> HttpResponse:
        error = (exc.data or {}).get("error", "invalid_token")
        challenge = f'Bearer resource_metadata="{resource_metadata_url(request)}"'
        if error == "invalid_token":
            challenge += f', error="invalid_token", error_description="{exc.message}"'
        body = {**jsonrpc.error_response(None, exc), "error_description": exc.message}
        return json_response(body, status=401, headers={"WWW-Authenticate": challenge})

    async def _session(self, request: HttpRequest, principal: Principal) -> SessionState | None:
        """The session named by ``Mcp-Session-Id`` (None without the header); 404 if unknown or not theirs."""
        session_id = request.headers.get("Mcp-Session-Id")
        if session_id is None:
            return None
        session = await self.mcp.sessions.get(session_id)
        if session is None or session.owner != principal.rate_key:
            raise refuse(errors.SessionNotFound("Session not found."), status=404)
        header_version = request.headers.get("MCP-Protocol-Version")
        if header_version is not None and header_version not in lifecycle.HANDSHAKE_VERSIONS:
            raise refuse(errors.InvalidRequest(
                f"Unsupported MCP-Protocol-Version header: {header_version!r}. "
                f"Supported: {', '.join(lifecycle.ALL_VERSIONS)}."
            ), status=400)
        return session

    def _payload(self, request: HttpRequest) -> Any:
        limit = self.mcp.limits.max_body_bytes
        declared = request.headers.get("Content-Length")
        try:
            if declared and declared.isdigit():
                frames.check_size(int(declared), limit=limit, what="Request body")
            return frames.decode(request.body, limit=limit, what="Request body")
        except frames.FrameTooLarge as exc:
            raise refuse(exc, status=413) from None
        except errors.ParseError as exc:
            raise refuse(exc, status=400) from None

    # --- POST ------------------------------------------------------------------------------------

    def _check_post_headers(self, request: HttpRequest) -> None:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise refuse(errors.InvalidRequest("Unsupported Content-Type: send application/json."), status=415)
        if not _accepts(request, "application/json", "text/event-stream"):
            raise refuse(errors.InvalidRequest(
                "Not Acceptable: the client must accept both application/json and text/event-stream."
            ), status=406)

    @extend_schema(exclude=True)
    async def post(self, request: HttpRequest) -> HttpResponseBase:
        principal = await self._guard(request)
        self._check_post_headers(request)
        payload = self._payload(request)
        session = await self._session(request, principal)
        era = lifecycle.http_era(payload, session, request.headers.get("MCP-Protocol-Version"))
        first = payload if isinstance(payload, dict) else None
        method = first.get("method") if first is not None else None
        if era == "legacy" and session is None and lifecycle.needs_session(method):
            raise refuse(errors.InvalidRequest(f"{MISSING_SESSION} (send initialize first)."), status=400,
                         request_id=first.get("id") if first is not None else None)
        if era == "modern" and first is not None:
            try:
                check_routing_headers(request.headers, first, self.mcp.registry)
            except errors.McpError as exc:
                raise refuse(exc, status=400, request_id=first.get("id")) from None
        opens = era == "legacy" and method == "initialize" and session is None
        if opens:
            session = SessionState(id=new_session_id(), owner=principal.rate_key, protocol_version="")
        exchange = _Exchange(self.mcp, payload, principal, session, era, opens, self.transport)
        if _only_notifications_or_replies(jsonrpc.messages_of(payload)):
            return await exchange.accept()
        return await exchange.answer()

    # --- GET: the server-to-client stream ----------------------------------------------------------

    @extend_schema(exclude=True)
    async def get(self, request: HttpRequest) -> HttpResponseBase:
        principal = await self._guard(request)
        if not _accepts(request, "text/event-stream"):
            raise refuse(errors.InvalidRequest("Not Acceptable: GET needs Accept: text/event-stream."), status=406)
        session = await self._session(request, principal)
        if session is None:
            if request.headers.get("MCP-Protocol-Version") in lifecycle.MODERN_VERSIONS:
                raise refuse(errors.InvalidRequest(f"GET is not part of {lifecycle.MODERN_VERSIONS[-1]}."),
                             status=405)
            raise refuse(errors.InvalidRequest(f"{MISSING_SESSION}."), status=400)
        return StreamingHttpResponse(
            session_stream(self.mcp, session, request.headers.get("Last-Event-ID")),
            content_type="text/event-stream",
            headers={**SSE_HEADERS, "Mcp-Session-Id": session.id},
        )

    # --- DELETE ------------------------------------------------------------------------------------

    @extend_schema(exclude=True)
    async def delete(self, request: HttpRequest) -> HttpResponseBase:
        principal = await self._guard(request)
        session = await self._session(request, principal)
        if session is None:
            raise refuse(errors.InvalidRequest(f"{MISSING_SESSION}."), status=400)
        await self.mcp.sessions.delete(session.id)
        return empty_response(204)


def _only_notifications_or_replies(messages: list[Any]) -> bool:
    """Nothing to answer but 202: every message a notification or a reply to one of our requests."""
    return bool(messages) and all(
        isinstance(m, dict) and not jsonrpc.is_request(m) and ("method" in m or "result" in m or "error" in m)
        for m in messages
    )


class _Exchange:
    """One POST: its payload dispatched, the session written back when it changed, the answer framed."""

    def __init__(self, gateway: Gateway, payload: Any, principal: Principal, session: SessionState | None,
                 era: lifecycle.Era, opens: bool, transport: str) -> None:
        self.gateway = gateway
        self.payload = payload
        self.session = session
        self.era = era
        self.opens = opens
        self.connection = Connection(transport=transport, principal=principal,
                                     session_id=session.id if session else None,
                                     protocol_version=session.protocol_version if session else None)
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.before = session.snapshot() if session else None

    async def emit(self, message: dict[str, Any]) -> None:
        await self.queue.put(message)

    async def _dispatch(self, *, streaming: bool) -> Any:
        requests = None
        if streaming and self.session is not None:
            requests = RelayedRequests(self.emit, session_id=self.session.id,
                                       timeout=self.gateway.limits.client_request_timeout).ask
        answer = await self.gateway.dispatcher.handle(
            self.payload, connection=self.connection, session=self.session,
            emit=self.emit if streaming else None, request_client=requests, era=self.era,
        )
        await self._save(answer)
        return answer

    async def _save(self, answer: Any) -> None:
        session = self.session
        if session is None or session.snapshot() == self.before:
            return
        if not self.opens:
            await self.gateway.sessions.save(session)
        elif isinstance(answer, dict) and "result" in answer:
            await self.gateway.sessions.create(session)

    async def accept(self) -> HttpResponse:
        """Only notifications and replies (to our requests): delivered and dispatched, answered 202."""
        for message in jsonrpc.messages_of(self.payload):
            if "method" not in message and "id" in message and self.session is not None:
                await RelayedRequests.deliver(self.session.id, message)
        await self._dispatch(streaming=False)
        return empty_response(202)

    async def answer(self) -> HttpResponseBase:
        """Run the request; answer JSON, or switch to an SSE stream as soon as it sends a message."""
        if not self.gateway.dispatcher.streams(self.payload):
            return self._json(await self._dispatch(streaming=False))
        task = asyncio.ensure_future(self._dispatch(streaming=True))
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            return self._json(task.result())
        return StreamingHttpResponse(self._events(task, getter.result()), content_type="text/event-stream",
                                     headers=self._stream_headers())

    def _json(self, answer: Any) -> HttpResponse:
        headers = self._session_header()
        if answer is None:
            return empty_response(202, headers)
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            headers.update(status.error_headers(answer["error"]))
        return json_response(answer, status=status.status_of(answer, modern=self.era == "modern"), headers=headers)

    def _session_header(self) -> dict[str, str]:
        if self.opens and self.session is not None and self.session.protocol_version:
            return {"Mcp-Session-Id": self.session.id}
        return {}

    def _stream_headers(self) -> dict[str, str]:
        headers = dict(SSE_HEADERS)
        if self.session is not None:
            headers["Mcp-Session-Id"] = self.session.id
        return headers

    async def _events(self, task: asyncio.Future[Any], first: dict[str, Any]) -> AsyncIterator[bytes]:
        stream_id, seq = new_stream_id(), 0

        async def framed(message: dict[str, Any]) -> bytes:
            nonlocal seq
            seq += 1
            return sse_event(message, event_id=await self.gateway.events.append(stream_id, seq, message))

        try:
            yield sse_event("", event_id=f"{stream_id}-0", event="")  # priming event for resumption
            yield await framed(first)
            async for message in self._until_answered(task):
                yield await framed(message)
        finally:
            if not task.done():
                task.cancel()  # the client closed the stream: that cancels the request
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _until_answered(self, task: asyncio.Future[Any]) -> AsyncIterator[dict[str, Any]]:
        """What the request sends, then its answer."""
        while True:
            getter = asyncio.ensure_future(self.queue.get())
            done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
                continue
            getter.cancel()
            while not self.queue.empty():
                yield self.queue.get_nowait()
            if task.result() is not None:
                yield task.result()
            return


__all__ = ["MCP_PATH", "McpView", "resource_metadata_url"]
