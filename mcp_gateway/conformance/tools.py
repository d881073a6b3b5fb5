"""Conformance fixtures: tools (content types, logging, progress, errors, sampling, elicitation)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mcp_gateway.conformance.media import PNG, WAV
from mcp_gateway.context import RequestScope
from mcp_gateway.errors import McpError
from mcp_gateway.registry import mcp_tool
from mcp_gateway.results import ToolResult


@mcp_tool(name="test_simple_text", description="Returns a simple text response.")
async def simple_text(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return "This is a simple text response for testing."


@mcp_tool(name="test_image_content", description="Returns an image.")
async def image_content(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [{"type": "image", "data": PNG, "mimeType": "image/png"}]


@mcp_tool(name="test_audio_content", description="Returns audio.")
async def audio_content(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]


@mcp_tool(name="test_embedded_resource", description="Returns an embedded resource.")
async def embedded_resource(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {
            "type": "resource",
            "resource": {
                "uri": "test://embedded-resource",
                "mimeType": "text/plain",
                "text": "This is an embedded resource content.",
            },
        }
    ]


@mcp_tool(name="test_multiple_content_types", description="Returns text, an image and a resource.")
async def multiple_content(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {"type": "text", "text": "Multiple content types test:"},
        {"type": "image", "data": PNG, "mimeType": "image/png"},
        {
            "type": "resource",
            "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": json.dumps({"test": "data", "value": 123}),
            },
        },
    ]


@mcp_tool(name="test_tool_with_logging", description="Sends three log messages while it runs.")
async def with_logging(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    await ctx.log("info", "Tool execution started")
    await asyncio.sleep(0.05)
    await ctx.log("info", "Tool processing data")
    await asyncio.sleep(0.05)
    await ctx.log("info", "Tool execution completed")
    return "Tool with logging executed successfully"


@mcp_tool(name="test_tool_with_progress", description="Reports progress 0, 50 and 100 of 100.")
async def with_progress(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    for step in (0, 50, 100):
        await ctx.progress(step, 100)
        if step < 100:
            await asyncio.sleep(0.05)
    return "Tool with progress executed successfully"


@mcp_tool(name="test_error_handling", description="Always fails, to test error reporting.")
async def error_handling(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return ToolResult(
        content=[{"type": "text", "text": "This tool intentionally returns an error for testing"}], is_error=True
    )


@mcp_tool(
    name="test_sampling",
    description="Asks the client's LLM to answer a prompt.",
    input_schema={"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
)
async def sampling(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if "sampling" not in ctx.client_capabilities:
        raise McpError("The client does not support sampling.")
    result = await ctx.ask_client(
        "sampling/createMessage",
        {
            "messages": [{"role": "user", "content": {"type": "text", "text": arguments["prompt"]}}],
            "maxTokens": 100,
        },
    )
    content = result.get("content") or {}
    text = content.get("text") if isinstance(content, dict) else str(content)
    return f"LLM response: {text}"


@mcp_tool(
    name="test_elicitation",
    description="Asks the user for a username and email.",
    input_schema={"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
)
async def elicitation(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    result = await ctx.ask_client(
        "elicitation/create",
        {
            "message": arguments["message"],
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "username": {"type": "string", "description": "User's response"},
                    "email": {"type": "string", "description": "User's email address"},
                },
                "required": ["username", "email"],
            },
        },
    )
    return f"User response: action={result.get('action')}, content={json.dumps(result.get('content'))}"




@mcp_tool(
    name="json_schema_2020_12_tool",
    description="Tool with JSON Schema 2020-12 features",
    input_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    },
)
async def json_schema_tool(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return f"Received: {json.dumps(arguments)}"

