"""``/``: what this service is, where its MCP endpoint is, a client configuration to copy, and links.

Public by design: it shows only addresses, never a token. The stdio configuration (paths on this
machine) is shown only with DEBUG on, where a desktop client runs beside the server.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import engines

if TYPE_CHECKING:
    from django.template.backends.base import _EngineTemplate  # the stubs' name for a backend's template

TEMPLATE = Path(__file__).resolve().parent / "templates" / "landing.html"
PLACEHOLDER = "<your token>"  # what the reader pastes in; the page never shows a token
# makePhoneCall's arguments for a first call, as in the README: the simulator answers +1 212 555 0100.
FIRST_CALL = {"phone_number": "+12125550100", "task": "Confirm the table for two at 7 pm tonight.", "record": True,
              "wait_for_completion": True}


@cache
def _template() -> _EngineTemplate:
    return engines["django"].from_string(TEMPLATE.read_text())


def _http_config(mcp_url: str) -> dict[str, Any]:
    return {"mcpServers": {"callmcp": {"type": "http", "url": mcp_url,
                                       "headers": {"Authorization": f"Bearer {PLACEHOLDER}"}}}}


def _stdio_config() -> dict[str, Any]:
    env = {"CALLMCP_TOKEN": PLACEHOLDER, "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL}
    if not settings.BLAND_API_KEY:
        env["BLAND_BASE_URL"] = settings.BLAND_BASE_URL  # the same simulator as this server
    return {"mcpServers": {"callmcp": {"command": sys.executable,
                                       "args": [str(settings.BASE_DIR / "manage.py"), "mcp_stdio"], "env": env}}}


def landing(request: HttpRequest) -> HttpResponse:
    base = request.build_absolute_uri("/").rstrip("/")
    mcp_url = f"{base}/api/v1/mcp"
    simulator = "" if settings.BLAND_API_KEY else f"{settings.BLAND_BASE_URL.rstrip('/')}/_sim/state"
    context = {
        "mcp_url": mcp_url,
        "ws_url": f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}/mcp",
        "http_config": json.dumps(_http_config(mcp_url), indent=2),
        "stdio_config": json.dumps(_stdio_config(), indent=2) if settings.DEBUG else "",
        "simulator_url": simulator,
        "first_call": json.dumps(FIRST_CALL),
    }
    return HttpResponse(_template().render(context, request))
