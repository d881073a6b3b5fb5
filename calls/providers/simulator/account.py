"""One simulated Bland account: its calls, clock, balance, plan limits and faults."""

from __future__ import annotations

import heapq
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from calls.providers.simulator import payloads
from calls.providers.simulator.analysis import analyze as analyze_call
from calls.providers.simulator.audio import render_wav
from calls.providers.simulator.batches import BatchBook
from calls.providers.simulator.errors import SimError, call_not_found
from calls.providers.simulator.live import due_events, wants_live_events
from calls.providers.simulator.options import DEFAULT_HOST, DEFAULT_PORT, Faults, SimClock, SimulatorOptions
from calls.providers.simulator.outcomes import natural_outcome, stopped_outcome
from calls.providers.simulator.plans import MSG_BALANCE, MSG_RATE_LIMIT, MSG_SAME_NUMBER, PLANS, scenario_for
from calls.providers.simulator.queries import ListQuery
from calls.providers.simulator.script import build_script
from calls.providers.simulator.state import Outcome, SimCall, iso, seconds_between
from calls.providers.simulator.validation import CallRequest, validate_call_request

logger = logging.getLogger(__name__)

SAME_NUMBER_SECONDS = 10.0


class Simulator:
    """One simulated Bland account: calls, clock, balance, limits and faults. Not thread-safe: the server
    drives it from its event loop (``BackgroundSimulator.call`` runs code there from other threads)."""

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        *,
        clock: SimClock | None = None,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.options = options or SimulatorOptions()
        self.clock = clock or SimClock(self.options.time_scale)
        self._wall = wall or (lambda: datetime.now(UTC))
        self.base_url: str | None = self.options.public_url.rstrip("/") if self.options.public_url else None
        self.reset()

    # --- state

    def reset(self, *, balance: float | None = None, plan: str | None = None, time_scale: float | None = None) -> None:
        """Forget every call; balance, plan, faults and clock back to the options (or the overrides given)."""
        if plan is not None and plan not in PLANS:
            raise SimError.flat(400, f"Unknown plan {plan!r}.")
        self.plan = PLANS[plan or self.options.plan]
        self.balance = float(self.options.balance if balance is None else balance)
        self.faults = Faults(self.options.latency_ms, self.options.error_rate, self.options.outage,
                             webhooks=self.options.webhooks, rate_limit_rps=self.options.rate_limit_rps)
        self.clock.restart(self._wall())
        self.clock.set_scale(self.options.time_scale if time_scale is None else time_scale)
        self.calls: dict[str, SimCall] = {}
        self._ended: list[SimCall] = []
        self._live: dict[str, SimCall] = {}  # calls whose live events are still to come
        self._next_line_id = 1
        self._ends: list[tuple[datetime, int, str]] = []  # (planned end, creation rank, id) of calls in flight
        self.batches = BatchBook(self)

    def now(self) -> datetime:
        return self.clock.now()

    def wall_now(self) -> datetime:
        return self._wall()

    def advance(self, seconds: float) -> list[str]:
        """Move the simulated clock forward; the ids of the calls that ended on the way."""
        self.clock.advance(seconds)
        return self.tick()

    def tick(self) -> list[str]:
        """End every call whose planned end has passed; the ids of those that ended now."""
        now = self.now()
        due: list[tuple[int, SimCall]] = []
        while self._ends and self._ends[0][0] <= now:
            _, rank, call_id = heapq.heappop(self._ends)
            call = self.calls[call_id]
            if call.outcome is None:  # a call stopped early already ended
                due.append((rank, call))
        due.sort(key=lambda item: item[0])  # in the order they were placed
        for _, call in due:
            self._finish(call, natural_outcome(call, self.plan))
        self.batches.refresh_all()
        return [call.call_id for _, call in due]

    def drain_ended(self) -> list[SimCall]:
        """Calls that ended since the last drain (the server posts their webhooks)."""
        ended, self._ended = self._ended, []
        return ended

    def drain_live(self) -> list[tuple[SimCall, list[dict[str, Any]]]]:
        """The live events that happened since the last drain, per call (the server posts them)."""
        now, drained = self.now(), []
        for call in list(self._live.values()):
            events, more = due_events(call, now, self.clock.wall)
            if events:
                drained.append((call, events))
            if not more:
                del self._live[call.call_id]
        return drained

    # --- placing

    def place_call(self, body: object) -> SimCall:
        request = validate_call_request(body, wall_now=self._wall())
        now = self.now()
        if self.balance <= 0:
            raise SimError.flat(402, MSG_BALANCE)
        self._check_limits(request, now)
        call = self._create(request, now)
        logger.info("simulated call %s to %s queued (%s)", call.call_id, request.to, call.scenario.name)
        return call

    def seed(self, bodies: list[object]) -> list[SimCall]:
        """Place many calls at once, as ``POST /v1/calls`` validates them but without the plan's limits
        (``POST /_sim/seed``: a benchmark's calls in flight). All or nothing: one invalid body places none."""
        wall, now = self._wall(), self.now()
        requests = [validate_call_request(body, wall_now=wall) for body in bodies]
        calls = [self._create(request, now) for request in requests]
        logger.info("%d simulated calls seeded", len(calls))
        return calls

    def create_call(self, request: CallRequest, now: datetime, *, batch_id: str | None = None,
                    dispatch_delay: float = 0.0) -> SimCall:
        """A validated call, placed without the plan's per-request limits (a batch paces its own calls)."""
        return self._create(request, now, batch_id=batch_id, dispatch_delay=dispatch_delay)

    def _create(self, request: CallRequest, now: datetime, *, batch_id: str | None = None,
                dispatch_delay: float = 0.0) -> SimCall:
        """A call in flight; a batch's calls are dispatched ``dispatch_delay`` simulated seconds after creation
        (or at their start_time, whichever is later)."""
        scenario = scenario_for(request.national)
        talk = min(scenario.talk_seconds, request.max_duration * 60)
        script = build_script(request, scenario, talk)
        due = now + (request.start_time - self._wall()) if request.start_time else now
        due = max(due, now + timedelta(seconds=dispatch_delay))
        call = SimCall(str(uuid.uuid4()), request, scenario, now, due, talk, script, self._next_line_id,
                       batch_id=batch_id)
        self._next_line_id += len(script)
        heapq.heappush(self._ends, (call.planned_end, len(self.calls), call.call_id))
        self.calls[call.call_id] = call
        if wants_live_events(call):
            self._live[call.call_id] = call
        return call

    def _check_limits(self, request: CallRequest, now: datetime) -> None:
        calls = list(self.calls.values())
        if any(c.request.to == request.to and seconds_between(now, c.created_at) < SAME_NUMBER_SECONDS for c in calls):
            raise SimError.flat(429, MSG_SAME_NUMBER)
        windows = ((self.plan.per_hour, 3600, "per hour"), (self.plan.per_day, 86400, "per day"))
        for cap, seconds, label in windows:
            if cap is not None and sum(seconds_between(now, c.created_at) < seconds for c in calls) >= cap:
                logger.info("plan %s: %d calls %s reached", self.plan.name, cap, label)
                raise SimError.flat(429, MSG_RATE_LIMIT)
        cap = self.plan.concurrency
        if cap is not None and sum(c.is_active(now) for c in calls) >= cap:
            logger.info("plan %s: %d concurrent calls reached", self.plan.name, cap)
            raise SimError.flat(429, MSG_RATE_LIMIT)

    # --- ending

    def _finish(self, call: SimCall, outcome: Outcome) -> None:
        call.outcome = outcome
        self.balance = round(self.balance - outcome.price, 6)
        self._ended.append(call)
        logger.info("simulated call %s ended: %s (%s s, $%s)", call.call_id, outcome.status,
                    outcome.connected_seconds, outcome.price)

    def stop_call(self, call_id: str) -> SimCall:
        call = self.calls.get(call_id)
        if call is None:
            raise SimError.flat(404, "SID not found for the given c_id.")
        if call.outcome is not None:
            raise SimError.flat(400, "Call has already ended.")
        self._finish(call, stopped_outcome(call, self.now(), self.plan))
        return call

    # --- reading

    def get_call(self, call_id: str) -> SimCall:
        call = self.calls.get(call_id)
        if call is None:
            raise call_not_found()
        return call

    def recording_url(self, call: SimCall) -> str | None:
        if not call.has_recording():
            return None
        return f"{self.base_url or f'http://{DEFAULT_HOST}:{DEFAULT_PORT}'}/v1/recordings/{call.call_id}"

    def details(self, call: SimCall, *, for_webhook: bool = False) -> dict[str, Any]:
        """The flat call object of ``GET /v1/calls/{id}`` (and, without c_id/status in transcripts, the webhook)."""
        return payloads.details(call, self.now(), self.clock.wall, recording_url=self.recording_url(call),
                                for_webhook=for_webhook)

    def list_item(self, call: SimCall) -> dict[str, Any]:
        return payloads.list_item(call, self.now(), self.clock.wall)

    def list_calls(self, query: Mapping[str, str]) -> dict[str, Any]:
        spec, now = ListQuery.parse(query), self.now()
        # Insertion order is creation order, and it breaks ties between calls created at the same instant.
        matching = spec.ordered([c for c in self.calls.values() if spec.matches(c, now, self.clock.wall)], now)
        page = matching[spec.start : spec.stop][: spec.limit]
        return {"total_count": len(matching), "count": len(page), "calls": [self.list_item(c) for c in page]}

    def recording(self, call_id: str) -> bytes | None:
        call = self.calls.get(call_id)
        if call is None or call.outcome is None or not call.has_recording():
            return None
        if call.audio is None:
            call.audio = render_wav(call.outcome.script, call.outcome.connected_seconds)
        return call.audio

    def corrected(self, call_id: str) -> dict[str, Any]:
        call = self.get_call(call_id)
        if call.outcome is None or not call.has_recording():
            raise SimError.flat(404, "No corrected transcript: the call was not recorded or has not completed.")
        return payloads.corrected(call, call.outcome.script, self.clock.wall)

    def me(self) -> dict[str, Any]:
        """Bland's documented fields, plus the plan and its caps (an assumption: Bland shows them in its
        dashboard, and documents no API field for them)."""
        plan = self.plan
        return {
            "status": "active",
            "billing": {"current_balance": self.balance, "refill_to": None},
            "total_calls": len(self.calls),
            "plan": {"name": plan.name, "daily_cap": plan.per_day, "hourly_cap": plan.per_hour,
                     "concurrency": plan.concurrency, "rate_per_minute": plan.rate_per_minute},
        }

    def analyze(self, call_id: str, body: object) -> dict[str, Any]:
        answered = analyze_call(self.get_call(call_id), body)
        self.balance = round(self.balance - answered["credits_used"], 6)
        return answered

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": iso(now),  # simulated: what /_sim/advance moves (timestamps shown to clients are wall times)
            "wall_now": iso(self.clock.wall(now)),
            "time_scale": self.clock.scale,
            "plan": self.plan.name,
            "balance": self.balance,
            "faults": self.faults.as_dict(),
            "base_url": self.base_url,
            "total_calls": len(self.calls),
            "batches": [{"batch_id": b.batch_id, "status": b.last_status, "calls": len(b.call_ids)}
                        for b in self.batches.batches.values()],
            "calls": [
                {
                    "call_id": call.call_id,
                    "to": call.request.to,
                    "scenario": call.scenario.name,
                    "queue_status": call.queue_status(now),
                    "status": call.outcome.status if call.outcome else None,
                    "completed": call.finished,
                    "due_at": iso(call.due_at),
                    "planned_end": iso(call.planned_end),
                }
                for call in self.calls.values()
            ],
        }

