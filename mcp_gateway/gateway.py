"""The gateway: one object holding everything the transports share, built by a factory and injected.

``build_gateway()`` reads the settings (the production wiring, used by ``config.asgi`` and
``manage.py mcp_stdio``); tests and tools build their own with other primitives, limits or an
authenticator. Transports receive it: ``McpView.as_view(gateway=...)``,
``McpConsumer.as_asgi(gateway=...)``, ``StdioServer(gateway=...)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from config.ratelimit import RateLimiter
from mcp_gateway.auth import Authenticator
from mcp_gateway.dispatcher import Dispatcher
from mcp_gateway.inflight import InFlight
from mcp_gateway.methods import Server
from mcp_gateway.notify import Notifier
from mcp_gateway.registry import Registry
from mcp_gateway.sessions import SessionStore, build_session_store
from mcp_gateway.streams import EventStore
from mcp_gateway.wire import Definitions

CAPABILITIES: dict[str, Any] = {
    "tools": {"listChanged": True},
    "resources": {"subscribe": True, "listChanged": True},
    "prompts": {"listChanged": True},
    "logging": {},
    "completions": {},
    # 2025-11-25 experimental tasks; 2026-07-28 advertises the tasks extension instead (lifecycle).
    "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
}


@dataclass(frozen=True)
class TransportLimits:
    """What the transports enforce; from the settings by default."""

    max_body_bytes: int = 1024 * 1024
    keepalive_seconds: float = 15
    client_request_timeout: float = 300
    allowed_origins: Sequence[str] = ()
    allowed_hosts: Sequence[str] = field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"])
    ws_auth_timeout: float = 30


@dataclass(frozen=True)
class Gateway:
    dispatcher: Dispatcher
    sessions: SessionStore
    authenticator: Authenticator
    notifier: Notifier
    events: EventStore
    limits: TransportLimits
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def registry(self) -> Registry:
        return self.dispatcher.server.registry

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the current request answers, held until it ends (the loop keeps only weak refs)."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def limits_from_settings() -> TransportLimits:
    return TransportLimits(
        max_body_bytes=settings.MCP_MAX_BODY_BYTES,
        keepalive_seconds=settings.MCP_SSE_KEEPALIVE_SECONDS,
        client_request_timeout=settings.MCP_CLIENT_REQUEST_TIMEOUT_SECONDS,
        allowed_origins=tuple(settings.MCP_ALLOWED_ORIGINS),
        allowed_hosts=tuple(settings.ALLOWED_HOSTS),
        ws_auth_timeout=settings.MCP_WS_AUTH_TIMEOUT_SECONDS,
    )


def build_gateway(
    *,
    modules: Iterable[str] | None = None,
    include_apps: bool | None = None,
    authenticator: Authenticator | None = None,
    rate_limiter: RateLimiter | None = None,
    page_size: int | None = None,
    limits: TransportLimits | None = None,
) -> Gateway:
    """The gateway the settings describe; each argument replaces one part of it.

    ``modules`` are extra modules of primitives (``settings.MCP_PRIMITIVE_MODULES`` when None);
    ``include_apps`` discovers each installed app's ``mcp_tools``/``mcp_resources``/``mcp_prompts``
    (``settings.MCP_DISCOVER_APPS`` when None).
    """
    registry = Registry.discover(
        extra_modules=settings.MCP_PRIMITIVE_MODULES if modules is None else modules,
        include_apps=settings.MCP_DISCOVER_APPS if include_apps is None else include_apps,
    )
    notifier = Notifier()
    server = Server(
        registry=registry,
        rate_limiter=rate_limiter or RateLimiter(settings.MCP_RATE_LIMITS, settings.REDIS_URL),
        notifier=notifier,
        server_info={"name": settings.MCP_SERVER_NAME, "version": settings.MCP_SERVER_VERSION},
        capabilities=CAPABILITIES,
        definitions=Definitions.of(registry),
        instructions=settings.MCP_INSTRUCTIONS or None,
        page_size=page_size or settings.MCP_PAGE_SIZE,
        task_ttl_ms=settings.MCP_TASK_TTL_SECONDS * 1000,
        task_max_ttl_ms=settings.MCP_TASK_MAX_TTL_SECONDS * 1000,
        task_result_wait_seconds=settings.MCP_TASK_RESULT_WAIT_SECONDS,
    )
    return Gateway(
        dispatcher=Dispatcher(server=server, inflight=InFlight(redis_url=settings.REDIS_URL)),
        sessions=build_session_store(redis_url=settings.REDIS_URL, ttl_seconds=settings.MCP_SESSION_TTL_SECONDS),
        authenticator=authenticator or import_string(settings.MCP_AUTHENTICATOR)(),
        notifier=notifier,
        events=EventStore(settings.REDIS_URL),
        limits=limits or limits_from_settings(),
    )
