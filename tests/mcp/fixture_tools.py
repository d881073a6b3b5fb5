"""Primitives the live test servers serve besides the apps' own (test-only, like a plugin app)."""

from __future__ import annotations

import asyncio
from typing import Any

from config.errors import DomainError, InvalidInput
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import PromptArgument, mcp_prompt, mcp_resource, mcp_resource_template, mcp_tool


class Refused(DomainError):
    code = "refused"
    message_template = "Refused: {why}"


@mcp_tool(
    name="test_echo",
    description="Echo the text back as structured output.",
    input_schema={
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 100}},
        "required": ["text"],
        "additionalProperties": False,
    },
    output_schema={"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]},
    annotations={"readOnlyHint": True, "idempotentHint": True},
    scopes=["calls:read"],
)
async def echo(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return {"echo": arguments["text"]}


@mcp_tool(
    name="test_place",
    description="Pretend to place something (write scope, strict rate class); `reject` fails its validation.",
    input_schema={"type": "object", "properties": {"reject": {"type": "boolean"}}, "additionalProperties": False},
    annotations={"readOnlyHint": False, "destructiveHint": False, "openWorldHint": True},
    scopes=["calls:write"],
    rate_class="place",
)
async def place(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if arguments.get("reject"):
        raise InvalidInput(reason="Rejected, as asked.")
    return "placed"


@mcp_tool(name="test_refuse", description="Always fails with a domain error a model can act on.")
async def refuse(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    raise Refused(why="not today")


@mcp_tool(
    name="test_slow",
    description="Counts to `steps`, one step per 50 ms, reporting progress.",
    input_schema={"type": "object", "properties": {"steps": {"type": "integer", "minimum": 1, "maximum": 200}}},
)
async def slow(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    steps = arguments.get("steps", 3)
    for step in range(1, steps + 1):
        await asyncio.sleep(0.05)
        await ctx.progress(step, steps, f"step {step}")
        await ctx.log("info", f"step {step}", "test_slow")
    return f"counted to {steps}"


@mcp_resource(uri="test://hello", name="Hello", description="A greeting.", mime_type="text/plain")
async def hello(ctx: RequestScope, uri: str) -> Any:
    return f"Hello, {ctx.principal.username}"


@mcp_resource_template(
    uri_template="test://items/{item_id}",
    name="Item",
    description="An item by id.",
    mime_type="application/json",
    completers={"item_id": lambda ctx, value, context: [i for i in ("1", "10", "2") if i.startswith(value)]},
)
async def item(ctx: RequestScope, uri: str, item_id: str) -> Any:
    from config.errors import NotFound

    if not item_id.isdigit():
        raise NotFound(resource=f"Item {item_id}")
    return f'{{"id": {item_id}}}'


@mcp_prompt(
    name="test_greeting", description="Greets someone.", arguments=[PromptArgument("name", "Who to greet", True)]
)
async def greeting(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return [{"role": "user", "content": {"type": "text", "text": f"Say hello to {arguments['name']}"}}]
