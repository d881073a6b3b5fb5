"""makePhoneCall as an MCP task: the call is the job, and the task says what the call says.

A call runs for minutes and ends at the provider; the webhook or the poller records it, whichever
process placed it. So the task keeps only the call's id: every ``tasks/get`` reads the call (asking
the provider again when it has not moved for a while, ``services.call_refresh_if_stale``), and its
status is the task's status, its outcome the task's result. ``tasks/cancel`` cancels the call through
``services.call_cancel``, which gives back its reserved credits.
"""

from __future__ import annotations

from typing import Any

from calls import presenters, services
from calls.errors import CallNotCancellable
from calls.mcp_access import own_call, owner_id
from calls.mcp_models import MakePhoneCallInput, PlacedCall
from calls.models import TERMINAL_STATUSES, Call, CallStatus
from calls.providers import configured_provider
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.tasks import CANCELLED, WORKING, Step, TaskWork
from users.selectors import user_get


def placed(call: Call, note: str | None = None) -> PlacedCall:
    return PlacedCall(**presenters.call_details(call).model_dump(), note=note)


def place_call(ctx: RequestScope, arguments: MakePhoneCallInput) -> Call:
    """Reserve the credits and place the call (what makePhoneCall does before it may wait)."""
    return services.call_place(
        provider=configured_provider(), user=user_get(user_id=owner_id(ctx)), to_number=arguments.phone_number,
        task=arguments.task, pathway_id=arguments.pathway_id, voice=arguments.voice,
        first_sentence=arguments.first_sentence, language=arguments.language or "",
        max_duration=arguments.max_duration, record=arguments.record,
        wait_for_greeting=arguments.wait_for_greeting, start_time=arguments.start_time,
        metadata=arguments.metadata, request_data=arguments.request_data,
        idempotency_key=arguments.idempotency_key, source="tool",
    )


def call_step(call: Call, state: dict[str, Any] | None = None) -> Step:
    """The task's step for the call as it stands: working until it ends, then its outcome."""
    label = call.status.replace("_", " ")
    if call.status == CallStatus.CANCELED:
        return Step(CANCELLED, message=f"Call {call.id} was cancelled.", state=state)
    if call.status in TERMINAL_STATUSES:
        return Step.done(placed(call), message=f"Call {call.id} ended: {label}.")
    return Step(WORKING, message=f"Call {call.id} is {label}.", state=state, ref=f"call:{call.id}")


class PhoneCallTask(TaskWork):
    poll_interval_ms = 3000

    async def start(self, ctx: RequestScope, arguments: Any) -> Step:
        call = await db.run(place_call, ctx, arguments)
        return call_step(call, state={"call_id": str(call.id)})

    async def poll(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        def read() -> Call:
            call = own_call(ctx, state["call_id"])
            return services.call_refresh_if_stale(provider=configured_provider(), call=call, source="tool")

        return call_step(await db.run(read))

    async def cancel(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        def cancel() -> Call:
            call = own_call(ctx, state["call_id"])
            try:
                return services.call_cancel(provider=configured_provider(), call=call, source="tool")
            except CallNotCancellable:
                return own_call(ctx, state["call_id"])  # it ended first: the task takes its outcome

        return call_step(await db.run(cancel))
