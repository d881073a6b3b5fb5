"""Conformance fixtures: resources, a template with completion, and prompts."""

from __future__ import annotations

import base64
import json
from typing import Any

from mcp_gateway.conformance.media import PNG
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import PromptArgument, mcp_prompt, mcp_resource, mcp_resource_template


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


