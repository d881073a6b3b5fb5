"""Conformance fixtures of the tasks extension (io.modelcontextprotocol/tasks, SEP-2663).

Their jobs keep nothing in memory: a "sleep" is a due time in the task's durable state, compared with
the clock on each tasks/get, so any process answers for them, as for a phone call.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from config.errors import DomainError
from mcp_gateway.conformance.modern import NAME_QUESTION
from mcp_gateway.context import RequestScope
from mcp_gateway.errors import McpError
from mcp_gateway.registry import mcp_tool
from mcp_gateway.tasks import CANCELLED, Step, TaskWork


def _confirm(message: str) -> dict[str, Any]:
    return {"method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]},
    }}


def _accepted(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("action") == "accept"


class Timed(TaskWork):
    """A job that ends ``seconds`` after it starts, with ``finish(state)``'s value."""

    poll_interval_ms = 200

    def due(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"due": time.time() + float(arguments.get("seconds", 1)), **arguments}

    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        if float(arguments.get("seconds", 1)) <= 0:
            return self.finish(arguments)
        return Step(state=self.due(arguments), message="Working.")

    async def poll(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        return self.finish(state) if time.time() >= state["due"] else Step(message="Working.")

    def finish(self, state: dict[str, Any]) -> Step:
        return Step.done(f"Computed {state.get('label', 'result')} after {state.get('seconds', 0)}s.")


class FailingJob(Timed):
    def finish(self, state: dict[str, Any]) -> Step:
        raise DomainError("The job failed, as failing_job always does.")


class ProtocolErrorJob(Timed):
    def finish(self, state: dict[str, Any]) -> Step:
        raise McpError("protocol_error_job broke down with an internal error.", code=-32603)


class ConfirmDelete(TaskWork):
    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        return Step.asking({"confirm_delete": _confirm(f"Delete {arguments.get('filename')}?")},
                           state={"filename": arguments.get("filename")}, message="Waiting for confirmation.")

    async def resume(self, ctx: RequestScope, state: dict[str, Any], responses: dict[str, Any]) -> Step:
        if _accepted(responses.get("confirm_delete")):
            return Step.done(f"Deleted {state['filename']}.")
        return Step.done(f"Kept {state['filename']}.")


class MultiInput(TaskWork):
    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        return Step.asking({"first": NAME_QUESTION, "second": _confirm("Proceed?")}, message="Waiting for input.")

    async def resume(self, ctx: RequestScope, state: dict[str, Any], responses: dict[str, Any]) -> Step:
        return Step.done("Received: " + ", ".join(sorted(responses)))


class GreetLater(Timed):
    """Asks for a name in a 2026-07-28 round trip first, then greets in a task."""

    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        answer = ctx.input_responses.get("user_name")
        if not isinstance(answer, dict) or not _accepted(answer):
            raise ctx.needs_input({"user_name": NAME_QUESTION})
        name = (answer.get("content") or {}).get("name", "stranger")
        return Step(state={"due": time.time() + 0.3, "name": name}, message="Working.")

    def finish(self, state: dict[str, Any]) -> Step:
        return Step.done(f"Hello, {state['name']}!")


class Cancellable(Timed):
    async def cancel(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        return Step(CANCELLED, message="Cancelled before it finished.")


SLOW_SCHEMA = {"type": "object",
               "properties": {"seconds": {"type": "number", "minimum": 0}, "label": {"type": "string"}}}


@mcp_tool(name="greet", description="Says hello (never a task).",
          input_schema={"type": "object", "properties": {"name": {"type": "string"}}})
async def greet(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return f"Hello, {arguments.get('name', 'World')}!"


@mcp_tool(name="slow_compute", description="Computes for `seconds` seconds (a task when the client takes tasks).",
          input_schema=SLOW_SCHEMA, task_support="optional", task_work=Cancellable())
async def slow_compute(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    seconds = float(arguments.get("seconds", 1))
    await asyncio.sleep(seconds)
    return f"Computed {arguments.get('label', 'result')} after {seconds:g}s."


@mcp_tool(name="failing_job", description="A task that ends with a tool error after about a second.",
          task_support="required", task_work=FailingJob())
async def failing_job(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    raise DomainError("The job failed, as failing_job always does.")


@mcp_tool(name="protocol_error_job", description="A task that fails with a JSON-RPC internal error.",
          task_support="optional", task_work=ProtocolErrorJob())
async def protocol_error_job(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    raise McpError("protocol_error_job broke down with an internal error.", code=-32603)


@mcp_tool(name="confirm_delete", description="Deletes a file once the user confirms (a task asking for input).",
          input_schema={"type": "object", "properties": {"filename": {"type": "string"}}},
          task_support="optional", task_work=ConfirmDelete())
async def confirm_delete(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return f"Deleted {arguments.get('filename')}."


@mcp_tool(name="multi_input", description="A task asking two questions at once.", task_support="optional",
          task_work=MultiInput())
async def multi_input(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return "Received nothing."


@mcp_tool(name="test_tool_with_task", description="Asks for a name, then greets in a task.",
          task_support="required", task_work=GreetLater())
async def tool_with_task(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return "Hello!"
