"""Primitives whose results are not valid MCP: a server bug, which must never reach the wire as such."""

from __future__ import annotations

from typing import Any

from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_resource, mcp_tool
from mcp_gateway.results import ToolResult


@mcp_tool(name="test_malformed", description="Returns a text block without its text.")
async def malformed(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return ToolResult(content=[{"type": "text"}])


@mcp_resource(uri="test://malformed", name="Malformed", description="Contents without text or blob.")
async def malformed_resource(ctx: RequestScope, uri: str) -> Any:
    return [{"uri": uri, "mimeType": "text/plain"}]
