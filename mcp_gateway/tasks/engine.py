"""Running a tool's ``TaskWork`` against the store: create, poll, answer and cancel a task.

Each operation asks the work where its job stands (with the caller's scope and the task's durable
state), stores what it says (``store.task_save``: a terminal task never changes again) and, when the
status changed, publishes the era's status notification to the owner's streams.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from config.async_bridge import call_async
from config.errors import DomainError
from mcp_gateway import boundary, db, errors, tool_models
from mcp_gateway.context import InputRequired, RequestScope
from mcp_gateway.models import McpTask
from mcp_gateway.notify import Notifier
from mcp_gateway.registry import ToolSpec
from mcp_gateway.results import tool_result
from mcp_gateway.tasks import store, wire
from mcp_gateway.tasks.work import CANCELLED, COMPLETED, FAILED, INPUT_REQUIRED, WORKING, Step

logger = logging.getLogger(__name__)


def work_of(spec: ToolSpec) -> Any:
    if spec.task_work is None:
        raise errors.McpError(f"The tool {spec.name} does not run as a task.")
    return spec.task_work


async def _step(spec: ToolSpec, hook: Awaitable[Step]) -> tuple[Step, dict[str, Any] | None]:
    """The step a hook reports and, once completed, the tool result; failures become steps."""
    try:
        step = await hook
    except InputRequired:
        raise
    except DomainError as exc:
        return Step(COMPLETED, message=exc.message), boundary.tool_failure(exc, tool=spec.name)
    except errors.McpError as exc:
        return Step(FAILED, message=exc.message, error=exc.to_error()), None
    except Exception:
        logger.exception("task work of %s failed", spec.name)
        return Step(FAILED, message="Internal error.", error={"code": errors.INTERNAL_ERROR,
                                                                "message": "Internal error."}), None
    return step, _result(spec, step)


def _result(spec: ToolSpec, step: Step) -> dict[str, Any] | None:
    if step.status != COMPLETED:
        return None
    return tool_result(spec, tool_models.dump_output(step.value, spec.output_model))


def _fields(step: Step, result: dict[str, Any] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": step.status, "status_message": step.message}
    if step.state is not None:
        fields["state"] = step.state
    if step.ref:
        fields["ref"] = step.ref
    if step.status == COMPLETED:
        fields["result"] = result
    elif step.status == FAILED:
        fields["error"] = step.error or {"code": errors.INTERNAL_ERROR, "message": step.message or "Failed."}
    if step.status == INPUT_REQUIRED:
        fields["input_requests"] = step.input_requests
        fields["input_responses"] = {}
    elif step.status != WORKING or step.input_requests:
        fields["input_requests"] = {}
    return fields


async def start(ctx: RequestScope, spec: ToolSpec, arguments: dict[str, Any], *, ttl_ms: int | None) -> McpTask:
    """Begin the tool's job and store its task before answering (a tasks/get right after must find it).

    A ``DomainError`` from the start (bad input, no credits) propagates: the call fails at once, as a
    synchronous one would, and no task exists."""
    work = work_of(spec)
    step = await work.start(ctx, tool_models.parse_input(spec.input_model, arguments))
    result = _result(spec, step)
    return await db.run(
        store.task_create, owner=ctx.principal.rate_key, tool=spec.name, ttl_ms=ttl_ms,
        poll_interval_ms=work.poll_interval_ms, modern=ctx.modern, session_id=ctx.connection.session_id or "",
        fields=_fields(step, result),
    )


async def _store(task: McpTask, fields: dict[str, Any], notifier: Notifier) -> McpTask:
    stored, changed = await db.run(store.task_save, task=task, fields=fields)
    if changed:
        await publish(stored, notifier)
    return stored


async def publish(task: McpTask, notifier: Notifier) -> None:
    try:
        await notifier.publish(owner=task.owner, message=wire.status_notification(task, modern=task.modern),
                               session=None if task.modern or not task.session_id else task.session_id)
    except Exception:  # a notification is a courtesy: polling stays the contract
        logger.exception("status notification of task %s not sent", task.id)


async def refresh(ctx: RequestScope, spec: ToolSpec | None, task: McpTask, notifier: Notifier) -> McpTask:
    """The task as its work sees it now (only a working task is asked; the others wait for someone)."""
    if task.status != WORKING or spec is None or spec.task_work is None:
        return task
    step, result = await _step(spec, spec.task_work.poll(ctx, dict(task.state)))
    return await _store(task, _fields(step, result), notifier)


async def answer(ctx: RequestScope, spec: ToolSpec | None, task: McpTask, responses: dict[str, Any],
                 notifier: Notifier) -> McpTask:
    """Take the client's answers to outstanding input requests; the job resumes once all are answered.

    Answers to keys that are not outstanding (never asked, answered already) are ignored."""
    if spec is None or spec.task_work is None:
        return task
    taken = await db.run(store.task_take_answers, task=task, responses=responses)
    if taken is None:
        return task
    stored, complete = taken
    if not complete:
        return stored
    await publish(stored, notifier)  # working again
    step, result = await _step(spec, spec.task_work.resume(ctx, dict(stored.state), dict(stored.input_responses)))
    return await _store(stored, _fields(step, result), notifier)


async def cancel(ctx: RequestScope, spec: ToolSpec | None, task: McpTask, notifier: Notifier) -> McpTask:
    """Stop the job; the task is cancelled unless the job had already ended (then it says how)."""
    if spec is None or spec.task_work is None:
        step, result = Step(CANCELLED, message="The task was cancelled by request."), None
    else:
        step, result = await _step(spec, spec.task_work.cancel(ctx, dict(task.state)))
    return await _store(task, _fields(step, result), notifier)


def followed_job_changed(*, spec: ToolSpec, owner: str, ref: str, step_of: Callable[[], Step]) -> None:
    """What a job some tasks of ``spec`` follow (``Step.ref``) says now, pushed by the domain after it
    changed (a webhook, the poller): stored on the owner's working tasks that follow it, with their status
    notification, so a client that listens hears the end without polling. Sync, for event receivers;
    ``step_of`` is only asked when such a task exists."""
    following = [task for task in store.tasks_following(owner=owner, ref=ref) if task.tool == spec.name]
    if not following:
        return
    step = step_of()
    fields = _fields(step, _result(spec, step))
    for task in following:
        stored, changed = store.task_save(task=task, fields=fields)
        if changed:
            call_async(publish, stored, Notifier())


def followed_jobs_changed(*, spec: ToolSpec, changes: Sequence[tuple[str, str, Callable[[], Step]]]) -> None:
    """``followed_job_changed`` for each ``(owner, ref, step_of)`` of a batch, after one query for which of
    them any task follows."""
    followed = store.refs_followed(pairs=[(owner, ref) for owner, ref, _ in changes])
    for owner, ref, step_of in changes:
        if (owner, ref) in followed:
            followed_job_changed(spec=spec, owner=owner, ref=ref, step_of=step_of)
