from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig, apps
from django.conf import settings

if TYPE_CHECKING:
    from mcp_gateway.dispatcher import Dispatcher
    from mcp_gateway.sessions import SessionStore


class McpGatewayConfig(AppConfig):
    name = "mcp_gateway"
    verbose_name = "MCP gateway"
    dispatcher: Dispatcher
    sessions: SessionStore

    def ready(self) -> None:
        from mcp_gateway.dispatcher import Dispatcher
        from mcp_gateway.ratelimit import build_rate_limiter
        from mcp_gateway.registry import Registry
        from mcp_gateway.sessions import build_session_store

        extra = ["mcp_gateway.conformance"] if settings.MCP_CONFORMANCE else []
        self.dispatcher = Dispatcher(
            # Conformance mode serves only the suite's fixtures, never the domain tools.
            registry=Registry.discover(extra_modules=extra, include_apps=not settings.MCP_CONFORMANCE),
            rate_limiter=build_rate_limiter(),
            instructions=settings.MCP_INSTRUCTIONS,
            page_size=settings.MCP_PAGE_SIZE,
        )
        self.sessions = build_session_store()


def gateway() -> McpGatewayConfig:
    return apps.get_app_config("mcp_gateway")  # type: ignore[return-value]
