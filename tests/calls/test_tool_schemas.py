"""Every tool's inputSchema and outputSchema is portable: the rules of MCP Inspector's schema-portability
lint (``core/json/schemaLint.ts``: a ``type`` array is a warning, a boolean schema where a schema object
belongs is refused by some clients, an input root must be an object), plus the rules other consumers
enforce (Gemini: no ``$ref``/``$defs``, a ``type`` on every ``anyOf`` branch; OpenAI: a small set of
``format`` values; no OpenAPI-only ``nullable``). Any finding fails the test. And the typed tool layer
checks every result against its outputSchema when DEBUG is on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel

from mcp_gateway.registry import Registry, mcp_tool
from mcp_gateway.tool_models import input_schema

PORTABLE_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SCHEMA_SINGLES = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
TYPED = ("type", "anyOf", "oneOf", "allOf", "enum", "const")


def _children(schema: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    for key in SCHEMA_MAPS:
        for name, child in (schema.get(key) or {}).items():
            yield f"{path}.{key}.{name}", child
    for key in SCHEMA_LISTS:
        for index, child in enumerate(schema.get(key) or []):
            yield f"{path}.{key}[{index}]", child
    for key in SCHEMA_SINGLES:
        if key in schema and not (key == "additionalProperties" and schema[key] is False):
            yield f"{path}.{key}", schema[key]


def _own_findings(schema: dict[str, Any], path: str) -> Iterator[str]:
    if isinstance(schema.get("type"), list):
        yield f"{path}: type is an array {schema['type']}; use anyOf branches with one type each"
    if "$ref" in schema or "$defs" in schema or "definitions" in schema:
        yield f"{path}: $ref/$defs; inline the schema"
    if "nullable" in schema:
        yield f"{path}: nullable is OpenAPI, not JSON Schema"
    if "format" in schema and schema["format"] not in PORTABLE_FORMATS:
        yield f"{path}: format {schema['format']!r} is not portable"
    for key in ("anyOf", "oneOf"):
        for index, branch in enumerate(schema.get(key) or []):
            if isinstance(branch, dict) and "type" not in branch and "enum" not in branch:
                yield f"{path}.{key}[{index}]: a branch without a type"
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and not any(key in prop for key in TYPED):
            yield f"{path}.properties.{name}: no type"


def lint(schema: Any, path: str = "$", depth: int = 0) -> list[str]:
    """What is not portable in a schema, one line per finding."""
    if isinstance(schema, bool):
        return [f"{path}: a boolean schema ({str(schema).lower()}) where a schema object belongs"]
    if not isinstance(schema, dict) or depth > 32:
        return [f"{path}: not a schema object"] if not isinstance(schema, dict) else []
    findings = list(_own_findings(schema, path))
    for child_path, child in _children(schema, path):
        findings += lint(child, child_path, depth + 1)
    return findings


def lint_tool(tool: dict[str, Any]) -> list[str]:
    findings = [] if tool["inputSchema"].get("type") == "object" else ["inputSchema: the root must be an object"]
    findings += [f"inputSchema{line[1:]}" for line in lint(tool["inputSchema"])]
    if "outputSchema" in tool:
        findings += [f"outputSchema{line[1:]}" for line in lint(tool["outputSchema"])]
    return findings


def test_the_lint_finds_what_is_not_portable() -> None:
    assert lint({"type": "object", "properties": {"a": {"type": ["string", "null"]}}}) == [
        "$.properties.a: type is an array ['string', 'null']; use anyOf branches with one type each"]
    assert lint({"type": "object", "properties": {"data": True}}) == [
        "$.properties.data: a boolean schema (true) where a schema object belongs"]
    assert lint({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"type": "string"}}})
    assert lint({"type": "object", "properties": {"a": {"description": "anything"}}}) == [
        "$.properties.a: no type"]
    assert lint({"anyOf": [{"type": "string"}, {"description": "x"}]}) == ["$.anyOf[1]: a branch without a type"]
    assert lint({"type": "string", "format": "uri"}) == ["$: format 'uri' is not portable"]
    assert lint_tool({"inputSchema": {"type": "string"}}) == ["inputSchema: the root must be an object"]
    assert lint({"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}}) == []


@pytest.fixture(scope="module")
def tools() -> dict[str, dict[str, Any]]:
    registry = Registry.discover()
    return {name: spec.definition() for name, spec in registry.tools.items()}


def test_every_tool_has_portable_input_and_output_schemas(tools: dict[str, dict[str, Any]]) -> None:
    assert {"makePhoneCall", "getCallDetails", "getCallHistory", "getCallTranscript", "getCallRecording",
            "cancelCall"} <= set(tools)
    findings = {name: lint_tool(tool) for name, tool in tools.items()}
    assert {name: found for name, found in findings.items() if found} == {}


def test_the_schemas_still_say_what_they_said(tools: dict[str, dict[str, Any]]) -> None:
    """Portable, without losing what the schemas state: limits, required fields, nullability, choices."""
    place = tools["makePhoneCall"]["inputSchema"]
    assert place["required"] == ["phone_number"]
    assert place["additionalProperties"] is False
    assert place["properties"]["task"]["maxLength"] == 2000
    assert (place["properties"]["max_duration"]["minimum"], place["properties"]["max_duration"]["maximum"]) == (1, 720)
    assert "en-US" in place["properties"]["language"]["enum"]
    assert place["properties"]["start_time"] == {
        "type": "string", "format": "date-time",
        "description": "Schedule the call (at least 5 minutes ahead), with a UTC offset."}
    details = tools["getCallDetails"]["outputSchema"]
    for field in ("call_id", "to", "status", "task", "voice", "metadata", "queue_status", "from", "has_recording"):
        assert field in details["required"], field
    assert details["properties"]["answered_by"]["anyOf"][1] == {"type": "null"}
    assert "note" in tools["makePhoneCall"]["outputSchema"]["properties"]
    history = tools["getCallHistory"]
    assert history["inputSchema"]["properties"]["limit"] == {
        "type": "integer", "minimum": 1, "maximum": 100, "default": 20, "description": "Page size (default 20)."}
    assert history["outputSchema"]["properties"]["calls"]["items"]["required"][:3] == ["call_id", "to", "status"]
    transcript = tools["getCallTranscript"]
    assert transcript["inputSchema"]["properties"]["format"]["enum"] == ["text", "segments", "corrected"]
    assert transcript["outputSchema"]["properties"]["transcript"]["anyOf"][0] == {"type": "string"}


class Echo(BaseModel):
    text: str


def test_in_debug_a_result_that_does_not_match_the_output_schema_is_caught(settings) -> None:  # noqa: ANN001
    @mcp_tool(name="echo", description="Echo.", input_model=Echo, output_model=Echo)
    def echo(ctx: object, arguments: Echo) -> Echo:
        return Echo.model_construct(text=len(arguments.text))  # skips validation: the wrong type slips in

    handler = echo.__mcp_tool__.handler  # type: ignore[attr-defined]
    settings.DEBUG = False
    with pytest.warns(UserWarning, match="serialized value may not be as expected"):
        assert handler(None, {"text": "four"}) == {"text": 4}  # goes out as it is, with pydantic's warning
    settings.DEBUG = True
    with pytest.raises(ValidationError, match="4 is not of type 'string'"), pytest.warns(UserWarning, match="not be"):
        handler(None, {"text": "four"})
    assert input_schema(Echo) == {"type": "object", "properties": {"text": {"type": "string"}},
                                  "required": ["text"]}
