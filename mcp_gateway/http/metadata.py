"""RFC 9728 protected resource metadata for the MCP endpoint. Public by design."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, JsonResponse
from django.views import View

from mcp_gateway.gateway import Gateway
from mcp_gateway.http.streamable import MCP_PATH


class ProtectedResourceMetadata(View):
    gateway: ClassVar[Gateway | None] = None

    async def get(self, request: HttpRequest) -> JsonResponse:
        base = f"{request.scheme}://{request.get_host()}"
        scopes = self.gateway.authenticator.scopes_supported if self.gateway is not None else ()
        return JsonResponse({
            "resource": f"{base}{MCP_PATH}",
            "resource_name": "callmcp MCP server",
            "scopes_supported": list(scopes),
            "bearer_methods_supported": ["header"],
            "resource_documentation": f"{base}/api/docs/",
        })
