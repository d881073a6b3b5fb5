"""What a tool that runs as a task implements: its ``TaskWork``, and the ``Step`` each hook reports.

The gateway keeps the task (``mcp_gateway.tasks.store``); the work only says where its job stands. It
is asked again on every ``tasks/get`` from whichever process serves it, with the durable ``state`` it
returned before, so it must derive its status from something shared (the database, a provider), never
from this process's memory:

- ``start(ctx, arguments)``: begin the job (after the arguments passed the tool's schema); raise
  ``ctx.needs_input(...)`` to ask first in a 2026-07-28 round trip, before any task exists;
- ``poll(ctx, state)``: where the job stands now;
- ``resume(ctx, state, responses)``: the client answered every input request of an ``input_required`` step;
- ``cancel(ctx, state)``: stop the job (the task is cancelled whatever this returns, unless it raises).

A ``DomainError`` raised by a hook is the tool's own failure: the task completes with an ``isError``
result, as a synchronous call would. Any ``McpError`` fails the task with that JSON-RPC error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mcp_gateway.context import RequestScope

TaskSupport = Literal["forbidden", "optional", "required"]
WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED = "working", "input_required", "completed", "failed", "cancelled"
STATUSES = (WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})


@dataclass
class Step:
    """Where a task's job stands. ``value`` is the tool's return value once ``completed`` (what its
    handler would have returned); ``error`` the JSON-RPC error of a ``failed`` one; ``input_requests``
    what an ``input_required`` one asks (key -> ``{"method", "params"}``). ``state`` replaces the
    durable state when given; ``ref`` names what the job follows (``call:<id>``), for change events."""

    status: str = WORKING
    message: str = ""
    value: Any = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] | None = None
    ref: str | None = None

    @classmethod
    def done(cls, value: Any, message: str = "") -> Step:
        return cls(status=COMPLETED, value=value, message=message)

    @classmethod
    def asking(cls, requests: dict[str, dict[str, Any]], message: str = "", state: dict[str, Any] | None = None
               ) -> Step:
        return cls(status=INPUT_REQUIRED, input_requests=requests, message=message, state=state)


class TaskWork:
    """A tool's job as a task; subclass and override the hooks the job needs."""

    poll_interval_ms: int = 1000

    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        raise NotImplementedError

    async def poll(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        return Step(WORKING)

    async def resume(self, ctx: RequestScope, state: dict[str, Any], responses: dict[str, Any]) -> Step:
        return await self.poll(ctx, state)

    async def cancel(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        return Step(CANCELLED, message="The task was cancelled by request.")
