"""Durable MCP tasks: the store, the wire forms of both revisions and the work a tool implements.

A tool runs as a task when it is declared with ``task_support`` and a ``TaskWork`` (see
``mcp_gateway.tasks.work``); the methods are in ``mcp_gateway.methods.tasks``.
"""

from mcp_gateway.tasks.work import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    TERMINAL,
    WORKING,
    Step,
    TaskWork,
)

__all__ = ["CANCELLED", "COMPLETED", "FAILED", "INPUT_REQUIRED", "TERMINAL", "WORKING", "Step", "TaskWork"]
