"""MCP tasks: a ``tools/call`` answered later, and the methods that follow it.

Two revisions, one store (``mcp_gateway.tasks``):

- 2025-11-25, experimental: the client asks with ``params.task`` on a tool whose
  ``execution.taskSupport`` allows it; ``tasks/get``, ``tasks/result`` (waits for the end),
  ``tasks/list``, ``tasks/cancel`` (refuses a task that already ended); ``notifications/tasks/status``.
- 2026-07-28, the ``io.modelcontextprotocol/tasks`` extension: the client declares the extension in the
  request's capabilities and the server decides; ``tasks/get`` inlines the result, ``tasks/update``
  answers ``inputRequests``, ``tasks/cancel`` acknowledges; ``tasks/result`` and ``tasks/list`` are gone.

Each tasks/* request counts against the caller's rate budget as a tool call does: ``read`` for following
a task (get, list, result, update: a tasks/result waiting for the end is one request), ``cancel`` for
tasks/cancel, so stopping a task never waits on the budget its polling spent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_gateway import db, errors
from mcp_gateway.methods.base import MethodCall, Methods, decode_cursor, encode_cursor, spend
from mcp_gateway.models import McpTask
from mcp_gateway.registry import ToolSpec
from mcp_gateway.tasks import engine, store, wire
from mcp_gateway.tasks.work import CANCELLED, INPUT_REQUIRED, TERMINAL

LEGACY_TASKS_VERSION = "2025-11-25"
MIN_TTL_MS = 60_000  # a shorter ttl asked for is raised to this: a task must outlive its first poll
REQUIRED: dict[str, Any] = {"requiredCapabilities": {"extensions": {wire.EXTENSION: {}}}}
FOLLOW, CANCEL = "read", "cancel"  # the rate classes (settings.MCP_RATE_LIMITS) of the tasks/* methods


def declares_extension(call: MethodCall) -> bool:
    extensions = call.scope.client_capabilities.get("extensions")
    return isinstance(extensions, dict) and wire.EXTENSION in extensions


def task_ttl_ms(call: MethodCall) -> int:
    """The client's ``task.ttl`` (2025-11-25) within the server's bounds (a minute at least), else the
    server's default."""
    server = call.server
    asked = call.params.get("task", {}).get("ttl") if isinstance(call.params.get("task"), dict) else None
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
        return max(min(asked, server.task_max_ttl_ms), MIN_TTL_MS)
    return server.task_ttl_ms


def runs_as_task(call: MethodCall, spec: ToolSpec) -> bool:
    """Whether this tools/call becomes a task; raises where the tool and the request disagree."""
    support = spec.task_support
    if call.scope.modern:
        if declares_extension(call):
            return support != "forbidden"
        if support == "required":
            raise errors.MissingClientCapability(
                f"The tool {spec.name} only runs as a task: declare the {wire.EXTENSION} extension in "
                "_meta clientCapabilities.extensions.", data=REQUIRED)
        return False
    if call.scope.protocol_version != LEGACY_TASKS_VERSION:
        return False
    asked = isinstance(call.params.get("task"), dict)
    if asked and support == "forbidden":
        raise errors.MethodNotFound(f"The tool {spec.name} does not support task-augmented calls (taskSupport "
                                    "is forbidden): call it without params.task.")
    if not asked and support == "required":
        raise errors.MethodNotFound(f"The tool {spec.name} must be called as a task: add params.task.")
    return asked


