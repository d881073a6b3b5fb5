"""Protocol errors: each knows its JSON-RPC code and the HTTP status the HTTP transport answers with.

Tool failures a model can fix are not raised as these: a tool raises ``config.errors.DomainError``
and the dispatcher turns it into an ``isError`` result.
"""

from __future__ import annotations

from typing import Any

from mcp_types import jsonrpc as codes

PARSE_ERROR = codes.PARSE_ERROR
INVALID_REQUEST = codes.INVALID_REQUEST
METHOD_NOT_FOUND = codes.METHOD_NOT_FOUND
INVALID_PARAMS = codes.INVALID_PARAMS
INTERNAL_ERROR = codes.INTERNAL_ERROR
RESOURCE_NOT_FOUND = -32002  # legacy revisions; 2026-07-28 uses INVALID_PARAMS with data.uri
HEADER_MISMATCH = codes.HEADER_MISMATCH
MISSING_CLIENT_CAPABILITY = codes.MISSING_REQUIRED_CLIENT_CAPABILITY
UNSUPPORTED_PROTOCOL_VERSION = codes.UNSUPPORTED_PROTOCOL_VERSION
# Application codes, outside the range JSON-RPC and MCP reserve (-32768..-32000).
UNAUTHORIZED = -31001
INSUFFICIENT_SCOPE = -31003
RATE_LIMITED = -31029


class McpError(Exception):
    code: int = INTERNAL_ERROR
    http_status: int = 200

    def __init__(self, message: str, *, data: Any = None, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status

    def to_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(McpError):
    code = PARSE_ERROR
    http_status = 400


class InvalidRequest(McpError):
    code = INVALID_REQUEST
    http_status = 400


class MethodNotFound(McpError):
    code = METHOD_NOT_FOUND


class InvalidParams(McpError):
    code = INVALID_PARAMS


class ResourceNotFound(McpError):
    code = RESOURCE_NOT_FOUND


class HeaderMismatch(McpError):
    code = HEADER_MISMATCH
    http_status = 400


class UnsupportedProtocolVersion(McpError):
    code = UNSUPPORTED_PROTOCOL_VERSION
    http_status = 400


class MissingClientCapability(McpError):
    code = MISSING_CLIENT_CAPABILITY
    http_status = 400


class SessionNotFound(McpError):
    code = INVALID_REQUEST
    http_status = 404


class Unauthorized(McpError):
    code = UNAUTHORIZED
    http_status = 401


class InsufficientScope(McpError):
    code = INSUFFICIENT_SCOPE
    http_status = 403


class RateLimited(McpError):
    code = RATE_LIMITED
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, data: dict[str, Any] | None = None):
        super().__init__(message, data={"retryAfter": retry_after, **(data or {})})
        self.retry_after = retry_after


class RequestCancelled(Exception):
    """The client cancelled the request: no response is sent."""
