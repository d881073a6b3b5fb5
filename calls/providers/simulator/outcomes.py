"""How a simulated call ends: on its own at the planned end, or stopped by an API request; and its price."""

from __future__ import annotations

import math
from datetime import datetime

from calls.providers.simulator.plans import MIN_PRICE, VOICEMAIL, Plan
from calls.providers.simulator.script import cut_script, gist
from calls.providers.simulator.state import Outcome, SimCall, seconds_between


def price(plan: Plan, connected_seconds: int) -> float:
    return round(max(MIN_PRICE, connected_seconds / 60 * plan.rate_per_minute), 6)


def _summary(call: SimCall, connected: int, *, stopped: bool) -> str:
    scenario, topic = call.scenario, gist(call.request)
    if scenario is VOICEMAIL:
        text = f"The call to {call.request.to} reached voicemail; the assistant left a message. Topic: {topic}"
    elif scenario.connects:
        text = f"The assistant called {call.request.to} and the callee answered. Topic: {topic}"
        text += " The callee agreed and the assistant ended the call politely." if not stopped else ""
    else:
        text = scenario.summary
    return f"{text} The call was ended early by an API request after {connected} seconds." if stopped else text


def _disposition(call: SimCall) -> str:
    if call.scenario.answered_by == "human" and call.request.dispositions:
        return call.request.dispositions[0]
    return call.scenario.disposition


def natural_outcome(call: SimCall, plan: Plan) -> Outcome:
    scenario, connected = call.scenario, int(call.talk_seconds)
    return Outcome(
        status=scenario.status,
        answered_by=scenario.answered_by,
        error_message=scenario.error_message,
        connected_seconds=connected,
        script=call.script,
        ended_at=call.planned_end,
        ended_by="ASSISTANT" if scenario.connects else None,
        disposition=_disposition(call),
        summary=_summary(call, connected, stopped=False),
        price=price(plan, connected),  # the minimum applies to unanswered attempts too
    )


def stopped_outcome(call: SimCall, now: datetime, plan: Plan) -> Outcome:
    if not call.scenario.connects or now < call.connect_at:
        dialled = call.was_dialled(now)
        return Outcome(
            status="canceled", answered_by=None, error_message=None, connected_seconds=0, script=(),
            ended_at=now, ended_by=None, disposition="CANCELED",
            summary="The call was canceled before it connected.", price=price(plan, 0) if dialled else 0.0,
        )
    connected = math.ceil(seconds_between(now, call.connect_at) - 1e-9)
    return Outcome(
        status="completed",
        answered_by=call.scenario.answered_by,
        error_message=None,
        connected_seconds=connected,
        script=cut_script(call.script, seconds_between(now, call.connect_at)),
        ended_at=now,
        ended_by="ASSISTANT",
        disposition=_disposition(call),
        summary=_summary(call, connected, stopped=True),
        price=price(plan, connected),
    )
