"""Bland's v2 batches: one request places up to 1,000 calls that share a ``global`` config.

``POST /v2/batches/create`` ``{global: {task | pathway_id, ...any POST /v1/calls field but phone_number},
call_objects: [{phone_number, request_data?, metadata?, start_time?, ...}], description? (<= 60 chars,
"Untitled Batch"), status_webhook?}`` answers ``{"data": {"batch_id"}, "errors": null}``. Every call object
is merged over ``global`` and validated as ``POST /v1/calls`` would; one bad object rejects the batch (400,
``{"data": null, "errors": [{"error": "INVALID_CALL_OBJECT", "message": "call_objects[3]: ..."}]}``, every
bad object listed) and nothing is placed. An unknown ``voice`` is refused the same way.

Each call of a batch is an ordinary call (details, list with ``batch_id``, webhooks, transcript, recording).
They are dispatched ``batch_dispatch_rate`` calls per simulated second in the order given (or at their
``start_time``), not subject to the per-call POST limits of the plan (Bland paces a batch itself).
``POST /v2/batches/{id}/stop`` cancels the calls not dialled yet; calls already ringing or talking go on.
The batch's status (``dispatching``, ``in_progress``, ``waiting_for_scheduled_calls``, ``completed``,
``completed_partial`` once stopped) is posted to ``status_webhook`` when it changes (one attempt, as Bland).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from calls.providers.simulator.errors import SimError
from calls.providers.simulator.plans import MSG_BALANCE
from calls.providers.simulator.state import SimCall, iso
from calls.providers.simulator.validation import CallRequest, validate_call_request
from calls.providers.simulator.voices import is_known_voice

if TYPE_CHECKING:
    from calls.providers.simulator.account import Simulator

MAX_CALL_OBJECTS = 1000
MAX_DESCRIPTION = 60
FINAL_STATUSES = frozenset({"completed", "completed_partial"})


@dataclass
class SimBatch:
    batch_id: str
    created_at: datetime
    description: str
    global_body: dict[str, Any]
    call_objects: list[dict[str, Any]]
    call_ids: list[str]
    status_webhook: str | None
    stopped_at: datetime | None = None
    last_status: str = ""
    logs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class StatusEvent:
    """A batch status change to post to its ``status_webhook``."""

    url: str
    batch_id: str
    payload: dict[str, Any]


def _batch_error(problems: list[str]) -> SimError:
    return SimError(400, {"data": None, "errors": [{"error": "INVALID_CALL_OBJECT", "message": p} for p in problems]})


def _check_envelope(body: object) -> tuple[dict[str, Any], list[Any], str]:
    if not isinstance(body, dict):
        raise SimError.coded(400, "INVALID_REQUEST", "Request body must be a JSON object.")
    shared, objects, description = body.get("global"), body.get("call_objects"), body.get("description")
    problems = []
    if not isinstance(shared, dict):
        problems.append("global must be an object with task or pathway_id.")
    elif not shared.get("task") and not shared.get("pathway_id"):
        problems.append("Missing required parameter: global.task or global.pathway_id.")
    elif "phone_number" in shared:
        problems.append("global.phone_number is not allowed: each call object has its own phone_number.")
    if not isinstance(objects, list) or not 1 <= len(objects) <= MAX_CALL_OBJECTS:
        problems.append(f"call_objects must be a list of 1 to {MAX_CALL_OBJECTS} objects.")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        problems.append(f"description must be a string of at most {MAX_DESCRIPTION} characters.")
    if problems or not isinstance(shared, dict) or not isinstance(objects, list):
        raise SimError(400, {"data": None, "errors": [{"error": "INVALID_REQUEST", "message": p} for p in problems]})
    return shared, objects, description or "Untitled Batch"


def _validated(shared: dict[str, Any], objects: list[Any], wall_now: datetime) -> list[CallRequest]:
    requests, problems = [], []
    for index, item in enumerate(objects):
        if not isinstance(item, dict):
            problems.append(f"call_objects[{index}]: must be an object.")
            continue
        merged = {**shared, **item}
        voice = merged.get("voice")
        if isinstance(voice, str) and voice and not is_known_voice(voice):
            problems.append(f"call_objects[{index}]: Voice {voice!r} not found.")
        try:
            requests.append(validate_call_request(merged, wall_now=wall_now))
        except SimError as exc:
            listed = exc.body.get("errors") or [exc.body.get("message")]
            problems.extend(f"call_objects[{index}]: {problem}" for problem in listed)
    if problems:
        raise _batch_error(problems)
    return requests


class BatchBook:
    """The batches of one simulated account."""

    def __init__(self, simulator: Simulator) -> None:
        self._sim = simulator
        self.batches: dict[str, SimBatch] = {}
        self._events: list[StatusEvent] = []

    def create(self, body: object) -> SimBatch:
        shared, objects, description = _check_envelope(body)
        sim = self._sim
        requests = _validated(shared, objects, sim.wall_now())
        if sim.balance <= 0:
            raise SimError.coded(402, "INSUFFICIENT_BALANCE", MSG_BALANCE)
        now, batch_id = sim.now(), str(uuid.uuid4())
        rate = sim.options.batch_dispatch_rate
        calls = [sim.create_call(request, now, batch_id=batch_id, dispatch_delay=index / rate if rate else 0.0)
                 for index, request in enumerate(requests)]
        webhook = body.get("status_webhook") if isinstance(body, dict) else None
        batch = SimBatch(batch_id, now, description, dict(shared), [dict(o) for o in objects],
                         [c.call_id for c in calls], webhook if isinstance(webhook, str) and webhook else None)
        self.batches[batch_id] = batch
        self._log(batch, "batch_created", {"calls_total": len(calls)})
        self.refresh(batch)
        return batch

    def get(self, batch_id: str) -> SimBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise SimError.coded(404, "BATCH_NOT_FOUND", f"Batch {batch_id} not found.")
        return batch

    def calls(self, batch: SimBatch) -> list[SimCall]:
        return [self._sim.calls[call_id] for call_id in batch.call_ids]

    def stop(self, batch_id: str) -> SimBatch:
        """Cancel the calls of the batch that have not been dialled; the rest go on."""
        batch, now = self.get(batch_id), self._sim.now()
        stopped = [c for c in self.calls(batch) if c.outcome is None and not c.was_dialled(now)]
        for call in stopped:
            self._sim.stop_call(call.call_id)
        if batch.stopped_at is None:
            batch.stopped_at = now
            self._log(batch, "batch_stopped", {"calls_canceled": len(stopped)})
        self.refresh(batch)
        return batch

    def status(self, batch: SimBatch, now: datetime) -> str:
        pending = [c for c in self.calls(batch) if c.outcome is None]
        if not pending:
            return "completed_partial" if batch.stopped_at is not None else "completed"
        undialled = [c for c in pending if not c.was_dialled(now)]
        if undialled and len(undialled) == len(pending) and all(c.request.start_time for c in undialled):
            return "waiting_for_scheduled_calls"
        return "dispatching" if any(c.due_at > now for c in undialled) else "in_progress"

    def refresh_all(self) -> None:
        for batch in self.batches.values():
            if batch.last_status not in FINAL_STATUSES:
                self.refresh(batch)

    def refresh(self, batch: SimBatch) -> None:
        """Note a change of the batch's status (its log, and the status webhook if it has one)."""
        now = self._sim.now()
        status = self.status(batch, now)
        if status == batch.last_status:
            return
        batch.last_status = status
        payload: dict[str, Any] = {"batch_id": batch.batch_id, "status": status,
                                   "timestamp": iso(self._sim.clock.wall(now))}
        if status in FINAL_STATUSES:
            calls = self.calls(batch)
            ok = sum(1 for c in calls if c.outcome is not None and c.outcome.status == "completed")
            payload |= {"calls_total": len(calls), "calls_successful": ok, "calls_failed": len(calls) - ok}
        self._log(batch, "status_changed", payload)
        if batch.status_webhook:
            self._events.append(StatusEvent(batch.status_webhook, batch.batch_id, payload))

    def drain_events(self) -> list[StatusEvent]:
        events, self._events = self._events, []
        return events

    def _log(self, batch: SimBatch, event_type: str, payload: dict[str, Any]) -> None:
        batch.logs.append({"id": len(batch.logs) + 1, "batch_id": batch.batch_id, "org_id": "sim-org",
                           "event_type": event_type, "timestamp": iso(self._sim.clock.wall(self._sim.now())),
                           "payload": payload})

    # --- wire shapes

    def as_json(self, batch: SimBatch, *, with_calls: bool = True) -> dict[str, Any]:
        now = self._sim.now()
        calls = self.calls(batch)
        counts: dict[str, int] = {}
        for call in calls:
            key = call.outcome.status if call.outcome is not None else call.queue_status(now)
            counts[key] = counts.get(key, 0) + 1
        shared = batch.global_body
        body: dict[str, Any] = {
            "id": batch.batch_id, "batch_id": batch.batch_id, "user_id": "sim-user",
            "base_prompt": shared.get("task") or None, "pathway_id": shared.get("pathway_id") or None,
            "description": batch.description, "created_at": iso(self._sim.clock.wall(batch.created_at)),
            "status": self.status(batch, now), "call_count": len(calls), "call_status_counts": counts,
            "stopped_at": iso(self._sim.clock.wall(batch.stopped_at)) if batch.stopped_at else None,
        }
        if with_calls:
            body["call_objects"] = batch.call_objects
        return body

    def listing(self, take: int, skip: int) -> list[dict[str, Any]]:
        newest = list(self.batches.values())[::-1]
        return [self.as_json(batch, with_calls=False) for batch in newest[skip : skip + take]]
