"""What a primitive's handler returns, turned into MCP result content.

A tool returns a string (one text block), a content block or a list of them, a dict (its structured
output, when the tool declares an output schema: sent as ``structuredContent`` and as the same JSON in
a text block), or a ``ToolResult`` for full control. A resource reader returns text, bytes (sent as a
base64 blob), one contents dict or a list of them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp_gateway.registry import ToolSpec


@dataclass
class ToolResult:
    """What a tool may return for full control over the result."""

    content: Any
    structured: Any = None
    is_error: bool = False


def content_blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if isinstance(value, dict):
        return [value]
    return [
        item if isinstance(item, dict) else item.model_dump(by_alias=True, exclude_none=True, mode="json")
        for item in value
    ]


def tool_result(spec: ToolSpec, value: Any) -> dict[str, Any]:
    if isinstance(value, ToolResult):
        result: dict[str, Any] = {"content": content_blocks(value.content)}
        if value.structured is not None:
            result["structuredContent"] = value.structured
        if value.is_error:
            result["isError"] = True
        return result
    if spec.output_schema is not None and isinstance(value, dict):
        return {"content": [{"type": "text", "text": json.dumps(value, default=str)}], "structuredContent": value}
    return {"content": content_blocks(value)}


def resource_contents(uri: str, value: Any, mime_type: str | None) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [{"uri": uri, **value}]
    item: dict[str, Any] = {"uri": uri}
    if mime_type:
        item["mimeType"] = mime_type
    if isinstance(value, bytes):
        item["blob"] = base64.b64encode(value).decode()
    else:
        item["text"] = str(value)
    return [item]
