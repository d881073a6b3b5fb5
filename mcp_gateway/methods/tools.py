"""tools/list and tools/call.

A call passes, in order: the tool exists (else -32602), the token has its scopes (else
``insufficient_scope``), its arguments fit the input schema (else an ``invalid_arguments`` error
result), the caller's rate budget for the tool's class (else ``-31029``); then the handler runs. A
``DomainError`` from it is an error result with its code (``mcp_gateway.boundary``); one the client
must fix also gives back the budget it took.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from config.errors import DomainError
from mcp_gateway import boundary, errors
from mcp_gateway.methods.base import MethodCall, Methods, allowed, call_handler, missing_scopes, page, spend
from mcp_gateway.methods.tasks import runs_as_task, start_task
from mcp_gateway.registry import ToolSpec
from mcp_gateway.results import ToolResult, tool_result
from mcp_gateway.wire import dump


async def tools_list(call: MethodCall) -> dict[str, Any]:
    """The tools the token may call; each page's definitions are encoded once per distinct page."""
    names = [name for name, spec in sorted(call.server.registry.tools.items()) if allowed(spec, call.scope)]
    return page(call, names, "tools", lambda chunk: call.server.definitions.listed("tools", chunk))


def _spec(call: MethodCall, name: Any) -> ToolSpec:
    spec = call.server.registry.tools.get(name) if isinstance(name, str) else None
    if spec is None:
        raise errors.InvalidParams(f"Unknown tool: {name}")
    if not allowed(spec, call.scope):
        missing = missing_scopes(spec, call.scope)
        raise errors.InsufficientScope(f"The tool {name} needs the scope(s) {', '.join(missing)}.", required=missing)
    return spec


def _argument_problems(spec: ToolSpec, arguments: Any) -> dict[str, Any] | None:
    problems = sorted(spec.validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if not problems:
        return None
    listed = [{"path": ".".join(str(p) for p in e.absolute_path) or "arguments", "message": e.message}
              for e in problems[:3]]
    detail = "; ".join(f"{p['path']}: {p['message']}" for p in listed)
    return boundary.tool_error("invalid_arguments", f"Invalid arguments for {spec.name}: {detail}",
                               {"errors": listed})


async def _spend(call: MethodCall, spec: ToolSpec, *, refund: bool = False) -> None:
    await spend(call, spec.rate_class, refund=refund)


async def tools_call(call: MethodCall) -> dict[str, Any]:
    spec = _spec(call, call.params["name"])
    as_task = runs_as_task(call, spec)
    arguments = call.params.get("arguments") or {}
    problems = _argument_problems(spec, arguments)
    if problems is not None:
        return problems
    await _spend(call, spec)
    try:
        if as_task:
            return await start_task(call, spec, arguments)
        value = await call_handler(spec.handler, call.scope, arguments)
    except DomainError as exc:
        if exc.is_client_mistake:
            await _spend(call, spec, refund=True)
        return boundary.tool_failure(exc, tool=spec.name)
    return dump(types.CallToolResult.model_validate(tool_result(spec, value)))


def register(methods: Methods) -> None:
    methods.add("tools/list", tools_list)
    methods.add("tools/call", tools_call, streams=True)


__all__ = ["ToolResult", "register"]