async def start_task(call: MethodCall, spec: ToolSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    task = await engine.start(call.scope, spec, arguments, ttl_ms=task_ttl_ms(call))
    return wire.created(task, modern=call.scope.modern)


# --- the tasks/* methods -----------------------------------------------------------------------------


def _gate(call: MethodCall) -> None:
    if call.scope.modern and not declares_extension(call):
        raise errors.MissingClientCapability(
            f"{call.scope.method} needs the {wire.EXTENSION} extension: declare it in _meta clientCapabilities.",
            data=REQUIRED)


def _spec(call: MethodCall, task: McpTask) -> ToolSpec | None:
    return call.server.registry.tools.get(task.tool)


async def _task(call: MethodCall, *, refresh: bool = True) -> McpTask:
    _gate(call)
    task = await db.run(store.task_get, owner=call.scope.principal.rate_key, task_id=call.params.get("taskId"))
    if refresh:
        task = await engine.refresh(call.scope, _spec(call, task), task, call.server.notifier)
    return task


async def tasks_get(call: MethodCall) -> dict[str, Any]:
    await spend(call, FOLLOW)
    task = await _task(call)
    return wire.detailed_task(task) if call.scope.modern else wire.legacy_task(task)


async def tasks_update(call: MethodCall) -> dict[str, Any]:
    responses = call.params.get("inputResponses")
    if not isinstance(responses, dict):
        raise errors.InvalidParams("tasks/update needs inputResponses: an object of answers keyed as inputRequests.")
    await spend(call, FOLLOW)
    task = await _task(call, refresh=False)
    await engine.answer(call.scope, _spec(call, task), task, responses, call.server.notifier)
    return {}


async def tasks_cancel(call: MethodCall) -> dict[str, Any]:
    await spend(call, CANCEL)
    task = await _task(call, refresh=False)
    if task.status not in TERMINAL:
        task = await engine.cancel(call.scope, _spec(call, task), task, call.server.notifier)
        if task.status == CANCELLED:
            return {} if call.scope.modern else wire.legacy_task(task)
    if call.scope.modern:
        return {}  # idempotent: the task had already ended
    raise errors.InvalidParams(f"Cannot cancel task: already in terminal status {wire.legacy_status(task)!r}.",
                               data={"taskId": task.id, "status": wire.legacy_status(task)})


async def tasks_list(call: MethodCall) -> dict[str, Any]:
    offset = decode_cursor(call.params.get("cursor"))
    await spend(call, FOLLOW)
    rows, more = await db.run(store.task_list, owner=call.scope.principal.rate_key, offset=offset,
                              limit=call.server.page_size)
    result: dict[str, Any] = {"tasks": [wire.legacy_task(task) for task in rows]}
    if more:
        result["nextCursor"] = encode_cursor(offset + len(rows))
    return result


async def _ask(call: MethodCall, task: McpTask) -> McpTask:
    """2025-11-25: put the task's outstanding requests to the client on this stream, then hand in the answers."""
    answers: dict[str, Any] = {}
    for key, request in task.input_requests.items():
        params = {**request.get("params", {}), "_meta": wire.related(task.id)}
        answers[key] = await call.scope.ask_client(str(request.get("method")), params)
    return await engine.answer(call.scope, _spec(call, task), task, answers, call.server.notifier)


async def tasks_result(call: MethodCall) -> dict[str, Any]:
    """Wait until the task ends, then answer what the tools/call would have answered (2025-11-25)."""
    await spend(call, FOLLOW)
    task = await _task(call)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + call.server.task_result_wait_seconds
    while task.status not in TERMINAL:
        if loop.time() >= deadline:
            raise errors.McpError(f"Task {task.id} is still {task.status}; call tasks/result again later.",
                                  data={"taskId": task.id, "status": task.status})
        if task.status == INPUT_REQUIRED and call.scope.request_client is not None:
            task = await _ask(call, task)
            continue
        await asyncio.sleep(task.poll_interval_ms / 1000)
        task = await _task(call)
    if task.error is not None and task.result is None:
        error = task.error
        raise errors.McpError(str(error.get("message", "Failed.")), code=int(error.get("code", errors.INTERNAL_ERROR)),
                              data=error.get("data"))
    if task.result is None:
        raise errors.InvalidRequest(f"Task {task.id} was cancelled before it produced a result.",
                                    data={"taskId": task.id, "status": task.status})
    result = dict(task.result)
    result["_meta"] = {**result.get("_meta", {}), **wire.related(task.id)}
    return result


def register(methods: Methods) -> None:
    methods.add("tasks/get", tasks_get)
    methods.add("tasks/update", tasks_update)
    methods.add("tasks/cancel", tasks_cancel)
    methods.add("tasks/list", tasks_list)
    methods.add("tasks/result", tasks_result, streams=True)
