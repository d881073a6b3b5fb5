"""Conformance fixtures: elicitation with defaults (SEP-1034) and the enum schema variants (SEP-1330)."""

from __future__ import annotations

import json
from typing import Any

from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_tool


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

