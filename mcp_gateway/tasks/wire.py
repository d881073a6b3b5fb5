"""A stored task as each era puts it on the wire.

- 2025-11-25 (experimental tasks): ``Task`` with ``ttl``/``pollInterval``; ``CreateTaskResult`` nests it
  under ``task``; the result comes from ``tasks/result``; a tool result with ``isError`` is a ``failed``
  task there.
- 2026-07-28 (``io.modelcontextprotocol/tasks``): flat ``Task`` with ``ttlMs``/``pollIntervalMs``;
  ``CreateTaskResult`` is ``resultType: "task"`` plus the task; ``tasks/get`` inlines ``result``,
  ``error`` or ``inputRequests`` (a ``DetailedTask``); a tool error stays ``completed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mcp_gateway.models import McpTask
from mcp_gateway.tasks.work import COMPLETED, FAILED, INPUT_REQUIRED

EXTENSION = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def legacy_status(task: McpTask) -> str:
    if task.status == COMPLETED and (task.result or {}).get("isError"):
        return FAILED
    return task.status


def legacy_task(task: McpTask) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taskId": task.id, "status": legacy_status(task), "createdAt": _iso(task.created_at),
        "lastUpdatedAt": _iso(task.updated_at), "ttl": task.ttl_ms, "pollInterval": task.poll_interval_ms,
    }
    if task.status_message:
        body["statusMessage"] = task.status_message
    return body


def modern_task(task: McpTask) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taskId": task.id, "status": task.status, "createdAt": _iso(task.created_at),
        "lastUpdatedAt": _iso(task.updated_at), "ttlMs": task.ttl_ms, "pollIntervalMs": task.poll_interval_ms,
    }
    if task.status_message:
        body["statusMessage"] = task.status_message
    return body


def detailed_task(task: McpTask) -> dict[str, Any]:
    body = modern_task(task)
    if task.status == COMPLETED and task.result is not None:
        body["result"] = task.result
    elif task.status == FAILED and task.error is not None:
        body["error"] = task.error
    elif task.status == INPUT_REQUIRED:
        body["inputRequests"] = task.input_requests
    return body


def created(task: McpTask, *, modern: bool) -> dict[str, Any]:
    if modern:
        return {"resultType": "task", **modern_task(task)}
    return {"task": legacy_task(task)}


def status_notification(task: McpTask, *, modern: bool) -> dict[str, Any]:
    """``notifications/tasks`` (2026-07-28, the detailed task) or ``notifications/tasks/status`` (2025-11-25)."""
    if modern:
        return {"jsonrpc": "2.0", "method": "notifications/tasks", "params": detailed_task(task)}
    return {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": legacy_task(task)}


def related(task_id: str) -> dict[str, Any]:
    return {RELATED_TASK: {"taskId": task_id}}
