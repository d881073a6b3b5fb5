"""prompts/list and prompts/get."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from config.errors import DomainError
from mcp_gateway import boundary, errors
from mcp_gateway.context import RequestScope
from mcp_gateway.methods.base import MethodCall, Methods, allowed, call_handler, page
from mcp_gateway.registry import PromptSpec, Registry
from mcp_gateway.wire import dump


async def prompts_list(call: MethodCall) -> dict[str, Any]:
    registry, scope, definitions = call.server.registry, call.scope, call.server.definitions.prompts
    prompts = [definitions[name] for name, spec in sorted(registry.prompts.items()) if allowed(spec, scope)]
    return page(call, prompts, "prompts")


def find_prompt(registry: Registry, scope: RequestScope, name: Any) -> PromptSpec:
    spec = registry.prompts.get(name) if isinstance(name, str) else None
    if spec is None or not allowed(spec, scope):
        raise errors.InvalidParams(f"Unknown prompt: {name}")
    return spec


def _check_arguments(spec: PromptSpec, arguments: dict[str, Any]) -> None:
    missing = [a.name for a in spec.arguments if a.required and not arguments.get(a.name)]
    if missing:
        raise errors.InvalidParams(f"Missing required argument(s) for prompt {spec.name}: {', '.join(missing)}")
    unknown = sorted(set(arguments) - {a.name for a in spec.arguments})
    if unknown:
        raise errors.InvalidParams(f"Unknown argument(s) for prompt {spec.name}: {', '.join(unknown)}")


async def prompts_get(call: MethodCall) -> dict[str, Any]:
    spec = find_prompt(call.server.registry, call.scope, call.params["name"])
    arguments = call.params.get("arguments") or {}
    _check_arguments(spec, arguments)
    try:
        value = await call_handler(spec.handler, call.scope, arguments)
    except DomainError as exc:
        raise boundary.prompt_failure(exc, prompt=spec.name) from None
    result = value if isinstance(value, dict) else {"description": spec.description, "messages": value}
    return dump(types.GetPromptResult.model_validate(result))


def register(methods: Methods) -> None:
    methods.add("prompts/list", prompts_list)
    methods.add("prompts/get", prompts_get, streams=True)
