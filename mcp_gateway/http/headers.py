"""The 2026-07-28 routing headers of Streamable HTTP: ``MCP-Protocol-Version``, ``Mcp-Method``,
``Mcp-Name`` and a tool's ``Mcp-Param-<Name>``; each must say what the body says."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from mcp_types import PROTOCOL_VERSION_META_KEY

from mcp_gateway import errors
from mcp_gateway.registry import Registry

NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri",
                 "tasks/get": "taskId", "tasks/update": "taskId", "tasks/cancel": "taskId"}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value without surrounding whitespace (RFC 9110 5.5); names are case-insensitive."""
    value = headers.get(name)
    return value.strip(" \t") if value is not None else None


def decode_value(value: str) -> str:
    """``=?base64?...?=`` carries values that are not safe in a header; anything else is literal."""
    if len(value) > 11 and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.HeaderMismatch(f"Malformed base64 header value {value!r}.") from exc
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def check_routing_headers(headers: Mapping[str, str], message: dict[str, Any], registry: Registry) -> None:
    """Raise ``HeaderMismatch`` when a routing header is missing or disagrees with the body."""
    params = _dict(message.get("params"))
    body_version = _dict(params.get("_meta")).get(PROTOCOL_VERSION_META_KEY)
    header_version = header(headers, "MCP-Protocol-Version")
    if body_version is not None and header_version != body_version:
        raise errors.HeaderMismatch(
            f"MCP-Protocol-Version header {header_version!r} does not match _meta protocolVersion {body_version!r}."
        )
    method = message.get("method")
    header_method = header(headers, "Mcp-Method")
    if header_method != method:
        raise errors.HeaderMismatch(f"Mcp-Method header {header_method!r} does not match the method {method!r}.")
    if isinstance(method, str) and method in NAMED_METHODS:
        expected = params.get(NAMED_METHODS[method])
        raw = header(headers, "Mcp-Name")
        named = decode_value(raw) if raw is not None else None
        if named != expected:
            raise errors.HeaderMismatch(
                f"Mcp-Name header {named!r} does not match the {NAMED_METHODS[method]} {expected!r}."
            )
    if method == "tools/call":
        _check_param_headers(headers, params, registry)


def _check_param_headers(headers: Mapping[str, str], params: dict[str, Any], registry: Registry) -> None:
    """Tool parameters marked ``x-mcp-header`` travel in ``Mcp-Param-<Name>`` too; both must agree."""
    spec = registry.tools.get(str(params.get("name")))
    if spec is None:
        return
    arguments = _dict(params.get("arguments"))
    for key, schema in (spec.input_schema.get("properties") or {}).items():
        name = schema.get("x-mcp-header") if isinstance(schema, dict) else None
        if name:
            _check_param_header(header(headers, f"Mcp-Param-{name}"), name, key, arguments.get(key))


def _check_param_header(raw: str | None, name: str, key: str, value: Any) -> None:
    if value is None:
        if raw is not None:
            raise errors.HeaderMismatch(f"Mcp-Param-{name} is set but the argument {key!r} is not.")
        return
    if raw is None:
        raise errors.HeaderMismatch(f"Missing Mcp-Param-{name} header for the argument {key!r}.")
    expected = json.dumps(value) if isinstance(value, bool) else str(value)
    if decode_value(raw) != expected:
        raise errors.HeaderMismatch(f"Mcp-Param-{name} header does not match the argument {key!r}.")
