"""completion/complete: suggestions for a prompt argument or a resource-template variable."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from mcp_gateway import errors
from mcp_gateway.methods.base import MethodCall, Methods, allowed, call_handler
from mcp_gateway.methods.prompts import find_prompt
from mcp_gateway.registry import Completer
from mcp_gateway.wire import dump

MAX_VALUES = 100


def _completer(call: MethodCall, ref: dict[str, Any], argument: str) -> Completer | None:
    registry, scope = call.server.registry, call.scope
    kind = ref.get("type")
    if kind == "ref/prompt":
        spec = find_prompt(registry, scope, ref.get("name", ""))
        return next((a.completer for a in spec.arguments if a.name == argument), None)
    if kind == "ref/resource":
        template = registry.templates.get(ref.get("uri", ""))
        if template is None or not allowed(template, scope):
            raise errors.InvalidParams(f"Unknown resource template: {ref.get('uri')}")
        return template.completers.get(argument)
    raise errors.InvalidParams(f"Unknown reference type: {kind}")


async def complete(call: MethodCall) -> dict[str, Any]:
    argument = call.params["argument"]
    completer = _completer(call, call.params["ref"], argument["name"])
    values: list[str] = []
    if completer is not None:
        context = (call.params.get("context") or {}).get("arguments") or {}
        values = list(await call_handler(completer, call.scope, argument.get("value", ""), context))
    completion = types.Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)
    return dump(types.CompleteResult(completion=completion))


def register(methods: Methods) -> None:
    methods.add("completion/complete", complete)
