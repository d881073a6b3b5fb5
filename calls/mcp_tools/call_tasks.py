"""makePhoneCall as an MCP task: the call is the job, and the task says what the call says.

A call runs for minutes and ends at the provider; the webhook or the poller records it, whichever
process placed it. So the task keeps only the call's id: every ``tasks/get`` reads the call (asking
the provider again when it has not moved for a while, ``services.call_refresh_if_stale``), and its
status is the task's status, its outcome the task's result. ``tasks/cancel`` cancels the call through
``services.call_cancel``, which gives back its reserved credits.

A call above the user's spend threshold is confirmed first, as the synchronous tool does
(``calls.mcp_confirm``): the task starts ``input_required``, asking for the confirmation in its
``inputRequests`` (2026-07-28: answered with ``tasks/update``; 2025-11-25: put to the client as
``elicitation/create`` on its ``tasks/result`` stream), and nothing is reserved or placed until the
user accepts; a refusal completes the task with the ``spend_not_confirmed`` error result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from calls import presenters, selectors, services
from calls.errors import CallNotCancellable
from calls.events import CallChanged, call_changes
from calls.mcp_access import own_call, owner_id
from calls.mcp_confirm import CONFIRM_KEY, check_answer, spend_question
from calls.mcp_models import MakePhoneCallInput, PlacedCall
from calls.models import TERMINAL_STATUSES, Call, CallStatus
from calls.providers import configured_provider
from calls.validation import normalize_phone_number
from mcp_gateway import db
from mcp_gateway.context import Elicitation, RequestScope
from mcp_gateway.registry import ToolSpec
from mcp_gateway.tasks import CANCELLED, WORKING, Step, TaskWork, engine
from users.selectors import user_get


@dataclass(frozen=True)
class Spend:
    """What placing the call reserves, and how the user is told (a bad number raises: never confirmed)."""

    credits: int
    minutes: int
    summary: str

    @classmethod
    def of(cls, arguments: MakePhoneCallInput) -> Spend:
        minutes = arguments.max_duration or settings.CALL_DEFAULT_MAX_DURATION_MINUTES
        number = normalize_phone_number(arguments.phone_number, field="phone_number")
        return cls(services.reservation_for(minutes), minutes, f"call {number}")


def placed(call: Call, note: str | None = None) -> PlacedCall:
    """The call as makePhoneCall answers it. It reads the call's analyses: run it in a worker thread."""
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
        spend = Spend.of(arguments)
        question = await spend_question(ctx, credits=spend.credits, minutes=spend.minutes, summary=spend.summary,
                                        confirmed=arguments.confirm_spend)
        if question is None:
            return await self._place(ctx, arguments)
        return Step.asking({CONFIRM_KEY: question}, message="Waiting for the user to confirm the spend.",
                           state={"arguments": arguments.model_dump(mode="json"), "credits": spend.credits})

    async def resume(self, ctx: RequestScope, state: dict[str, Any], responses: dict[str, Any]) -> Step:
        check_answer(Elicitation.of(responses.get(CONFIRM_KEY)), credits=state["credits"])
        return await self._place(ctx, MakePhoneCallInput.model_validate(state["arguments"]))

    @staticmethod
    async def _place(ctx: RequestScope, arguments: MakePhoneCallInput) -> Step:
        def place() -> Step:  # the step reads the call's details (with its analyses): in a worker thread
            call = place_call(ctx, arguments)
            return call_step(call, state={"call_id": str(call.id)})

        return await db.run(place)

    async def poll(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        def read() -> Step:
            call = own_call(ctx, state["call_id"])
            return call_step(services.call_refresh_if_stale(provider=configured_provider(), call=call, source="tool"))

        return await db.run(read)

    async def cancel(self, ctx: RequestScope, state: dict[str, Any]) -> Step:
        if "call_id" not in state:  # still waiting for the confirmation: nothing placed, nothing to stop
            return Step(CANCELLED, message="Cancelled before the call was placed.")

        def cancel() -> Step:
            call = own_call(ctx, state["call_id"])
            try:
                return call_step(services.call_cancel(provider=configured_provider(), call=call, source="tool"))
            except CallNotCancellable:
                return call_step(own_call(ctx, state["call_id"]))  # it ended first: the task takes its outcome

        return await db.run(cancel)


def follow_call_changes(spec: ToolSpec) -> None:
    """Keep the tasks of ``spec`` (makePhoneCall's) that follow a call in step with it as the call changes
    (webhook, poller, cancelCall), so their status notifications go out without anyone polling."""

    def step_of(event: CallChanged) -> Callable[[], Step]:
        return lambda: call_step(selectors.call_get_for_user(user_id=event.owner_id, call_id=event.call_id))

    def changed(events: Sequence[CallChanged]) -> None:
        engine.followed_jobs_changed(spec=spec, changes=[(str(event.owner_id), f"call:{event.call_id}",
                                                          step_of(event)) for event in events])

    call_changes.subscribe_many(changed)
