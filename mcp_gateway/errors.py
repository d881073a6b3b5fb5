"""Protocol errors: the JSON-RPC ones and the codes MCP and this server add. Each knows only its code.

What HTTP status a code is answered with is the HTTP transport's business (``mcp_gateway.http.status``).
Failures a model can fix are not raised as these: a tool raises ``config.errors.DomainError`` and the
tools method turns it into an ``isError`` result (``mcp_gateway.boundary``).
"""

from __future__ import annotations

from typing import Any

from mcp_types import jsonrpc as codes

from mcp_gateway.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    InvalidParams,
    InvalidRequest,
    JsonRpcError,
    MethodNotFound,
    NoResponse,
    ParseError,
)

RESOURCE_NOT_FOUND = -32002  # legacy revisions; 2026-07-28 uses INVALID_PARAMS with data.uri
HEADER_MISMATCH = codes.HEADER_MISMATCH
MISSING_CLIENT_CAPABILITY = codes.MISSING_REQUIRED_CLIENT_CAPABILITY
UNSUPPORTED_PROTOCOL_VERSION = codes.UNSUPPORTED_PROTOCOL_VERSION
# Application codes, outside the range JSON-RPC and MCP reserve (-32768..-32000).
UNAUTHORIZED = -31001
INSUFFICIENT_SCOPE = -31003
RATE_LIMITED = -31029

McpError = JsonRpcError


class ResourceNotFound(McpError):
    code = RESOURCE_NOT_FOUND


class HeaderMismatch(McpError):
    code = HEADER_MISMATCH


class UnsupportedProtocolVersion(McpError):
    code = UNSUPPORTED_PROTOCOL_VERSION


class MissingClientCapability(McpError):
    code = MISSING_CLIENT_CAPABILITY


class SessionNotFound(McpError):
    code = INVALID_REQUEST


class Unauthorized(McpError):
    code = UNAUTHORIZED


class InsufficientScope(McpError):
    code = INSUFFICIENT_SCOPE

    def __init__(self, message: str, *, required: list[str]) -> None:
        super().__init__(message, data={"error": "insufficient_scope", "requiredScopes": required})
        self.required = required


class RateLimited(McpError):
    code = RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int, data: dict[str, Any] | None = None) -> None:
        super().__init__(message, data={"retryAfter": retry_after, **(data or {})})
        self.retry_after = retry_after


class RequestCancelled(NoResponse):
    """The client cancelled the request: no response is sent."""


__all__ = [
    "HEADER_MISMATCH", "INSUFFICIENT_SCOPE", "INTERNAL_ERROR", "INVALID_PARAMS", "INVALID_REQUEST",
    "METHOD_NOT_FOUND", "MISSING_CLIENT_CAPABILITY", "PARSE_ERROR", "RATE_LIMITED", "RESOURCE_NOT_FOUND",
    "UNAUTHORIZED", "UNSUPPORTED_PROTOCOL_VERSION", "HeaderMismatch", "InsufficientScope", "InvalidParams",
    "InvalidRequest", "McpError", "MethodNotFound", "MissingClientCapability", "ParseError", "RateLimited",
    "RequestCancelled", "ResourceNotFound", "SessionNotFound", "Unauthorized", "UnsupportedProtocolVersion",
]
