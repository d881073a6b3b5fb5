"""Streamable HTTP at /api/v1/mcp (both protocol generations) and the older HTTP+SSE transport.

An async DRF view (adrf) so a request makes no thread hop of its own; auth, Origin/Host checks and
the session lookup are async too. The dispatcher does the protocol; this module only adapts HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from adrf.views import APIView
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.request import validate_host
from drf_spectacular.utils import extend_schema
from mcp_types import PROTOCOL_VERSION_META_KEY
from rest_framework.negotiation import BaseContentNegotiation

from mcp_gateway import codec, errors
from mcp_gateway.apps import gateway
from mcp_gateway.auth import bearer_from_header, conformance_principal, principal_from_token
from mcp_gateway.context import Connection, Principal
from mcp_gateway.dispatcher import ALL_VERSIONS, HANDSHAKE_VERSIONS, MODERN_VERSIONS
from mcp_gateway.sessions import SessionState, new_session_id
from mcp_gateway.streams import event_store, new_stream_id, reply_group, sse_event, user_group

logger = logging.getLogger(__name__)

MCP_PATH = "/api/v1/mcp"
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
# Methods whose handlers never send notifications: answered without the JSON-or-stream race.
QUIET_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
        "completion/complete",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
    }
)
NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


class _AnyContent(BaseContentNegotiation):
    """The view writes its own responses; DRF must not refuse a request over Accept."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


def rpc_error_response(
    exc: errors.McpError, *, request_id: Any = None, headers: dict[str, str] | None = None, status: int | None = None
) -> JsonResponse:
    body = {"jsonrpc": "2.0", "id": request_id, "error": exc.to_error()}
    return JsonResponse(body, status=status or exc.http_status or 400, headers=headers)


def resource_metadata_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}/.well-known/oauth-protected-resource{MCP_PATH}"


