"""The task store: ``McpTask`` rows, always reached with their owner (the caller's ``rate_key``).

Sync ORM functions, run through ``mcp_gateway.db.run``. A task of another owner, an expired one and
one that never existed are the same to a caller: ``TaskNotFound``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from mcp_gateway import errors
from mcp_gateway.models import McpTask
from mcp_gateway.tasks.work import INPUT_REQUIRED, TERMINAL, WORKING


class TaskNotFound(errors.InvalidParams):
    """-32602: no such task for this caller (missing, expired, or someone else's)."""

    def __init__(self, task_id: Any) -> None:
        super().__init__(f"Failed to retrieve task: Task not found: {str(task_id)[:80]!r}.",
                         data={"taskId": task_id})


def new_task_id() -> str:
    return secrets.token_urlsafe(24)


def task_create(*, owner: str, tool: str, ttl_ms: int | None, poll_interval_ms: int, modern: bool, session_id: str,
                fields: dict[str, Any]) -> McpTask:
    """Store a new task with the fields of its first step (``status``, ``state``, ...); the owner's tasks
    past their TTL go (expired tasks are never shown, this keeps the table to the live ones)."""
    now = timezone.now()
    McpTask.objects.filter(owner=owner, expires_at__lte=now).delete()
    return McpTask.objects.create(
        id=new_task_id(), owner=owner, tool=tool, modern=modern, session_id=session_id, ttl_ms=ttl_ms,
        poll_interval_ms=poll_interval_ms, created_at=now, updated_at=now,
        expires_at=now + timedelta(milliseconds=ttl_ms) if ttl_ms is not None else None, **fields,
    )


def _visible(owner: str, now: datetime) -> Any:
    return McpTask.objects.filter(owner=owner).exclude(expires_at__lte=now)


def task_get(*, owner: str, task_id: Any) -> McpTask:
    if not isinstance(task_id, str) or not task_id:
        raise TaskNotFound(task_id)
    task = _visible(owner, timezone.now()).filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound(task_id)
    return task


def task_list(*, owner: str, offset: int, limit: int) -> tuple[list[McpTask], bool]:
    """One page of the owner's live tasks, newest first, and whether more follow."""
    rows = list(_visible(owner, timezone.now()).order_by("-created_at", "id")[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit


def tasks_following(*, owner: str, ref: str) -> list[McpTask]:
    """The owner's live working tasks whose job follows ``ref`` (e.g. ``call:<id>``)."""
    return list(_visible(owner, timezone.now()).filter(ref=ref, status=WORKING))


def refs_followed(*, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of ``(owner, ref)`` pairs, those some live working task follows: one query for a whole batch of
    changed jobs (a poller batch), where nearly always none is followed."""
    if not pairs:
        return set()
    wanted = set(pairs)
    found = (McpTask.objects.filter(ref__in={ref for _, ref in wanted}, owner__in={owner for owner, _ in wanted},
                                    status=WORKING)
             .exclude(expires_at__lte=timezone.now()).values_list("owner", "ref").distinct())
    return {pair for pair in found if pair in wanted}


def task_save(*, task: McpTask, fields: dict[str, Any]) -> tuple[McpTask, bool]:
    """Apply ``fields`` unless the task reached a terminal status meanwhile (terminal never changes).

    Returns the task as stored and whether its status changed."""
    with transaction.atomic():
        locked = McpTask.objects.select_for_update().get(pk=task.pk)
        if locked.status in TERMINAL:
            return locked, False
        before = locked.status
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, fields[name])
        if changed:
            locked.updated_at = timezone.now()
            locked.save(update_fields=[*changed, "updated_at"])
        return locked, locked.status != before


def task_take_answers(*, task: McpTask, responses: dict[str, Any]) -> tuple[McpTask, bool] | None:
    """Record the answers to the task's outstanding input requests, under a lock, so that only one
    request (of any process) resumes the job: the one that answers the last of them.

    Returns the task and whether every request is answered now (it is then ``working`` again), or None
    when none of ``responses`` answers an outstanding request (unknown keys, answered already)."""
    with transaction.atomic():
        locked = McpTask.objects.select_for_update().get(pk=task.pk)
        pending = dict(locked.input_requests) if locked.status == INPUT_REQUIRED else {}
        given = {key: value for key, value in responses.items() if key in pending}
        if not given:
            return None
        locked.input_requests = {key: value for key, value in pending.items() if key not in given}
        locked.input_responses = {**locked.input_responses, **given}
        locked.answered_keys = [*locked.answered_keys, *given]
        complete = not locked.input_requests
        if complete:
            locked.status = WORKING
        locked.updated_at = timezone.now()
        locked.save(update_fields=["input_requests", "input_responses", "answered_keys", "status", "updated_at"])
        return locked, complete


def tasks_purge_expired(*, now: datetime | None = None) -> int:
    """Delete tasks whose TTL has passed; returns how many."""
    deleted, _ = McpTask.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
