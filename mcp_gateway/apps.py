from __future__ import annotations

from django.apps import AppConfig


class McpGatewayConfig(AppConfig):
    """The MCP protocol layer. It builds nothing at start-up: ``mcp_gateway.gateway.build_gateway()`` makes
    the gateway the ASGI application and ``manage.py mcp_stdio`` are given."""

    name = "mcp_gateway"
    verbose_name = "MCP gateway"
