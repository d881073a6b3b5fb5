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
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
        "010100c9fe92ef0000000049454e44ae426082"
    )
).decode()
WAV = base64.b64encode(
    b"RIFF"
    + (36 + 8).to_bytes(4, "little")
    + b"WAVEfmt "
    + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little")
    + (1).to_bytes(2, "little")
    + (8000).to_bytes(4, "little")
    + (16000).to_bytes(4, "little")
    + (2).to_bytes(2, "little")
    + (16).to_bytes(2, "little")
    + b"data"
    + (8).to_bytes(4, "little")
    + bytes(8)
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
    from mcp_gateway.dispatcher import ToolResult

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


@mcp_tool(name="test_elicitation_sep1034_defaults", description="Elicitation with defaults for every primitive type.")
async def elicitation_defaults(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    result = await ctx.ask_client(
        "elicitation/create",
        {
            "message": "Please review and update the form fields with defaults",
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "User name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "User age", "default": 30},
                    "score": {"type": "number", "description": "User score", "default": 95.5},
                    "status": {
                        "type": "string",
                        "description": "User status",
                        "enum": ["active", "inactive", "pending"],
                        "default": "active",
                    },
                    "verified": {"type": "boolean", "description": "Verification status", "default": True},
                },
            },
        },
    )
    return f"Elicitation completed: action={result.get('action')}, content={json.dumps(result.get('content'))}"


@mcp_tool(name="test_elicitation_sep1330_enums", description="Elicitation with the five enum schema variants.")
async def elicitation_enums(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    result = await ctx.ask_client(
        "elicitation/create",
        {
            "message": "Please select options from the enum fields",
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "untitledSingle": {
                        "type": "string",
                        "description": "Untitled single-select",
                        "enum": ["option1", "option2", "option3"],
                    },
                    "titledSingle": {
                        "type": "string",
                        "description": "Titled single-select",
                        "oneOf": [
                            {"const": "value1", "title": "First Option"},
                            {"const": "value2", "title": "Second Option"},
                            {"const": "value3", "title": "Third Option"},
                        ],
                    },
                    "legacyEnum": {
                        "type": "string",
                        "description": "Legacy titled enum",
                        "enum": ["opt1", "opt2", "opt3"],
                        "enumNames": ["Option One", "Option Two", "Option Three"],
                    },
                    "untitledMulti": {
                        "type": "array",
                        "description": "Untitled multi-select",
                        "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                    },
                    "titledMulti": {
                        "type": "array",
                        "description": "Titled multi-select",
                        "items": {
                            "anyOf": [
                                {"const": "value1", "title": "First Choice"},
                                {"const": "value2", "title": "Second Choice"},
                                {"const": "value3", "title": "Third Choice"},
                            ]
                        },
                    },
                },
            },
        },
    )
    return f"Elicitation completed: action={result.get('action')}, content={json.dumps(result.get('content'))}"


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


@mcp_resource(
    uri="test://static-text", name="Static text", description="A static text resource.", mime_type="text/plain"
)
async def static_text(ctx: RequestScope, uri: str) -> Any:
    return "This is the content of the static text resource."


@mcp_resource(uri="test://static-binary", name="Static binary", description="A static PNG.", mime_type="image/png")
async def static_binary(ctx: RequestScope, uri: str) -> Any:
    return base64.b64decode(PNG)


@mcp_resource(
    uri="test://watched-resource",
    name="Watched resource",
    description="A resource to subscribe to.",
    mime_type="text/plain",
)
async def watched(ctx: RequestScope, uri: str) -> Any:
    return "Watched resource content."


@mcp_resource_template(
    uri_template="test://template/{id}/data",
    name="Template data",
    description="Data for an id.",
    mime_type="application/json",
)
async def template_data(ctx: RequestScope, uri: str, id: str) -> Any:  # noqa: A002 - the template's name
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


def _complete_arg1(ctx: RequestScope, value: str, context: dict[str, str]) -> list[str]:
    return [v for v in ("paris", "park", "party") if v.startswith(value)]


