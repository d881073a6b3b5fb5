"""Fixture tools, resources and prompts the official MCP conformance suite expects.

Registered only by ``manage.py mcp_conformance_server`` (``MCP_CONFORMANCE``); never in a normal
server. They exercise the same dispatcher and transports as the domain tools.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from mcp_gateway.context import RequestScope
from mcp_gateway.errors import McpError
from mcp_gateway.registry import PromptArgument, mcp_prompt, mcp_resource, mcp_resource_template, mcp_tool

# A 1x1 red PNG and a tiny WAV (44-byte header + 4 silent samples).
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
    "010100c9fe92ef0000000049454e44ae426082"
)).decode()
WAV = base64.b64encode(
    b"RIFF" + (36 + 8).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    + b"data" + (8).to_bytes(4, "little") + bytes(8)
).decode()
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


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
    return [{"type": "resource", "resource": {
        "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content.",
    }}]


@mcp_tool(name="test_multiple_content_types", description="Returns text, an image and a resource.")
async def multiple_content(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {"type": "text", "text": "Multiple content types test:"},
        {"type": "image", "data": PNG, "mimeType": "image/png"},
        {"type": "resource", "resource": {
            "uri": "test://mixed-content-resource", "mimeType": "application/json",
            "text": json.dumps({"test": "data", "value": 123}),
        }},
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
    from mcp_gateway.dispatcher import ToolResult

    return ToolResult(content=[{"type": "text", "text": "This tool intentionally returns an error for testing"}],
                      is_error=True)


@mcp_tool(
    name="test_sampling", description="Asks the client's LLM to answer a prompt.",
    input_schema={"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
)
async def sampling(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if "sampling" not in ctx.client_capabilities:
        raise McpError("The client does not support sampling.")
    result = await ctx.ask_client("sampling/createMessage", {
        "messages": [{"role": "user", "content": {"type": "text", "text": arguments["prompt"]}}], "maxTokens": 100,
    })
    content = result.get("content") or {}
    text = content.get("text") if isinstance(content, dict) else str(content)
    return f"LLM response: {text}"


@mcp_tool(
    name="test_elicitation", description="Asks the user for a username and email.",
    input_schema={"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
)
async def elicitation(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    result = await ctx.ask_client("elicitation/create", {
        "message": arguments["message"],
        "requestedSchema": {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        },
    })
    return f"User response: action={result.get('action')}, content={json.dumps(result.get('content'))}"


@mcp_tool(name="test_elicitation_sep1034_defaults", description="Elicitation with defaults for every primitive type.")
async def elicitation_defaults(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    result = await ctx.ask_client("elicitation/create", {
        "message": "Please review and update the form fields with defaults",
        "requestedSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                           "default": "active"},
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
        },
    })
    return f"Elicitation completed: action={result.get('action')}, content={json.dumps(result.get('content'))}"


@mcp_tool(name="test_elicitation_sep1330_enums", description="Elicitation with the five enum schema variants.")
async def elicitation_enums(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    result = await ctx.ask_client("elicitation/create", {
        "message": "Please select options from the enum fields",
        "requestedSchema": {
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "description": "Untitled single-select",
                                   "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "description": "Titled single-select", "oneOf": [
                    {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"}]},
                "legacyEnum": {"type": "string", "description": "Legacy titled enum", "enum": ["opt1", "opt2", "opt3"],
                               "enumNames": ["Option One", "Option Two", "Option Three"]},
                "untitledMulti": {"type": "array", "description": "Untitled multi-select",
                                  "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                "titledMulti": {"type": "array", "description": "Titled multi-select", "items": {"anyOf": [
                    {"const": "value1", "title": "First Choice"}, {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"}]}},
            },
        },
    })
    return f"Elicitation completed: action={result.get('action')}, content={json.dumps(result.get('content'))}"


@mcp_tool(
    name="json_schema_2020_12_tool", description="Tool with JSON Schema 2020-12 features",
    input_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"},
                                                               "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": False,
    },
)
async def json_schema_tool(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return f"Received: {json.dumps(arguments)}"


@mcp_resource(uri="test://static-text", name="Static text", description="A static text resource.",
              mime_type="text/plain")
async def static_text(ctx: RequestScope, uri: str) -> Any:
    return "This is the content of the static text resource."


@mcp_resource(uri="test://static-binary", name="Static binary", description="A static PNG.", mime_type="image/png")
async def static_binary(ctx: RequestScope, uri: str) -> Any:
    return base64.b64decode(PNG)


@mcp_resource(uri="test://watched-resource", name="Watched resource", description="A resource to subscribe to.",
              mime_type="text/plain")
async def watched(ctx: RequestScope, uri: str) -> Any:
    return "Watched resource content."


@mcp_resource_template(uri_template="test://template/{id}/data", name="Template data",
                       description="Data for an id.", mime_type="application/json")
async def template_data(ctx: RequestScope, uri: str, id: str) -> Any:  # noqa: A002 - the template's name
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


def _complete_arg1(ctx: RequestScope, value: str, context: dict[str, str]) -> list[str]:
    return [v for v in ("paris", "park", "party") if v.startswith(value)]


@mcp_prompt(name="test_simple_prompt", description="A simple prompt without arguments.")
async def simple_prompt(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}]


@mcp_prompt(
    name="test_prompt_with_arguments", description="A prompt with two arguments.",
    arguments=[PromptArgument("arg1", "First test argument", True, _complete_arg1),
               PromptArgument("arg2", "Second test argument", True)],
)
async def prompt_with_arguments(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    text = f"Prompt with arguments: arg1='{arguments['arg1']}', arg2='{arguments['arg2']}'"
    return [{"role": "user", "content": {"type": "text", "text": text}}]


@mcp_prompt(
    name="test_prompt_with_embedded_resource", description="A prompt embedding a resource.",
    arguments=[PromptArgument("resourceUri", "URI of the resource to embed", True)],
)
async def prompt_with_resource(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {"role": "user", "content": {"type": "resource", "resource": {
            "uri": arguments["resourceUri"], "mimeType": "text/plain", "text": "Embedded resource content for testing.",
        }}},
        {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}},
    ]


@mcp_prompt(name="test_prompt_with_image", description="A prompt with an image.")
async def prompt_with_image(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
        {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}},
    ]
