"""The error boundary of the MCP methods: where a ``DomainError`` becomes what a client sees, once.

- tools: an ``isError`` result whose ``structuredContent`` is ``{"error": {"code", "message", "data"}}``
  and whose text content is the same object as JSON, so a model reads the machine code either way;
- resources: "not found" (``-32002`` in the legacy era, ``-32602`` with ``data.uri`` in 2026-07-28),
  anything else ``-32602`` with the code in ``data``;
- prompts: ``-32602`` with the code in ``data``.

A ``DomainError``'s message is written for the caller (what went wrong, what to do); whatever only an
operator needs (a provider's own words) is logged where it happens and never carried on the error.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from config.errors import DomainError, NotFound
from mcp_gateway import errors
from mcp_gateway.wire import dump


def _public(exc: DomainError) -> dict[str, Any]:
    """Code, message and the data the message does not already say (a ``reason`` that is the message is left out)."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    data = {name: value for name, value in exc.data.items() if value != exc.message}
    if data:
        error["data"] = data
    return error


def tool_error(code: str, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ``isError`` tool result carrying a machine code."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = data
    structured = {"error": error}
    text = types.TextContent(type="text", text=json.dumps(structured, default=str))
    return dump(types.CallToolResult(content=[text], structured_content=structured, is_error=True))


def tool_failure(exc: DomainError, *, tool: str) -> dict[str, Any]:
    error = _public(exc)
    return tool_error(error["code"], error["message"], error.get("data"))


def resource_not_found(uri: str, *, modern: bool) -> errors.McpError:
    if modern:
        return errors.InvalidParams(f"Resource not found: {uri}", data={"uri": uri})
    return errors.ResourceNotFound(f"Resource not found: {uri}", data={"uri": uri})


def resource_failure(exc: DomainError, *, uri: str, modern: bool) -> errors.McpError:
    if isinstance(exc, NotFound):
        return resource_not_found(uri, modern=modern)
    error = _public(exc)
    return errors.InvalidParams(error["message"], data={"uri": uri, "code": error["code"]})


def subscription_failure(exc: DomainError, *, uri: str, modern: bool) -> errors.McpError | None:
    """Only "not found" refuses a subscription: a resource that cannot be read yet (a recording not
    made) may still be subscribed to, to hear when it can."""
    return resource_not_found(uri, modern=modern) if isinstance(exc, NotFound) else None


def prompt_failure(exc: DomainError, *, prompt: str) -> errors.McpError:
    error = _public(exc)
    return errors.InvalidParams(error["message"], data={"code": error["code"]})
