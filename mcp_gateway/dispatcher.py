"""The transport-agnostic MCP dispatcher: one per process, shared by HTTP, WebSocket and stdio.

A transport hands it one decoded JSON value, the ``Connection`` and (legacy era) the session state;
it answers with one JSON-RPC response dict, a list (batches), or None (notifications). This module
is the single place where exceptions become JSON-RPC errors or ``isError`` tool results.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from asgiref.sync import sync_to_async
from django.core import signing
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from mcp_types import version as versions
from mcp_types.methods import CLIENT_NOTIFICATIONS, CLIENT_REQUESTS, parse_client_request

from config import metrics
from config.errors import DomainError
from config.errors import NotFound as DomainNotFound
from mcp_gateway import codec, errors, notify
from mcp_gateway.context import LOG_LEVELS, Connection, InputRequired, RequestScope
from mcp_gateway.ratelimit import RateLimiter
from mcp_gateway.registry import PromptSpec, Registry, ToolSpec
from mcp_gateway.sessions import SessionState

logger = logging.getLogger("mcp_gateway.requests")

HANDSHAKE_VERSIONS = versions.HANDSHAKE_PROTOCOL_VERSIONS
MODERN_VERSIONS = versions.MODERN_PROTOCOL_VERSIONS
LATEST_HANDSHAKE = versions.LATEST_HANDSHAKE_VERSION
ALL_VERSIONS = (*HANDSHAKE_VERSIONS, *MODERN_VERSIONS)
CACHEABLE = {
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "resources/read",
    "server/discover",
}
NO_SESSION_NEEDED = {"initialize", "ping"}


class ErrorReply(dict):
    """A JSON-RPC error response that remembers the HTTP status the HTTP transport should use."""

    def __init__(self, body: dict[str, Any], *, http_status: int) -> None:
        super().__init__(body)
        self.http_status = http_status


@dataclass
class ToolResult:
    """What a tool may return for full control over the result."""

    content: list[dict[str, Any]]
    structured: Any = None
    is_error: bool = False


def _result_of_content(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if isinstance(value, dict):
        return [value]
    return [
        item if isinstance(item, dict) else item.model_dump(by_alias=True, exclude_none=True, mode="json")
        for item in value
    ]


def _validation_message(exc: pydantic.ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        location = ".".join(str(p) for p in error["loc"] if p not in ("params",)) or "params"
        parts.append(f"{location}: {error['msg']}")
    return "Invalid params: " + "; ".join(parts)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        padded = str(cursor) + "=" * (-len(str(cursor)) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise errors.InvalidParams(f"Invalid cursor: {str(cursor)[:40]!r}") from exc
    return offset


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    return await sync_to_async(fn)(*args, **kwargs)


class Dispatcher:
    def __init__(
        self,
        *,
        registry: Registry,
        rate_limiter: RateLimiter,
        server_name: str = "callmcp",
        server_version: str = "1.0.0",
        instructions: str | None = None,
        page_size: int = 50,
        list_ttl_ms: int = 60_000,
    ) -> None:
        self.registry = registry
        self.rate_limiter = rate_limiter
        self.server_info = {"name": server_name, "version": server_version}
        self.instructions = instructions
        self.page_size = page_size
        self.list_ttl_ms = list_ttl_ms
        self._inflight: dict[tuple[str, Any], tuple[asyncio.Task[Any] | None, RequestScope]] = {}
        self._methods: dict[str, Callable[..., Any]] = {
            "initialize": self._initialize,
            "ping": self._ping,
            "server/discover": self._discover,
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
            "resources/list": self._resources_list,
            "resources/templates/list": self._templates_list,
            "resources/read": self._resources_read,
            "resources/subscribe": self._resources_subscribe,
            "resources/unsubscribe": self._resources_unsubscribe,
            "prompts/list": self._prompts_list,
            "prompts/get": self._prompts_get,
            "logging/setLevel": self._logging_set_level,
            "completion/complete": self._complete,
            "subscriptions/listen": self._listen,
        }
        self.capabilities = {
            "tools": {"listChanged": True},
            "resources": {"subscribe": True, "listChanged": True},
            "prompts": {"listChanged": True},
            "logging": {},
            "completions": {},
        }

    # --- entry points ----------------------------------------------------------------------------

    async def handle(
        self,
        payload: Any,
        *,
        connection: Connection,
        session: SessionState | None,
        emit: Callable[[dict[str, Any]], Any] | None = None,
        request_client: Callable[..., Any] | None = None,
        era: str | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]] | None:
        """Answer one decoded JSON value (a message, or a batch where the session allows it)."""
        if isinstance(payload, list):
            if not (session is not None and session.protocol_version == "2025-03-26") or not payload:
                return self._error_response(
                    None,
                    errors.InvalidRequest(
                        "Batches are not supported" + (" by this protocol version." if payload else ": empty batch.")
                    ),
                )
            answers = await asyncio.gather(
                *(
                    self.handle_message(
                        item, connection=connection, session=session, emit=emit, request_client=request_client, era=era
                    )
                    for item in payload
                )
            )
            return [a for a in answers if isinstance(a, dict)] or None
        return await self.handle_message(
            payload, connection=connection, session=session, emit=emit, request_client=request_client, era=era
        )

    @staticmethod
    def era_of(message: Any, session: SessionState | None) -> str:
        """``legacy`` (initialize handshake / session) or ``modern`` (2026-07-28 ``_meta`` envelope).

        A session decides for itself; without one, a request carrying the 2026-07-28 ``_meta``
        protocol version is modern, even ``initialize`` (which that revision removed).
        """
        if session is not None and (session.initialized or session.protocol_version):
            return "legacy"
        if isinstance(message, dict):
            params = message.get("params")
            meta = params.get("_meta") if isinstance(params, dict) else None
            if isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta:
                return "modern"
        return "legacy"

    async def handle_message(
        self,
        message: Any,
        *,
        connection: Connection,
        session: SessionState | None,
        emit: Callable[[dict[str, Any]], Any] | None = None,
        request_client: Callable[..., Any] | None = None,
        era: str | None = None,
    ) -> dict[str, Any] | None:
        started = time.perf_counter()
        request_id: Any = None
        method = "?"
        outcome = "ok"
        tool = None
        try:
            if not isinstance(message, dict):
                raise errors.InvalidRequest("Invalid request: a JSON-RPC message must be an object.")
            if "id" in message and self._valid_id(message["id"]):
                request_id = message["id"]
            if message.get("jsonrpc") != "2.0":
                raise errors.InvalidRequest('Invalid request: "jsonrpc" must be "2.0".')
            if "method" not in message:
                if "id" in message and ("result" in message or "error" in message):
                    return None  # a response to a server-to-client request, delivered by the transport
                raise errors.InvalidRequest('Invalid request: "method" is missing.')
            method = message["method"]
            if not isinstance(method, str):
                raise errors.InvalidRequest('Invalid request: "method" must be a string.')
            if "id" in message and not self._valid_id(message["id"]):
                raise errors.InvalidRequest('Invalid request: "id" must be a string or an integer.')
            params = message.get("params")
            if params is not None and not isinstance(params, dict):
                raise errors.InvalidParams('Invalid params: "params" must be an object.')
            params = params or {}
            if "id" not in message:
                outcome = "notification"
                await self._notification(method, params, connection=connection, session=session)
                return None
            if method == "tools/call":
                tool = params.get("name")
            result = await self._request(
                request_id,
                method,
                params,
                connection=connection,
                session=session,
                emit=emit,
                request_client=request_client,
                era=era or self.era_of(message, session),
            )
            return {"jsonrpc": "2.0", "id": request_id, "result": result}
        except errors.RequestCancelled:
            outcome = "cancelled"
            return None
        except asyncio.CancelledError:
            outcome = "cancelled"  # the client closed the stream that carried this request
            raise
        except errors.McpError as exc:
            outcome = f"error {exc.code}"
            if message_is_notification(message):
                return None
            return self._error_response(request_id, exc)
        except Exception:
            outcome = "error -32603"
            logger.exception("MCP request failed: method=%s", method)
            if message_is_notification(message):
                return None
            return self._error_response(request_id, errors.McpError("Internal error."))
        finally:
            if isinstance(tool, str) and tool in self.registry.tools:  # registered names only: bounded series
                metrics.put(metrics.MCP_TOOL_CALLS, 1, Tool=tool)
                if outcome.startswith("error"):
                    metrics.put(metrics.MCP_TOOL_ERRORS, 1, Tool=tool)
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "mcp_request %s",
                    codec.dumps_text(
                        {
                            "method": method,
                            "tool": tool,
                            "user": connection.principal.username,
                            "session": connection.session_id,
                            "transport": connection.transport,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                            "outcome": outcome,
                        }
                    ),
                )

    @staticmethod
    def _valid_id(value: Any) -> bool:
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))

    @staticmethod
    def _error_response(request_id: Any, exc: errors.McpError) -> dict[str, Any]:
        return ErrorReply({"jsonrpc": "2.0", "id": request_id, "error": exc.to_error()}, http_status=exc.http_status)

    # --- notifications ---------------------------------------------------------------------------

    async def _notification(
        self, method: str, params: dict[str, Any], *, connection: Connection, session: SessionState | None
    ) -> None:
        if method == "notifications/initialized":
            if session is not None:
                session.initialized = True
        elif method == "notifications/cancelled":
            request_id = params.get("requestId")
            if not self.cancel(connection, request_id) and connection.session_id:
                # The request may be running in another process serving the same session.
                await notify.broadcast_cancel(session_id=connection.session_id, request_id=request_id)
        elif not any(m == method for m, _ in CLIENT_NOTIFICATIONS):
            logger.debug("ignoring unknown notification %s", method)

    def _inflight_key(self, connection: Connection, request_id: Any) -> tuple[str, Any]:
        return (connection.session_id or f"conn:{id(connection)}", request_id)

    def cancel(self, connection: Connection, request_id: Any) -> bool:
        """Stop the named in-flight request of this connection; unknown or finished ids are ignored."""
        return self._cancel_key(self._inflight_key(connection, request_id))

    def cancel_in_session(self, session_id: str, request_id: Any) -> bool:
        return self._cancel_key((session_id, request_id))

    def _cancel_key(self, key: tuple[str, Any]) -> bool:
        entry = self._inflight.get(key)
        if entry is None:
            return False
        task, scope = entry
        if scope.method == "initialize":
            return False
        if task is None:
            scope.cancelled.set()
            return True
        loop = task.get_loop()

        def stop() -> None:
            scope.cancelled.set()
            task.cancel()

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            stop()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(stop)  # asyncio objects belong to their loop's thread
        return True

    # --- requests --------------------------------------------------------------------------------

    async def _request(
        self,
        request_id: Any,
        method: str,
        params: dict[str, Any],
        *,
        connection: Connection,
        session: SessionState | None,
        emit: Callable[[dict[str, Any]], Any] | None,
        request_client: Callable[..., Any] | None,
        era: str,
    ) -> dict[str, Any]:
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        modern = era == "modern"
        if modern:
            version = self._modern_version(meta)
            capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY)
            if not isinstance(capabilities, dict):
                raise errors.InvalidParams(
                    f"Missing _meta[{CLIENT_CAPABILITIES_META_KEY!r}]: 2026-07-28 requests carry the client's "
                    "capabilities.",
                    http_status=400,
                )
            log_level = meta.get(LOG_LEVEL_META_KEY)
        else:
            if method == "initialize":
                if session is not None and session.protocol_version:
                    raise errors.InvalidRequest("Session already initialized.")
                version = LATEST_HANDSHAKE
            elif session is None or not session.protocol_version:
                if method != "ping":
                    raise errors.InvalidRequest("Session not initialized: send initialize first.")
                version = LATEST_HANDSHAKE
            else:
                version = session.protocol_version
            capabilities = session.client_capabilities if session else {}
            log_level = session.log_level if session else None

        if (method, version) not in CLIENT_REQUESTS:
            raise errors.MethodNotFound(
                f"Method not found: {method}"
                + (f" (not part of protocol version {version})" if method in self._methods else ""),
                http_status=404 if modern else 200,
            )
        try:
            parse_client_request(method, version, params)
        except pydantic.ValidationError as exc:
            raise errors.InvalidParams(_validation_message(exc), http_status=400 if modern else 200) from exc

        scope = RequestScope(
            connection=connection,
            request_id=request_id,
            method=method,
            protocol_version=version,
            modern=modern,
            emit=emit or _no_emit,
            progress_token=meta.get("progressToken"),
            log_level=log_level if log_level in LOG_LEVELS else None,
            client_capabilities=capabilities if isinstance(capabilities, dict) else {},
            request_client=request_client,
        )
        if modern:
            scope.input_responses = params.get("inputResponses") or {}
            if params.get("requestState") is not None:
                scope.request_state = self._verify_state(params["requestState"], method, params, connection)
        key = self._inflight_key(connection, request_id)
        self._inflight[key] = (asyncio.current_task(), scope)
        if connection.session_id:
            notify.ensure_cancel_listener(self.cancel_in_session)
        try:
            result = await self._methods[method](scope, params, session)
        except InputRequired as needed:
            if not modern:
                raise errors.McpError(
                    "This request needs input the client can only give on protocol 2026-07-28."
                ) from None
            result = {"resultType": "input_required", "inputRequests": needed.requests}
            if needed.state is not None:
                result["requestState"] = self._sign_state(needed.state, method, params, connection)
        except asyncio.CancelledError:
            if scope.cancelled.is_set():
                raise errors.RequestCancelled() from None
            raise
        finally:
            self._inflight.pop(key, None)
        if modern:
            result.setdefault("resultType", "complete")
            result.setdefault("_meta", {})[SERVER_INFO_META_KEY] = self.server_info
            if method in CACHEABLE:
                result.setdefault("ttlMs", self.list_ttl_ms if method.endswith("list") else 0)
                result.setdefault("cacheScope", "private")
        return result

    # --- multi round-trip requests (2026-07-28) ---------------------------------------------------

    @staticmethod
    def _state_binding(method: str, params: dict[str, Any], connection: Connection) -> str:
        target = params.get("name") or params.get("uri") or ""
        return f"{connection.principal.rate_key}:{method}:{target}"

    def _sign_state(self, state: dict[str, Any], method: str, params: dict[str, Any], connection: Connection) -> str:
        return signing.dumps(
            {"b": self._state_binding(method, params, connection), "s": state}, salt="mcp.requestState", compress=True
        )

    def _verify_state(self, token: Any, method: str, params: dict[str, Any], connection: Connection) -> dict[str, Any]:
        try:
            data = signing.loads(str(token), salt="mcp.requestState", max_age=3600)
        except signing.BadSignature as exc:
            raise errors.InvalidParams("Invalid requestState: it failed the integrity check.") from exc
        if data.get("b") != self._state_binding(method, params, connection):
            raise errors.InvalidParams("Invalid requestState: it belongs to another request.")
        return data.get("s") or {}

    def _modern_version(self, meta: dict[str, Any]) -> str:
        if PROTOCOL_VERSION_META_KEY not in meta:
            raise errors.InvalidParams(
                f"Missing _meta[{PROTOCOL_VERSION_META_KEY!r}]: send initialize first (sessions) or put the protocol "
                "version in every request's _meta (2026-07-28).",
                http_status=400,
            )
        requested = meta.get(PROTOCOL_VERSION_META_KEY)
        if requested not in MODERN_VERSIONS:
            raise errors.UnsupportedProtocolVersion(
                f"Unsupported protocol version: {requested!r}.",
                data={"supported": list(ALL_VERSIONS), "requested": requested},
            )
        return requested

    # --- lifecycle -------------------------------------------------------------------------------

    async def _initialize(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        requested = params.get("protocolVersion")
        negotiated = requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE
        if session is not None:
            session.protocol_version = negotiated
            session.client_info = params.get("clientInfo") or {}
            session.client_capabilities = params.get("capabilities") or {}
        capabilities = dict(self.capabilities)
        if negotiated == "2024-11-05":
            capabilities.pop("completions")
        result: dict[str, Any] = {
            "protocolVersion": negotiated,
            "capabilities": capabilities,
            "serverInfo": self.server_info,
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    async def _ping(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        return {}

    async def _discover(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        result: dict[str, Any] = {
            "supportedVersions": list(ALL_VERSIONS),
            "capabilities": {k: v for k, v in self.capabilities.items() if k != "logging"}
            | {"resources": {"listChanged": True}},
            "serverInfo": self.server_info,
            "ttlMs": self.list_ttl_ms,
            "cacheScope": "public",
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    async def _logging_set_level(
        self, scope: RequestScope, params: dict[str, Any], session: SessionState | None
    ) -> dict:
        level = params["level"]
        if session is not None:
            session.log_level = level
        return {}

    # --- pagination --------------------------------------------------------------------------------

    def _page(self, items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
        offset = _decode_cursor(params.get("cursor"))
        if offset > len(items):
            raise errors.InvalidParams("Invalid cursor: past the end of the list.")
        page = items[offset : offset + self.page_size]
        result: dict[str, Any] = {key: page}
        if offset + self.page_size < len(items):
            result["nextCursor"] = _encode_cursor(offset + self.page_size)
        return result

    @staticmethod
    def _allowed(spec: Any, scope: RequestScope) -> bool:
        return spec.scopes <= scope.principal.scopes

    # --- tools -----------------------------------------------------------------------------------

    async def _tools_list(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        tools = [spec.definition() for name, spec in sorted(self.registry.tools.items()) if self._allowed(spec, scope)]
        return self._page(tools, params, "tools")

    async def _tools_call(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        name = params["name"]
        spec = self.registry.tools.get(name)
        if spec is None:
            raise errors.InvalidParams(f"Unknown tool: {name}", http_status=200)
        if not self._allowed(spec, scope):
            missing = sorted(spec.scopes - scope.principal.scopes)
            raise errors.InsufficientScope(
                f"The tool {name} needs the scope(s) {', '.join(missing)}.",
                data={"error": "insufficient_scope", "requiredScopes": missing},
            )
        await self.rate_limiter.hit(
            key=scope.principal.rate_key, rate_class=spec.rate_class, overrides=scope.principal.rate_limits
        )
        arguments = params.get("arguments") or {}
        problems = sorted(spec.validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if problems:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.absolute_path) or 'arguments'}: {e.message}" for e in problems[:3]
            )
            return {"content": [{"type": "text", "text": f"Invalid arguments for {name}: {detail}"}], "isError": True}
        try:
            value = await _call(spec.handler, scope, arguments)
        except DomainError as exc:
            return {"content": [{"type": "text", "text": f"{exc.message} [{exc.code}]"}], "isError": True}
        return self._tool_result(spec, value)

    @staticmethod
    def _tool_result(spec: ToolSpec, value: Any) -> dict[str, Any]:
        if isinstance(value, ToolResult):
            result: dict[str, Any] = {"content": _result_of_content(value.content)}
            if value.structured is not None:
                result["structuredContent"] = value.structured
            if value.is_error:
                result["isError"] = True
            return result
        if spec.output_schema is not None and isinstance(value, dict):
            return {"content": [{"type": "text", "text": json.dumps(value, default=str)}], "structuredContent": value}
        return {"content": _result_of_content(value)}

    # --- resources -------------------------------------------------------------------------------

    async def _resources_list(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        resources = [s.definition() for _, s in sorted(self.registry.resources.items()) if self._allowed(s, scope)]
        for _, lister in sorted(self.registry.listers.items()):
            if self._allowed(lister, scope):
                resources.extend(await _call(lister.handler, scope))
        return self._page(resources, params, "resources")

    async def _templates_list(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        templates = [s.definition() for _, s in sorted(self.registry.templates.items()) if self._allowed(s, scope)]
        return self._page(templates, params, "resourceTemplates")

    def _not_found(self, scope: RequestScope, uri: str) -> errors.McpError:
        if scope.modern:
            return errors.InvalidParams(f"Resource not found: {uri}", data={"uri": uri})
        return errors.ResourceNotFound(f"Resource not found: {uri}", data={"uri": uri})

    def _resolve(self, scope: RequestScope, uri: str) -> tuple[Callable[..., Any], dict[str, str], str | None]:
        static = self.registry.resources.get(uri)
        if static is not None and self._allowed(static, scope):
            return static.reader, {}, static.mime_type
        found = self.registry.find_template(uri)
        if found is not None and self._allowed(found[0], scope):
            return found[0].reader, found[1], found[0].mime_type
        raise self._not_found(scope, uri)

    async def _resources_read(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        uri = params["uri"]
        reader, variables, mime_type = self._resolve(scope, uri)
        try:
            value = await _call(reader, scope, uri, **variables)
        except DomainNotFound:
            raise self._not_found(scope, uri) from None
        except DomainError as exc:
            raise errors.InvalidParams(f"{exc.message}", data={"uri": uri, "code": exc.code}) from exc
        return {"contents": self._contents(uri, value, mime_type)}

    @staticmethod
    def _contents(uri: str, value: Any, mime_type: str | None) -> list[dict[str, Any]]:
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [{"uri": uri, **value}]
        item: dict[str, Any] = {"uri": uri}
        if mime_type:
            item["mimeType"] = mime_type
        if isinstance(value, bytes):
            item["blob"] = base64.b64encode(value).decode()
        else:
            item["text"] = str(value)
        return [item]

    async def _resources_subscribe(
        self, scope: RequestScope, params: dict[str, Any], session: SessionState | None
    ) -> dict:
        uri = params["uri"]
        reader, variables, _ = self._resolve(scope, uri)
        try:
            await _call(reader, scope, uri, **variables)  # the same access check as reading it
        except DomainNotFound:
            raise self._not_found(scope, uri) from None
        except DomainError:
            pass  # e.g. a recording not made yet: subscribing to hear when it is stays allowed
        if session is not None and uri not in session.subscriptions:
            session.subscriptions.append(uri)
        return {}

    async def _resources_unsubscribe(
        self, scope: RequestScope, params: dict[str, Any], session: SessionState | None
    ) -> dict:
        uri = params["uri"]
        if session is not None and uri in session.subscriptions:
            session.subscriptions.remove(uri)
        return {}

    # --- prompts ---------------------------------------------------------------------------------

    async def _prompts_list(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        prompts = [s.definition() for _, s in sorted(self.registry.prompts.items()) if self._allowed(s, scope)]
        return self._page(prompts, params, "prompts")

    def _prompt(self, scope: RequestScope, name: str) -> PromptSpec:
        spec = self.registry.prompts.get(name)
        if spec is None or not self._allowed(spec, scope):
            raise errors.InvalidParams(f"Unknown prompt: {name}")
        return spec

    async def _prompts_get(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        spec = self._prompt(scope, params["name"])
        arguments = params.get("arguments") or {}
        missing = [a.name for a in spec.arguments if a.required and not arguments.get(a.name)]
        if missing:
            raise errors.InvalidParams(f"Missing required argument(s) for prompt {spec.name}: {', '.join(missing)}")
        unknown = sorted(set(arguments) - {a.name for a in spec.arguments})
        if unknown:
            raise errors.InvalidParams(f"Unknown argument(s) for prompt {spec.name}: {', '.join(unknown)}")
        try:
            value = await _call(spec.handler, scope, arguments)
        except DomainError as exc:
            raise errors.InvalidParams(exc.message, data={"code": exc.code}) from exc
        if isinstance(value, dict):
            return value
        return {"description": spec.description, "messages": value}

    # --- completion ------------------------------------------------------------------------------

    async def _complete(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        ref, argument = params["ref"], params["argument"]
        context_args = (params.get("context") or {}).get("arguments") or {}
        completer = None
        if ref.get("type") == "ref/prompt":
            spec = self._prompt(scope, ref.get("name", ""))
            completer = next((a.completer for a in spec.arguments if a.name == argument["name"]), None)
        elif ref.get("type") == "ref/resource":
            template = self.registry.templates.get(ref.get("uri", ""))
            if template is None or not self._allowed(template, scope):
                raise errors.InvalidParams(f"Unknown resource template: {ref.get('uri')}")
            completer = template.completers.get(argument["name"])
        else:
            raise errors.InvalidParams(f"Unknown reference type: {ref.get('type')}")
        values: list[str] = []
        if completer is not None:
            values = list(await _call(completer, scope, argument.get("value", ""), context_args))
        return {"completion": {"values": values[:100], "total": len(values), "hasMore": len(values) > 100}}

    # --- subscriptions/listen (2026-07-28) -----------------------------------------------------------

    async def _listen(self, scope: RequestScope, params: dict[str, Any], session: SessionState | None) -> dict:
        """Acknowledge, then forward the user's notifications that pass the filter until the stream closes."""
        wanted = params.get("notifications") or {}
        honored: dict[str, Any] = {k: True for k in LISTEN_FILTERS if wanted.get(k)}
        uris = []
        for uri in wanted.get("resourceSubscriptions") or []:
            try:
                self._resolve(scope, uri)
            except errors.McpError:
                continue
            uris.append(uri)
        if uris:
            honored["resourceSubscriptions"] = uris
        methods = {LISTEN_FILTERS[k] for k in honored if k in LISTEN_FILTERS}
        tag = {"io.modelcontextprotocol/subscriptionId": scope.request_id}
        async with notify.listen(user_id=scope.principal.user_id) as messages:
            await scope.emit(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/subscriptions/acknowledged",
                    "params": {"notifications": honored, "_meta": tag},
                }
            )
            async for message in messages:
                method = message.get("method")
                uri = (message.get("params") or {}).get("uri")
                if method in methods or (method == "notifications/resources/updated" and uri in uris):
                    params_out = dict(message.get("params") or {})
                    params_out["_meta"] = {**params_out.get("_meta", {}), **tag}
                    await scope.emit({"jsonrpc": "2.0", "method": method, "params": params_out})
        return {"_meta": tag}


LISTEN_FILTERS = {
    "toolsListChanged": "notifications/tools/list_changed",
    "promptsListChanged": "notifications/prompts/list_changed",
    "resourcesListChanged": "notifications/resources/list_changed",
}


async def _no_emit(message: dict[str, Any]) -> None:
    return None


def message_is_notification(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" not in message