@mcp_prompt(name="test_simple_prompt", description="A simple prompt without arguments.")
async def simple_prompt(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}]


@mcp_prompt(
    name="test_prompt_with_arguments",
    description="A prompt with two arguments.",
    arguments=[
        PromptArgument("arg1", "First test argument", True, _complete_arg1),
        PromptArgument("arg2", "Second test argument", True),
    ],
)
async def prompt_with_arguments(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    text = f"Prompt with arguments: arg1='{arguments['arg1']}', arg2='{arguments['arg2']}'"
    return [{"role": "user", "content": {"type": "text", "text": text}}]


@mcp_prompt(
    name="test_prompt_with_embedded_resource",
    description="A prompt embedding a resource.",
    arguments=[PromptArgument("resourceUri", "URI of the resource to embed", True)],
)
async def prompt_with_resource(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {
            "role": "user",
            "content": {
                "type": "resource",
                "resource": {
                    "uri": arguments["resourceUri"],
                    "mimeType": "text/plain",
                    "text": "Embedded resource content for testing.",
                },
            },
        },
        {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}},
    ]


@mcp_prompt(name="test_prompt_with_image", description="A prompt with an image.")
async def prompt_with_image(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [
        {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
        {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}},
    ]


# --- 2026-07-28 fixtures: multi round-trip requests, capabilities, listen streams -------------------


def _elicit(message: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {"type": "object", "properties": properties, "required": required},
        },
    }


def _sample(text: str, max_tokens: int) -> dict[str, Any]:
    return {
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
            "maxTokens": max_tokens,
        },
    }


ROOTS = {"method": "roots/list", "params": {}}
NAME_QUESTION = _elicit("What is your name?", {"name": {"type": "string"}}, ["name"])


def _text_of(response: Any) -> str:
    content = (response or {}).get("content") if isinstance(response, dict) else None
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list) and content:
        return str(content[0].get("text", ""))
    return ""


