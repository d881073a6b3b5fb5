"""initialize, ping and server/discover: what the server is and which protocol it speaks."""

from __future__ import annotations

from typing import Any

from mcp_gateway import lifecycle
from mcp_gateway.methods.base import MethodCall, Methods


async def initialize(call: MethodCall) -> dict[str, Any]:
    negotiated = lifecycle.negotiate(call.params.get("protocolVersion"))
    if call.session is not None:
        call.session.protocol_version = negotiated
        call.session.client_info = call.params.get("clientInfo") or {}
        call.session.client_capabilities = call.params.get("capabilities") or {}
    server = call.server
    result: dict[str, Any] = {
        "protocolVersion": negotiated,
        "capabilities": lifecycle.initialize_capabilities(server.capabilities, negotiated),
        "serverInfo": server.server_info,
    }
    if server.instructions:
        result["instructions"] = server.instructions
    return result


async def ping(call: MethodCall) -> dict[str, Any]:
    return {}


async def discover(call: MethodCall) -> dict[str, Any]:
    server = call.server
    result: dict[str, Any] = {
        "supportedVersions": list(lifecycle.ALL_VERSIONS),
        "capabilities": lifecycle.discover_capabilities(server.capabilities),
        "serverInfo": server.server_info,
        "ttlMs": server.list_ttl_ms,
        "cacheScope": "public",
    }
    if server.instructions:
        result["instructions"] = server.instructions
    return result


def register(methods: Methods) -> None:
    methods.add("initialize", initialize)
    methods.add("ping", ping)
    methods.add("server/discover", discover)
