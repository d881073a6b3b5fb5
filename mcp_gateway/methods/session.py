"""initialize, ping and server/discover: what the server is and which protocol it speaks."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from mcp_gateway import lifecycle
from mcp_gateway.methods.base import MethodCall, Methods
from mcp_gateway.wire import dump


async def initialize(call: MethodCall) -> dict[str, Any]:
    negotiated = lifecycle.negotiate(call.params.get("protocolVersion"))
    if call.session is not None:
        call.session.protocol_version = negotiated
        call.session.client_info = call.params.get("clientInfo") or {}
        call.session.client_capabilities = call.params.get("capabilities") or {}
    server = call.server
    return dump(types.InitializeResult(
        protocol_version=negotiated,
        capabilities=types.ServerCapabilities.model_validate(
            lifecycle.initialize_capabilities(server.capabilities, negotiated)),
        server_info=types.Implementation.model_validate(server.server_info),
        instructions=server.instructions,
    ))


async def ping(call: MethodCall) -> dict[str, Any]:
    return {}


async def discover(call: MethodCall) -> dict[str, Any]:
    server = call.server
    return dump(types.DiscoverResult(
        supported_versions=list(lifecycle.ALL_VERSIONS),
        capabilities=types.ServerCapabilities.model_validate(lifecycle.discover_capabilities(server.capabilities)),
        instructions=server.instructions,
        ttl_ms=server.list_ttl_ms,
        cache_scope="public",
    ))


def register(methods: Methods) -> None:
    methods.add("initialize", initialize)
    methods.add("ping", ping)
    methods.add("server/discover", discover)
