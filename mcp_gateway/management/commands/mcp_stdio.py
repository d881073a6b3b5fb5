"""MCP over stdio for desktop clients: ``manage.py mcp_stdio`` (see ``mcp_gateway.stdio``).

The user comes from a token in ``CALLMCP_TOKEN`` (its scopes apply) or from ``--user`` (all the
user's scopes: whoever can run manage.py already holds the database). Logs go to stderr, warnings
and up only for the HTTP client libraries (their request lines would drown the rest).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mcp_gateway import errors
from mcp_gateway.context import Principal
from mcp_gateway.gateway import Gateway, build_gateway
from mcp_gateway.stdio import StdioServer

QUIET_LOGGERS = ("httpx", "httpcore")
logger = logging.getLogger("mcp_gateway.stdio")


async def principal_for(gateway: Gateway, username: str | None) -> Principal:
    if username:
        principal = await gateway.authenticator.for_username(username)
        if principal is None:
            raise CommandError(f"No active user named {username!r}.")
        return principal
    try:
        return await gateway.authenticator.authenticate(os.environ.get("CALLMCP_TOKEN"))
    except errors.Unauthorized as exc:
        raise CommandError(f"{exc.message} Set CALLMCP_TOKEN or pass --user.") from exc


async def warn_if_unreachable(base_url: str, *, timeout: float = 2.0) -> bool:
    """Calls placed here get their webhooks at PUBLIC_BASE_URL: say so when nothing answers there."""
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            await client.get(f"{base_url}/healthz")
    except httpx.HTTPError as exc:
        logger.warning(
            "PUBLIC_BASE_URL %s is not reachable (%s): calls placed over stdio will not hear from the phone "
            "provider until the web server runs there. Start it (make run) or set PUBLIC_BASE_URL to where it "
            "runs.", base_url, type(exc).__name__)
        return False
    return True


class Command(BaseCommand):
    help = "Serve MCP over stdio (for desktop clients that launch a local command)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Act as this user (default: the user of the token in CALLMCP_TOKEN).")

    def handle(self, *args: Any, user: str | None, **options: Any) -> None:
        root = logging.getLogger()
        root.handlers = [logging.StreamHandler(sys.stderr)]
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        asyncio.run(self._serve(user))

    async def _serve(self, username: str | None) -> None:
        gateway = build_gateway()
        principal = await principal_for(gateway, username)
        reachable = asyncio.ensure_future(warn_if_unreachable(settings.PUBLIC_BASE_URL))
        await StdioServer(gateway=gateway, principal=principal).serve()
        reachable.cancel()
