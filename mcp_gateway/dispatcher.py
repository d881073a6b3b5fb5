"""The MCP layer over the JSON-RPC core: one per gateway, shared by every transport.

A transport hands it one decoded JSON value, the ``Connection`` and (legacy era) the session state;
it answers with one JSON-RPC response dict, a list (batches), or None (notifications). Each request
passes the lifecycle (``mcp_gateway.lifecycle``), is tracked while it runs (``mcp_gateway.inflight``)
and is handled by its method module (``mcp_gateway.methods``). Exceptions become JSON-RPC errors in
the core; domain errors become results at the boundary (``mcp_gateway.boundary``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from mcp_types.methods import CLIENT_NOTIFICATIONS

from config import metrics
from mcp_gateway import codec, errors, lifecycle, request_state
from mcp_gateway.context import Connection, Emit, InputRequired, RequestClient, RequestScope
from mcp_gateway.inflight import InFlight
from mcp_gateway.jsonrpc import Core, Incoming, Outcome
from mcp_gateway.methods import MethodCall, Server, method_table
from mcp_gateway.registry import Registry
from mcp_gateway.results import ToolResult
from mcp_gateway.sessions import SessionState

logger = logging.getLogger("mcp_gateway.requests")
KNOWN_NOTIFICATIONS = frozenset(method for method, _ in CLIENT_NOTIFICATIONS)


async def _no_emit(message: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Exchange:
    """What one transport call hands the dispatcher, passed through the core to the handlers."""

    connection: Connection
    session: SessionState | None
    emit: Emit | None
    request_client: RequestClient | None
    era: lifecycle.Era | None


class Dispatcher:
    def __init__(self, *, server: Server, inflight: InFlight) -> None:
        self.server = server
        self.inflight = inflight
        self.methods = method_table()
        self._core: Core[Exchange] = Core(on_request=self._request, on_notification=self._notification,
                                          observe=self._observe)

    @property
    def registry(self) -> Registry:
        return self.server.registry

    def streams(self, payload: Any) -> bool:
        """Whether answering ``payload`` may send messages first (progress, logs, requests to the client)."""
        return not isinstance(payload, dict) or self.methods.streams(payload.get("method"))

    async def handle(
        self,
        payload: Any,
        *,
        connection: Connection,
        session: SessionState | None,
        emit: Emit | None = None,
        request_client: RequestClient | None = None,
        era: lifecycle.Era | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]] | None:
        """Answer one decoded JSON value (a message, or a batch where the protocol version allows it)."""
        exchange = Exchange(connection, session, emit, request_client, era)
        first = payload[0] if isinstance(payload, list) and payload else payload
        refusal = lifecycle.batch_refusal(session, era or lifecycle.era_of(first, session))
        return await self._core.handle(payload, exchange, batch_refusal=refusal)

    # --- notifications ---------------------------------------------------------------------------

    async def _notification(self, exchange: Exchange, incoming: Incoming) -> None:
        if incoming.method == "notifications/initialized":
            if exchange.session is not None:
                exchange.session.initialized = True
        elif incoming.method == "notifications/cancelled":
            await self.inflight.cancel(exchange.connection, incoming.params.get("requestId"))
        elif incoming.method not in KNOWN_NOTIFICATIONS:
            logger.debug("ignoring unknown notification %s", incoming.method)

    # --- requests --------------------------------------------------------------------------------

    async def _request(self, exchange: Exchange, incoming: Incoming) -> dict[str, Any]:
        era = exchange.era or lifecycle.era_of({"params": incoming.params}, exchange.session)
        envelope = lifecycle.open_request(incoming, exchange.session, era, served=self.methods)
        method = self.methods.get(incoming.method)
        if method is None:
            raise errors.MethodNotFound(f"Method not found: {incoming.method}")
        scope = self._scope(exchange, incoming, envelope)
        call = MethodCall(scope=scope, params=incoming.params, session=exchange.session, server=self.server)
        try:
            with self.inflight.track(scope):
                result = await method.handler(call)
        except InputRequired as needed:
            result = self._input_required(needed, scope, incoming)
        except asyncio.CancelledError:
            if scope.cancelled.is_set():
                raise errors.RequestCancelled() from None
            raise
        if envelope.modern:
            lifecycle.stamp_modern(result, incoming.method, server_info=self.server.server_info,
                                   list_ttl_ms=self.server.list_ttl_ms)
        return result

    @staticmethod
    def _scope(exchange: Exchange, incoming: Incoming, envelope: lifecycle.Envelope) -> RequestScope:
        scope = RequestScope(
            connection=exchange.connection,
            request_id=incoming.id,
            method=incoming.method,
            protocol_version=envelope.version,
            modern=envelope.modern,
            emit=exchange.emit or _no_emit,
            progress_token=envelope.meta.get("progressToken"),
            log_level=envelope.log_level,
            client_capabilities=envelope.capabilities,
            request_client=exchange.request_client,
        )
        if envelope.modern:
            scope.input_responses = incoming.params.get("inputResponses") or {}
            if incoming.params.get("requestState") is not None:
                scope.request_state = request_state.verify(
                    incoming.params["requestState"], principal=scope.principal, method=incoming.method,
                    params=incoming.params,
                )
        return scope

    @staticmethod
    def _input_required(needed: InputRequired, scope: RequestScope, incoming: Incoming) -> dict[str, Any]:
        if not scope.modern:
            raise errors.McpError("This request needs input the client can only give on protocol 2026-07-28.")
        result: dict[str, Any] = {"resultType": "input_required", "inputRequests": needed.requests}
        if needed.state is not None:
            result["requestState"] = request_state.sign(
                needed.state, principal=scope.principal, method=incoming.method, params=incoming.params
            )
        return result

    # --- metrics and the request log -------------------------------------------------------------------

    def _observe(self, exchange: Exchange, outcome: Outcome) -> None:
        tool = outcome.params.get("name") if outcome.method == "tools/call" else None
        if isinstance(tool, str) and tool in self.server.registry.tools:  # registered names only: bounded series
            metrics.put(metrics.MCP_TOOL_CALLS, 1, Tool=tool)
            if outcome.label.startswith("error"):
                metrics.put(metrics.MCP_TOOL_ERRORS, 1, Tool=tool)
        if logger.isEnabledFor(logging.INFO):
            self._log(exchange, outcome, tool)

    @staticmethod
    def _log(exchange: Exchange, outcome: Outcome, tool: Any) -> None:
        connection = exchange.connection
        line = {
            "method": outcome.method,
            "tool": tool,
            "user": connection.principal.username,
            "session": connection.session_id,
            "transport": connection.transport,
            "duration_ms": round(outcome.seconds * 1000, 2),
            "outcome": outcome.label,
        }
        logger.info("mcp_request %s", codec.dumps_text(line))


__all__ = ["Dispatcher", "Exchange", "ToolResult"]
