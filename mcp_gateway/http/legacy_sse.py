"""The 2024-11-05 HTTP+SSE transport: GET opens the stream, whose first event names the POST URL; each
POSTed message is answered 202 and its answer travels on the stream (wherever it lives)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import extend_schema

from mcp_gateway import errors
from mcp_gateway.context import Connection, Principal
from mcp_gateway.http.responses import empty_response, refuse
from mcp_gateway.http.session_stream import session_stream
from mcp_gateway.http.streamable import MCP_PATH, SSE_HEADERS, McpView
from mcp_gateway.sessions import SessionState, new_session_id
from mcp_gateway.transport.client_requests import RelayedRequests

logger = logging.getLogger(__name__)


class LegacySseView(McpView):
    transport = "sse"

    @extend_schema(exclude=True)
    async def get(self, request: HttpRequest) -> HttpResponseBase:
        principal = await self._guard(request)
        session = SessionState(id=new_session_id(), owner=principal.rate_key, protocol_version="")
        await self.mcp.sessions.create(session)
        endpoint = f"{MCP_PATH}/messages?session_id={session.id}"
        return StreamingHttpResponse(session_stream(self.mcp, session, None, endpoint=endpoint),
                                     content_type="text/event-stream", headers=SSE_HEADERS)

    @extend_schema(exclude=True)
    async def post(self, request: HttpRequest) -> HttpResponseBase:
        principal = await self._guard(request)
        session_id = request.GET.get("session_id", "")
        session = await self.mcp.sessions.get(session_id) if session_id else None
        if session is None or session.owner != principal.rate_key:
            raise refuse(errors.SessionNotFound("Session not found."), status=404)
        payload = self._payload(request)
        if isinstance(payload, dict) and "method" not in payload and "id" in payload:
            await RelayedRequests.deliver(session.id, payload)
            return empty_response(202)
        self.mcp.spawn(self._run_in_background(payload, principal, session))
        return HttpResponse("Accepted", status=202)

    async def _run_in_background(self, payload: Any, principal: Principal, session: SessionState) -> None:
        """Answer on the session's stream, wherever it lives (the channel layer carries it)."""
        gateway = self.mcp

        async def emit(message: Any) -> None:
            await gateway.notifier.publish(owner=principal.rate_key, message=message, session=session.id)

        requests = RelayedRequests(emit, session_id=session.id, timeout=gateway.limits.client_request_timeout)
        connection = Connection(transport=self.transport, principal=principal, session_id=session.id,
                                protocol_version=session.protocol_version or None)
        before = session.snapshot()
        try:
            answer = await gateway.dispatcher.handle(payload, connection=connection, session=session, emit=emit,
                                                     request_client=requests.ask)
            if session.snapshot() != before:
                await gateway.sessions.save(session)
            if answer is not None:
                await emit(answer)  # a batch's answers go as one array, as JSON-RPC frames them
        except Exception:
            logger.exception("HTTP+SSE message failed")
