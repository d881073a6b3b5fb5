"""Outbound results as the official ``mcp-types`` models (as inbound requests are validated with them).

``dump(model)`` is the wire form: aliases (``protocolVersion``), only the fields set, no nulls. The hot
paths (tools/list, tools/call, resources/read) send dicts: building and dumping the model cost a
tools/list about a fifth of its server time (measured: ~115 us against ~0.1 us for ten tools). Their
parts are validated once instead, when the gateway is built (``Definitions``), or are the boundary's
own (``boundary.tool_error``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp_types as types
import pydantic
from django.core.exceptions import ImproperlyConfigured

from mcp_gateway.registry import Registry


def dump(model: pydantic.BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")


def _checked(model: type[pydantic.BaseModel], definition: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return dump(model.model_validate(definition))
    except pydantic.ValidationError as exc:
        raise ImproperlyConfigured(f"MCP {what} is not a valid {model.__name__}: {exc}") from exc


@dataclass(frozen=True)
class Definitions:
    """What tools/list, resources/list, resources/templates/list and prompts/list send, validated once
    against the official models (a definition they refuse stops start-up)."""

    tools: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    templates: dict[str, dict[str, Any]]
    prompts: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, registry: Registry) -> Definitions:
        return cls(
            tools={name: _checked(types.Tool, spec.definition(), f"tool {name!r}")
                   for name, spec in sorted(registry.tools.items())},
            resources={uri: _checked(types.Resource, spec.definition(), f"resource {uri!r}")
                       for uri, spec in sorted(registry.resources.items())},
            templates={uri: _checked(types.ResourceTemplate, spec.definition(), f"template {uri!r}")
                       for uri, spec in sorted(registry.templates.items())},
            prompts={name: _checked(types.Prompt, spec.definition(), f"prompt {name!r}")
                     for name, spec in sorted(registry.prompts.items())},
        )
