"""Outbound results as the official ``mcp-types`` models (as inbound requests are validated with them).

``dump(model)`` is the wire form: aliases (``protocolVersion``), only the fields set, no nulls. Every
result is built or validated as its model (initialize, server/discover, tools/call as ``CallToolResult``,
resources/read as ``ReadResourceResult``, prompts/get, completion/complete, tool errors) but for the
four list results (tools/list, resources/list, resources/templates/list, prompts/list). Measured on the
2-core machine (bench notes): validating and dumping a ``ListToolsResult`` of our six tools costs
116-142 us a request against 0.1 us for the dicts, about a fifth of a tools/list's whole server time
(~550 us), while a ``CallToolResult`` or a ``ReadResourceResult`` costs 5-8 us, under 1 % of a tool
call. So the list results send dicts whose parts are validated once instead, when the gateway is built
(``Definitions``: a definition the models refuse stops start-up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
import pydantic
from django.core.exceptions import ImproperlyConfigured

from mcp_gateway.codec import Encoded
from mcp_gateway.registry import Registry

LISTED_CACHE_SIZE = 64  # distinct (kind, names) lists kept encoded: one per scope set a token can have


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
    _listed: dict[tuple[str, tuple[str, ...]], Encoded] = field(default_factory=dict, compare=False, repr=False)

    def listed(self, kind: str, names: Sequence[str]) -> Encoded:
        """The definitions of ``names`` (of ``kind``: tools, resources, templates, prompts), in that order,
        encoded once per distinct list (at most ``LISTED_CACHE_SIZE`` kept)."""
        key = (kind, tuple(names))
        found = self._listed.get(key)
        if found is None:
            if len(self._listed) >= LISTED_CACHE_SIZE:
                self._listed.clear()
            table: dict[str, dict[str, Any]] = getattr(self, kind)
            found = self._listed[key] = Encoded([table[name] for name in names])
        return found

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