@mcp_tool(name="test_input_required_result_elicitation", description="Asks for the user's name (input_required).")
async def irr_elicitation(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("user_name")
    if not isinstance(answer, dict) or answer.get("action", "accept") != "accept":
        raise ctx.needs_input({"user_name": NAME_QUESTION})
    return f"Hello, {(answer.get('content') or {}).get('name', 'stranger')}!"


@mcp_tool(name="test_input_required_result_sampling", description="Asks the client's LLM a question (input_required).")
async def irr_sampling(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("capital_question")
    if not isinstance(answer, dict):
        raise ctx.needs_input({"capital_question": _sample("What is the capital of France?", 100)})
    return f"LLM said: {_text_of(answer)}"


@mcp_tool(name="test_input_required_result_list_roots", description="Asks for the client's roots (input_required).")
async def irr_roots(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("client_roots")
    if not isinstance(answer, dict) or not isinstance(answer.get("roots"), list):
        raise ctx.needs_input({"client_roots": ROOTS})
    return "Roots: " + ", ".join(str(root.get("uri")) for root in answer["roots"])


@mcp_tool(name="test_input_required_result_request_state", description="Round-trips a signed requestState.")
async def irr_state(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if ctx.request_state is None or "confirm" not in ctx.input_responses:
        raise ctx.needs_input(
            {"confirm": _elicit("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])}, state={"round": 1}
        )
    return f"state-ok: round {ctx.request_state.get('round')} confirmed"


@mcp_tool(name="test_input_required_result_multiple_inputs", description="Asks for three inputs at once.")
async def irr_multiple(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    keys = {"user_name", "greeting", "client_roots"}
    if not keys <= set(ctx.input_responses) or ctx.request_state is None:
        raise ctx.needs_input(
            {"user_name": NAME_QUESTION, "greeting": _sample("Generate a greeting", 50), "client_roots": ROOTS},
            state={"keys": sorted(keys)},
        )
    return "Received all inputs: " + ", ".join(sorted(keys))


@mcp_tool(name="test_input_required_result_multi_round", description="Two rounds of questions.")
async def irr_multi_round(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    state = ctx.request_state or {}
    if state.get("round") == 2 and "step2" in ctx.input_responses:
        color = (ctx.input_responses["step2"].get("content") or {}).get("color")
        return f"Done: {state.get('name')} likes {color}"
    if state.get("round") == 1 and "step1" in ctx.input_responses:
        name = (ctx.input_responses["step1"].get("content") or {}).get("name")
        raise ctx.needs_input(
            {"step2": _elicit("Step 2: What is your favorite color?", {"color": {"type": "string"}}, ["color"])},
            state={"round": 2, "name": name},
        )
    raise ctx.needs_input(
        {"step1": _elicit("Step 1: What is your name?", {"name": {"type": "string"}}, ["name"])}, state={"round": 1}
    )


@mcp_tool(name="test_input_required_result_tampered_state", description="Rejects a tampered requestState.")
async def irr_tampered(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if ctx.request_state is None:
        raise ctx.needs_input({"confirm": _elicit("Confirm", {"ok": {"type": "boolean"}}, ["ok"])}, state={"n": 1})
    return "state verified"


@mcp_tool(name="test_input_required_result_capabilities", description="Only asks for what the client supports.")
async def irr_capabilities(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if ctx.input_responses:
        return "Thanks for the input."
    requests: dict[str, Any] = {}
    if "elicitation" in ctx.client_capabilities:
        requests["user_name"] = NAME_QUESTION
    if "sampling" in ctx.client_capabilities:
        requests["greeting"] = _sample("Generate a greeting", 50)
    if "roots" in ctx.client_capabilities:
        requests["client_roots"] = ROOTS
    if not requests:
        return "The client declared no input capabilities."
    raise ctx.needs_input(requests)


@mcp_prompt(name="test_input_required_result_prompt", description="A prompt that first asks for context.")
async def irr_prompt(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("user_context")
    if not isinstance(answer, dict):
        raise ctx.needs_input(
            {
                "user_context": _elicit(
                    "What context should the prompt use?", {"context": {"type": "string"}}, ["context"]
                )
            }
        )
    context = (answer.get("content") or {}).get("context", "")
    return [{"role": "user", "content": {"type": "text", "text": f"Use this context: {context}"}}]


@mcp_tool(name="test_missing_capability", description="Needs the client's sampling capability.")
async def missing_capability(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    from mcp_gateway.errors import MissingClientCapability

    if "sampling" not in ctx.client_capabilities:
        raise MissingClientCapability(
            "This tool needs the client's sampling capability.", data={"requiredCapabilities": {"sampling": {}}}
        )
    return "The client supports sampling."


@mcp_tool(name="test_streaming_elicitation", description="Streams progress, then asks for input (input_required).")
async def streaming_elicitation(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    await ctx.log("info", "working")
    if "user_name" not in ctx.input_responses:
        raise ctx.needs_input({"user_name": NAME_QUESTION})
    return "Thanks."


@mcp_tool(name="test_logging_tool", description="Logs three messages (only if the request asked for logs).")
async def logging_tool(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    for text in ("one", "two", "three"):
        await ctx.log("info", f"log {text}")
    return "Logged."


@mcp_tool(name="test_trigger_tool_change", description="Announces that the tool list changed.")
async def trigger_tool_change(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    from mcp_gateway.notify import apublish

    await apublish(
        user_id=ctx.principal.user_id, message={"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    )
    return "Tool list change announced."


@mcp_tool(name="test_trigger_prompt_change", description="Announces that the prompt list changed.")
async def trigger_prompt_change(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    from mcp_gateway.notify import apublish

    await apublish(
        user_id=ctx.principal.user_id, message={"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"}
    )
    return "Prompt list change announced."


@mcp_tool(
    name="test_custom_headers",
    description="Echoes a region that also travels in the Mcp-Param-Region header.",
    input_schema={
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
        "required": ["region"],
    },
)
async def custom_headers(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return f"Region: {arguments['region']}"