def _allowed_origin(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True
    if origin in settings.MCP_ALLOWED_ORIGINS or "*" in settings.MCP_ALLOWED_ORIGINS:
        return True
    host = urlsplit(origin).hostname or ""
    hosts = settings.ALLOWED_HOSTS
    return validate_host(host, hosts) or validate_host(f"[{host}]", hosts)


def _header(request: HttpRequest, name: str) -> str | None:
    """A header value without surrounding whitespace (RFC 9110 5.5); names are case-insensitive."""
    value = request.headers.get(name)
    return value.strip(" \t") if value is not None else None


def _decode_header_value(value: str) -> str:
    """``=?base64?...?=`` carries values that are not safe in a header; anything else is literal."""
    if len(value) > 11 and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.HeaderMismatch(f"Malformed base64 header value {value!r}.") from exc
    return value


class McpView(APIView):
    """MCP Streamable HTTP endpoint. POST a JSON-RPC message; GET opens the server stream; DELETE ends a session."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes: list[Any] = []
    content_negotiation_class = _AnyContent
    transport = "http"

    async def async_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """adrf's dispatch, with ``initial()`` run inline instead of in a worker thread: this view has no
        authenticators, permissions or throttles (auth is async, below), so ``initial()`` does no I/O."""
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            self.initial(drf_request, *args, **kwargs)
            handler = (
                getattr(self, drf_request.method.lower(), None)
                if drf_request.method.lower() in (self.http_method_names)
                else None
            )
            response = await (handler or self._not_allowed)(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - DRF's own handler answers (e.g. 405), as in DRF
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response

    async def _not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return rpc_error_response(
            errors.InvalidRequest(f"Method {request.method} not allowed."),
            status=405,
            headers={"Allow": "GET, POST, DELETE"},
        )

    # --- shared checks ---------------------------------------------------------------------------

    async def _guard(self, request: HttpRequest) -> Principal | HttpResponse:
        try:
            request.get_host()
        except DisallowedHost:
            return rpc_error_response(errors.InvalidRequest("Invalid Host header."), status=421)
        if not _allowed_origin(request):
            return rpc_error_response(errors.InvalidRequest("Forbidden: invalid Origin header."), status=403)
        if settings.MCP_CONFORMANCE:
            return conformance_principal()
        try:
            return await principal_from_token(bearer_from_header(request.headers.get("Authorization")))
        except errors.Unauthorized as exc:
            error = (exc.data or {}).get("error", "invalid_token")
            challenge = f'Bearer resource_metadata="{resource_metadata_url(request)}"'
            if error == "invalid_token":
                challenge += f', error="invalid_token", error_description="{exc.message}"'
            body = {"jsonrpc": "2.0", "id": None, "error": exc.to_error(), "error_description": exc.message}
            return JsonResponse(body, status=401, headers={"WWW-Authenticate": challenge})

    async def _session(self, request: HttpRequest, principal: Principal) -> SessionState | HttpResponse | None:
        session_id = request.headers.get("Mcp-Session-Id")
        if session_id is None:
            return None
        session = await gateway().sessions.get(session_id)
        if session is None or session.owner != principal.rate_key:
            return rpc_error_response(errors.SessionNotFound("Session not found."), status=404)
        header_version = request.headers.get("MCP-Protocol-Version")
        if header_version is not None and header_version not in HANDSHAKE_VERSIONS:
            return rpc_error_response(
                errors.InvalidRequest(
                    f"Unsupported MCP-Protocol-Version header: {header_version!r}. "
                    f"Supported: {', '.join(ALL_VERSIONS)}."
                ),
                status=400,
            )
        return session

    # --- POST ------------------------------------------------------------------------------------

    @extend_schema(exclude=True)
    async def post(self, request: HttpRequest) -> HttpResponse:
        principal = await self._guard(request)
        if isinstance(principal, HttpResponse):
            return principal
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return rpc_error_response(
                errors.InvalidRequest("Unsupported Content-Type: send application/json."), status=415
            )
        accept = request.headers.get("Accept", "")
        if not ("*/*" in accept or ("application/json" in accept and "text/event-stream" in accept)):
            return rpc_error_response(
                errors.InvalidRequest(
                    "Not Acceptable: the client must accept both application/json and text/event-stream."
                ),
                status=406,
            )
        declared = request.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.MCP_MAX_BODY_BYTES:
            return self._too_large()
        body = request.body
        if len(body) > settings.MCP_MAX_BODY_BYTES:
            return self._too_large()
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return rpc_error_response(errors.ParseError(f"Parse error: {exc}"), status=400)

        session = await self._session(request, principal)
        if isinstance(session, HttpResponse):
            return session
        dispatcher = gateway().dispatcher
        era = self._era(request, payload, session)
        is_init = era == "legacy" and isinstance(payload, dict) and payload.get("method") == "initialize"
        is_ping = isinstance(payload, dict) and payload.get("method") == "ping"
        if session is None and era == "legacy" and not is_init and not is_ping:
            return rpc_error_response(
                errors.InvalidRequest("Bad Request: missing Mcp-Session-Id header (send initialize first)."),
                request_id=payload.get("id") if isinstance(payload, dict) else None,
                status=400,
            )
        if era == "modern":
            problem = self._modern_header_problem(request, payload)
            if problem is not None:
                return problem
        if is_init:
            if session is not None:
                return rpc_error_response(
                    errors.InvalidRequest("Session already initialized."), request_id=payload.get("id"), status=400
                )
            session = SessionState(id=new_session_id(), owner=principal.rate_key, protocol_version="")

        connection = Connection(
            transport=self.transport,
            principal=principal,
            session_id=session.id if session else None,
            protocol_version=session.protocol_version if session else None,
        )
        messages = payload if isinstance(payload, list) else [payload]
        has_requests = any(isinstance(m, dict) and "method" in m and "id" in m for m in messages) or not messages
        if not has_requests:
            for message in messages:
                if isinstance(message, dict) and "method" not in message and "id" in message and session:
                    await self._deliver_reply(session.id, message)
            if all(isinstance(m, dict) and ("method" in m or "result" in m or "error" in m) for m in messages):
                before = session.snapshot() if session else None
                await dispatcher.handle(payload, connection=connection, session=session, era=era)
                if session is not None and session.snapshot() != before:
                    await gateway().sessions.save(session)
                return HttpResponse(status=202)
        return await self._answer(payload, connection, session, is_init, era)

    @staticmethod
    def _era(request: HttpRequest, payload: Any, session: SessionState | None) -> str:
        if session is not None:
            return "legacy"
        first = payload[0] if isinstance(payload, list) and payload else payload
        if gateway().dispatcher.era_of(first, None) == "modern":
            return "modern"
        if request.headers.get("MCP-Protocol-Version") in MODERN_VERSIONS:
            return "modern"
        if isinstance(first, dict) and first.get("method") == "initialize":
            return "legacy"
        params = first.get("params") if isinstance(first, dict) else None
        if isinstance(params, dict) and isinstance(params.get("_meta"), dict) and "id" in first:
            return "modern"  # an envelope without its protocol version: the dispatcher says what is missing
        return "legacy"

    def _too_large(self) -> JsonResponse:
        return rpc_error_response(
            errors.InvalidRequest(f"Request body too large: the limit is {settings.MCP_MAX_BODY_BYTES} bytes."),
            status=413,
        )

    def _modern_header_problem(self, request: HttpRequest, payload: Any) -> HttpResponse | None:
        """2026-07-28 header checks: MCP-Protocol-Version, Mcp-Method, Mcp-Name and a tool's Mcp-Param-*."""
        if not isinstance(payload, dict):
            return rpc_error_response(errors.InvalidRequest("Batches are not supported by protocol 2026-07-28."))
        request_id = payload.get("id")
        params = payload.get("params") if isinstance(payload.get("params"), dict) else {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        try:
            body_version = meta.get(PROTOCOL_VERSION_META_KEY)
            header_version = _header(request, "MCP-Protocol-Version")
            if body_version is not None and header_version != body_version:
                raise errors.HeaderMismatch(
                    f"MCP-Protocol-Version header {header_version!r} does not match _meta protocolVersion "
                    f"{body_version!r}."
                )
            method = payload.get("method")
            header_method = _header(request, "Mcp-Method")
            if header_method != method:
                raise errors.HeaderMismatch(
                    f"Mcp-Method header {header_method!r} does not match the method {method!r}."
                )
            if method in NAMED_METHODS:
                expected = params.get(NAMED_METHODS[method])
                raw = _header(request, "Mcp-Name")
                header_name = _decode_header_value(raw) if raw is not None else None
                if header_name != expected:
                    raise errors.HeaderMismatch(
                        f"Mcp-Name header {header_name!r} does not match the {NAMED_METHODS[method]} {expected!r}."
                    )
            if method == "tools/call":
                self._check_param_headers(request, params)
        except errors.McpError as exc:
            return rpc_error_response(exc, request_id=request_id)
        return None

    @staticmethod
    def _check_param_headers(request: HttpRequest, params: dict[str, Any]) -> None:
        """Tool parameters marked ``x-mcp-header`` travel in ``Mcp-Param-<Name>`` too; both must agree."""
        spec = gateway().dispatcher.registry.tools.get(str(params.get("name")))
        if spec is None:
            return
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        for key, schema in (spec.input_schema.get("properties") or {}).items():
            header = schema.get("x-mcp-header") if isinstance(schema, dict) else None
            if not header:
                continue
            raw = _header(request, f"Mcp-Param-{header}")
            value = arguments.get(key)
            if value is None:
                if raw is not None:
                    raise errors.HeaderMismatch(f"Mcp-Param-{header} is set but the argument {key!r} is not.")
                continue
            if raw is None:
                raise errors.HeaderMismatch(f"Missing Mcp-Param-{header} header for the argument {key!r}.")
            expected = json.dumps(value) if isinstance(value, bool) else str(value)
            if _decode_header_value(raw) != expected:
                raise errors.HeaderMismatch(f"Mcp-Param-{header} header does not match the argument {key!r}.")

    async def _answer(
        self, payload: Any, connection: Connection, session: SessionState | None, is_init: bool, era: str
    ) -> HttpResponse:
        """Run the request; answer JSON, or switch to an SSE stream as soon as it emits a message."""
        dispatcher = gateway().dispatcher
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        counter = itertools.count(1)
        sessions = gateway().sessions

        async def emit(message: dict[str, Any]) -> None:
            await queue.put(message)

        async def request_client(method: str, params: dict[str, Any]) -> dict[str, Any]:
            return await self._ask_client(session, emit, method, params, counter)

        before = session.snapshot() if session else None

        async def run() -> Any:
            answer = await dispatcher.handle(
                payload,
                connection=connection,
                session=session,
                emit=emit,
                request_client=request_client if session else None,
                era=era,
            )
            if session is not None and session.snapshot() != before:
                if is_init:
                    if isinstance(answer, dict) and "result" in answer:
                        await sessions.create(session)
                else:
                    await sessions.save(session)
            return answer

        if isinstance(payload, dict) and payload.get("method") in QUIET_METHODS:
            return self._json_answer(await run(), connection, session, is_init)
        task = asyncio.ensure_future(run())
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
        if task in done and getter not in done:
            getter.cancel()
            return self._json_answer(task.result(), connection, session, is_init)
        first = getter.result() if getter in done else None
        if task not in done or first is not None:
            return self._stream_answer(task, queue, first, session)
        return self._json_answer(task.result(), connection, session, is_init)

    def _json_answer(
        self, answer: Any, connection: Connection, session: SessionState | None, is_init: bool
    ) -> HttpResponse:
        headers = {}
        if is_init and session is not None and isinstance(answer, dict) and "result" in answer:
            headers["Mcp-Session-Id"] = session.id
        if answer is None:
            return HttpResponse(status=202, headers=headers)
        status = 200
        if isinstance(answer, dict) and "error" in answer:
            status = self._error_status(answer["error"]["code"], answer)
            if status == 429:
                headers["Retry-After"] = str(answer["error"].get("data", {}).get("retryAfter", 1))
            if status == 403:
                scopes = " ".join(answer["error"].get("data", {}).get("requiredScopes", []))
                headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{scopes}"'
        return HttpResponse(codec.dumps(answer), content_type="application/json", status=status, headers=headers)

    @staticmethod
    def _error_status(code: int, answer: dict[str, Any]) -> int:
        return getattr(answer, "http_status", 200)

    def _stream_answer(
        self,
        task: asyncio.Future[Any],
        queue: asyncio.Queue[dict[str, Any]],
        first: dict[str, Any] | None,
        session: SessionState | None,
    ) -> StreamingHttpResponse:
        stream_id = new_stream_id()

        async def events() -> AsyncIterator[bytes]:
            seq = 0

            async def framed(message: dict[str, Any]) -> bytes:
                nonlocal seq
                seq += 1
                event_id = await event_store.append(stream_id, seq, message)
                return sse_event(message, event_id=event_id)

            try:
                yield sse_event("", event_id=f"{stream_id}-0", event="")  # priming event for resumption
                if first is not None:
                    yield await framed(first)
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter in done:
                        yield await framed(getter.result())
                        continue
                    getter.cancel()
                    while not queue.empty():
                        yield await framed(queue.get_nowait())
                    answer = task.result()
                    if answer is not None:
                        yield await framed(answer)
                    return
            finally:
                if not task.done():
                    task.cancel()  # the client closed the stream: that cancels the request
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

        headers = dict(SSE_HEADERS)
        if session is not None:
            headers["Mcp-Session-Id"] = session.id
        return StreamingHttpResponse(events(), content_type="text/event-stream", headers=headers)

    async def _ask_client(
        self, session: SessionState | None, emit: Any, method: str, params: dict[str, Any], counter: Any
    ) -> dict[str, Any]:
        """Send a request to the client on this POST's stream and wait for the reply it POSTs back."""
        if session is None:
            raise errors.McpError("Requests to the client need a session.")
        request_id = f"srv-{new_stream_id()}-{next(counter)}"
        layer = get_channel_layer()
        channel = await layer.new_channel()
        group = reply_group(session.id, request_id)
        await layer.group_add(group, channel)
        try:
            await emit({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            reply = await asyncio.wait_for(layer.receive(channel), timeout=300)
        except TimeoutError as exc:
            raise errors.McpError(f"The client did not answer {method} in time.") from exc
        finally:
            await layer.group_discard(group, channel)
        message = reply["message"]
        if "error" in message:
            raise errors.McpError(f"The client refused {method}: {message['error'].get('message')}")
        return message.get("result") or {}

    @staticmethod
    async def _deliver_reply(session_id: str, message: dict[str, Any]) -> None:
        layer = get_channel_layer()
        await layer.group_send(reply_group(session_id, message["id"]), {"type": "mcp.reply", "message": message})

    # --- GET: the server-to-client stream ----------------------------------------------------------

    @extend_schema(exclude=True)
    async def get(self, request: HttpRequest) -> HttpResponse:
        principal = await self._guard(request)
        if isinstance(principal, HttpResponse):
            return principal
        if "text/event-stream" not in request.headers.get("Accept", "") and "*/*" not in request.headers.get(
            "Accept", ""
        ):
            return rpc_error_response(
                errors.InvalidRequest("Not Acceptable: GET needs Accept: text/event-stream."), status=406
            )
        session = await self._session(request, principal)
        if isinstance(session, HttpResponse):
            return session
        last_event_id = request.headers.get("Last-Event-ID")
        if session is None:
            if request.headers.get("MCP-Protocol-Version") in MODERN_VERSIONS:
                return rpc_error_response(errors.McpError("GET is not part of 2026-07-28.", code=-32600), status=405)
            return rpc_error_response(errors.InvalidRequest("Bad Request: missing Mcp-Session-Id header."), status=400)
        return StreamingHttpResponse(
            session_stream(session, principal, last_event_id),
            content_type="text/event-stream",
            headers={**SSE_HEADERS, "Mcp-Session-Id": session.id},
        )

    # --- DELETE ------------------------------------------------------------------------------------

    @extend_schema(exclude=True)
    async def delete(self, request: HttpRequest) -> HttpResponse:
        principal = await self._guard(request)
        if isinstance(principal, HttpResponse):
            return principal
        session = await self._session(request, principal)
        if isinstance(session, HttpResponse):
            return session
        if session is None:
            return rpc_error_response(errors.InvalidRequest("Bad Request: missing Mcp-Session-Id header."), status=400)
        await gateway().sessions.delete(session.id)
        return HttpResponse(status=200)


async def session_stream(
    session: SessionState, principal: Principal, last_event_id: str | None, *, endpoint: str | None = None
) -> AsyncIterator[bytes]:
    """Notifications for one session: replayed after ``last_event_id``, then live until the client leaves."""
    stream_id = f"get{session.id}"
    seq = 0
    if last_event_id:
        replay = await event_store.after(last_event_id)
        if replay is not None:
            stream_id, seq, events = replay
            for event_seq, message in events:
                seq = max(seq, event_seq)
                yield sse_event(message, event_id=f"{stream_id}-{event_seq}")
            if not stream_id.startswith("get"):
                return  # a finished POST stream: everything it had is replayed
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = user_group(session.owner)
    await layer.group_add(group, channel)  # before the first event, so nothing sent after it is missed
    sessions = gateway().sessions
    try:
        if endpoint is not None:
            yield sse_event(endpoint, event="endpoint")
        else:
            yield sse_event("", event_id=f"{stream_id}-{seq}", event="")
        while True:
            try:
                event = await asyncio.wait_for(layer.receive(channel), timeout=settings.MCP_SSE_KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            message = event.get("message") or {}
            if event.get("session") not in (None, session.id):
                continue
            if message.get("method") == "notifications/resources/updated":
                current = await sessions.get(session.id)
                if current is None:
                    return
                if message["params"]["uri"] not in current.subscriptions:
                    continue
            seq += 1
            event_id = await event_store.append(stream_id, seq, message)
            yield sse_event(message, event_id=event_id if endpoint is None else None)
    finally:
        await layer.group_discard(group, channel)


def _document_base(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


async def protected_resource_metadata(request: HttpRequest, resource_path: str = "") -> JsonResponse:
    """RFC 9728 metadata for the MCP endpoint. Public by design."""
    from users.scopes import ALL_SCOPES

    base = _document_base(request)
    return JsonResponse(
        {
            "resource": f"{base}{MCP_PATH}",
            "resource_name": "callmcp MCP server",
            "scopes_supported": list(ALL_SCOPES),
            "bearer_methods_supported": ["header"],
            "resource_documentation": f"{base}/api/docs/",
        }
    )


class LegacySseView(McpView):
    """The 2024-11-05 HTTP+SSE transport: GET opens the stream, whose first event names the POST URL."""

    transport = "sse"

    @extend_schema(exclude=True)
    async def get(self, request: HttpRequest) -> HttpResponse:
        principal = await self._guard(request)
        if isinstance(principal, HttpResponse):
            return principal
        session = SessionState(id=new_session_id(), owner=principal.rate_key, protocol_version="")
        await gateway().sessions.create(session)
        endpoint = f"{MCP_PATH}/messages?session_id={session.id}"
        return StreamingHttpResponse(
            session_stream(session, principal, None, endpoint=endpoint),
            content_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    @extend_schema(exclude=True)
    async def post(self, request: HttpRequest) -> HttpResponse:
        principal = await self._guard(request)
        if isinstance(principal, HttpResponse):
            return principal
        session_id = request.GET.get("session_id", "")
        session = await gateway().sessions.get(session_id) if session_id else None
        if session is None or session.owner != principal.rate_key:
            return rpc_error_response(errors.SessionNotFound("Session not found."), status=404)
        if len(request.body) > settings.MCP_MAX_BODY_BYTES:
            return self._too_large()
        try:
            payload = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return rpc_error_response(errors.ParseError(f"Parse error: {exc}"), status=400)
        if isinstance(payload, dict) and "method" not in payload and "id" in payload:
            await self._deliver_reply(session.id, payload)
            return HttpResponse(status=202)
        asyncio.ensure_future(self._run_in_background(payload, principal, session))
        return HttpResponse("Accepted", status=202)

    async def _run_in_background(self, payload: Any, principal: Principal, session: SessionState) -> None:
        """Answer on the session's stream, wherever it lives (the channel layer carries it)."""
        from mcp_gateway.notify import apublish

        user_id = principal.user_id

        async def emit(message: dict[str, Any]) -> None:
            await apublish(user_id=user_id, message=message, session=session.id)

        counter = itertools.count(1)

        async def request_client(method: str, params: dict[str, Any]) -> dict[str, Any]:
            return await self._ask_client(session, emit, method, params, counter)

        connection = Connection(
            transport=self.transport,
            principal=principal,
            session_id=session.id,
            protocol_version=session.protocol_version or None,
        )
        before = session.snapshot()
        try:
            answer = await gateway().dispatcher.handle(
                payload, connection=connection, session=session, emit=emit, request_client=request_client
            )
            if session.snapshot() != before:
                await gateway().sessions.save(session)
            if answer is not None:
                await emit(answer)
        except Exception:
            logger.exception("HTTP+SSE message failed")
