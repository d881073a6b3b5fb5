"""A Bland AI simulator: an aiohttp server speaking the subset of Bland's v1 HTTP API that callmcp uses.

There is no Internet in development, CI or the demo, so the real Bland client (``calls/providers/bland.py``)
talks to this server over HTTP instead. It needs no Django: ``python -m calls.providers.simulator`` or
``manage.py bland_simulator`` runs it, and tests start it on a free port with ``BackgroundSimulator``.
State lives in memory; one process is one Bland account.

Endpoints (Bland's paths, fields, envelopes and error strings; see shared/reference/bland_api.md):
``POST /v1/calls``, ``GET /v1/calls``, ``GET /v1/calls/{id}``, ``POST /v1/calls/{id}/stop``,
``GET /v1/calls/{id}/correct``, ``GET /v1/calls/{id}/recording`` (legacy), ``GET /v1/recordings/{id}``,
``GET /v1/me``. Auth: the ``authorization`` header carries the key, raw or as ``Bearer <key>``; anything
else is 401 ``AUTH_FAILURE`` on every endpoint, unknown paths included.

Scenarios are chosen by the last two digits of the national number dialled (all numbers below pass
``phonenumbers.is_valid_number``; 555-01XX numbers are reserved for fiction)::

    ending   example          outcome
    00-09    +1 212 555 0100  human answers, ~45 s conversation, status completed, answered_by human
    10-19    +1 212 555 0110  voicemail, ~20 s, status completed, answered_by voicemail
    20-29    +1 212 555 0120  busy: status busy, "Call failed. The number you dialed is busy. Please try again later."
    30-39    +1 212 555 0130  no answer after 30 s of ringing: status no-answer, answered_by no-answer
    40-49    +1 212 555 0140  failed: status failed, "Call failed. The number you dialed is not found."
    50-59    +1 212 555 0150  long call: 10 minutes, or until max_duration if that is shorter
    60-99    +1 212 555 0199  human answers (as 00-09)

Timeline, in simulated seconds: ``new`` at creation, ``queued`` after 1 s (a scheduled call stays queued
until its start_time), ``allocated`` 1 s later, ``started`` (dialling; ``started_at``) 1 s later, then
ringing, talking and ``complete``. The simulated clock runs ``time_scale`` simulated seconds per real
second (default 10; 0 freezes it) and ``POST /_sim/advance`` moves it forward, which is how tests run.

Money: each call costs max($0.015, connected minutes x the plan's rate), prorated to the second; a call
cancelled before dialling costs nothing. The price is taken from the balance when the call ends;
``POST /v1/calls`` answers 402 ``Insufficient balance.`` once the balance is <= 0.

Plans (``plan`` option; caps from Bland's billing page): start 100/day, 100/hour, 10 concurrent, $0.14/min;
build 2,000/day, 1,000/hour, 50, $0.12; scale 5,000/day, 1,000/hour, 100, $0.11; enterprise unlimited,
$0.09. Past a day or hour cap (rolling windows) or the concurrency cap, ``POST /v1/calls`` answers 429
``Rate limit exceeded``; a second call to the same number within 10 s answers Bland's 429 message. These
windows run on the simulated clock.

Control endpoints, without auth (the server binds 127.0.0.1 by default) and never faulted:
``GET /_sim/state``, ``POST /_sim/faults`` ``{latency_ms, error_rate, outage}`` (partial updates),
``POST /_sim/advance`` ``{seconds}``, ``POST /_sim/reset`` ``{balance?, plan?, time_scale?}``.
Faults: ``latency_ms`` delays every API response; ``error_rate`` answers that fraction of API requests
with 500/503 (deterministically: with 0.5 every second request fails) before the handler runs, so
nothing is created; ``outage`` answers every API request 503.

Simulator choices where Bland is silent or where we relax it:
- webhooks must be ``https://`` as on Bland, except that ``http://`` is accepted for loopback hosts
  (127.0.0.1, localhost, ::1) so a local callmcp can receive them. The post-call webhook POSTs the
  details object with ``X-Webhook-Signature`` = hex HMAC-SHA256(secret, raw body) and is retried on
  non-2xx or connection errors (``webhook_retries`` times, exponential backoff from ``webhook_backoff`` s).
- ``start_time`` is read against the wall clock (the client's "now"); the delay it asks for then runs on
  the simulated clock. A past time means now; less than 5 minutes ahead is the documented 400.
- an invalid ``phone_number`` answers ``Invalid phone number.`` (Bland does not document the string).
- call not found is 404 ``{"status":"error","message":"Call not found."}``; stopping a call that already
  ended is 400 ``Call has already ended.``; ``/correct`` for a call without a recording is 404.
- ``/v1/recordings/{id}`` always serves WAV, even when ``content-type: audio/mpeg`` is asked for
  (it then adds an ``X-Simulator-Note`` header); the audio is a few seconds of tones, one per utterance.
- ``status``, ``price``, ``call_length``, ``summary`` are null until the call ends; ``transcripts`` grow
  while it is live; ``end_at`` is the max_duration deadline while live and the real end afterwards.
- ``sort_by`` is accepted but the list is always ordered by ``created_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import logging
import math
import re
import struct
import threading
import time
import uuid
import wave
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import phonenumbers
from aiohttp import web

__all__ = [
    "PLANS",
    "BackgroundSimulator",
    "Plan",
    "SimClock",
    "Simulator",
    "SimulatorOptions",
    "build_app",
    "run",
]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_FROM = "+14155550100"
MIN_PRICE = 0.015
SAME_NUMBER_SECONDS = 10.0
MIN_SCHEDULE_SECONDS = 300.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SENSITIVE_NUMBERS = frozenset({"911", "988", "112", "999", "933"})
VOICEMAIL_ACTIONS = frozenset({"hangup", "leave_message", "ignore", "leave_message_and_sms"})

MSG_SAME_NUMBER = "Calls can only be sent every 10 seconds to the same number. Please try again in a few seconds."
MSG_RATE_LIMIT = "Rate limit exceeded"
MSG_BALANCE = "Insufficient balance."
MSG_BUSY = "Call failed. The number you dialed is busy. Please try again later."
MSG_NOT_FOUND = "Call failed. The number you dialed is not found."


# --- plans and scenarios -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Bland's plan caps (billing page, effective 2025-12-05) and per-minute price. None = unlimited."""

    name: str
    per_day: int | None
    per_hour: int | None
    concurrency: int | None
    rate_per_minute: float


PLANS: dict[str, Plan] = {
    "start": Plan("start", 100, 100, 10, 0.14),
    "build": Plan("build", 2000, 1000, 50, 0.12),
    "scale": Plan("scale", 5000, 1000, 100, 0.11),
    "enterprise": Plan("enterprise", None, None, None, 0.09),
}


@dataclass(frozen=True)
class Scenario:
    name: str
    answered_by: str
    status: str
    ring_seconds: float
    talk_seconds: float  # 0 for calls that never connect
    error_message: str | None
    disposition: str
    summary: str

    @property
    def connects(self) -> bool:
        return self.talk_seconds > 0


HUMAN = Scenario("human", "human", "completed", 5, 45, None, "COMPLETED_ACTION", "")
VOICEMAIL = Scenario("voicemail", "voicemail", "completed", 8, 20, None, "NO_CONTACT_MADE", "")
BUSY = Scenario("busy", "unknown", "busy", 2, 0, MSG_BUSY, "BUSY", "The line was busy; the call did not connect.")
NO_ANSWER = Scenario("no-answer", "no-answer", "no-answer", 30, 0, None, "NO_ANSWER", "Nobody answered the call.")
FAILED = Scenario("failed", "unknown", "failed", 1, 0, MSG_NOT_FOUND, "FAILED", "The call failed: number not found.")
LONG = Scenario("long", "human", "completed", 5, 600, None, "COMPLETED_ACTION", "")
SCENARIOS_BY_DECADE: dict[int, Scenario] = {0: HUMAN, 1: VOICEMAIL, 2: BUSY, 3: NO_ANSWER, 4: FAILED, 5: LONG}


def scenario_for(national_number: str) -> Scenario:
    """The scenario of a number: by the tens digit of its last two digits, human when unlisted."""
    tail = national_number[-2:]
    return SCENARIOS_BY_DECADE.get(int(tail) // 10, HUMAN) if tail.isdigit() else HUMAN


# --- options, faults, clock ---------------------------------------------------------------------------


@dataclass
class SimulatorOptions:
    api_key: str = "sim-key"
    webhook_secret: str = "simulator-webhook-secret"  # noqa: S105 - the simulator's public default, as in settings
    time_scale: float = 10.0
    plan: str = "start"
    balance: float = 50.0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    public_url: str | None = None  # base of recording_url; default: the address the server listens on
    webhook_retries: int = 3
    webhook_backoff: float = 0.5
    webhook_timeout: float = 10.0
    tick_interval: float = 0.1

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}; one of {', '.join(PLANS)}")
        if self.time_scale < 0 or self.latency_ms < 0 or self.webhook_retries < 0 or self.tick_interval <= 0:
            raise ValueError("time_scale, latency_ms and webhook_retries must be >= 0, tick_interval > 0")
        if not 0 <= self.error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    _carry: float = 0.0
    _failures: int = 0

    def next_failure(self) -> int | None:
        """The status the next API request fails with, or None. Deterministic: a running sum of the rate."""
        if self.outage:
            return 503
        self._carry += self.error_rate
        if self._carry < 1 - 1e-9:
            return None
        self._carry -= 1
        self._failures += 1
        return 503 if self._failures % 2 else 500

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate, "outage": self.outage}


class SimClock:
    """Simulated UTC time: starts at the wall clock, runs ``scale`` times faster, can be advanced."""

    def __init__(
        self, scale: float = 10.0, *, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._monotonic = monotonic
        self._scale = scale
        self._base_sim = start or datetime.now(UTC)
        self._base_real = monotonic()

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> datetime:
        return self._base_sim + timedelta(seconds=(self._monotonic() - self._base_real) * self._scale)

    def advance(self, seconds: float) -> None:
        self._base_sim += timedelta(seconds=seconds)

    def set_scale(self, scale: float) -> None:
        self._base_sim, self._base_real, self._scale = self.now(), self._monotonic(), scale

    def restart(self, start: datetime) -> None:
        self._base_sim, self._base_real = start, self._monotonic()


# --- errors on the wire --------------------------------------------------------------------------------


class SimError(Exception):
    """An answer that is not 2xx, with Bland's body for it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body

    @classmethod
    def flat(cls, status: int, message: str) -> SimError:
        return cls(status, {"status": "error", "message": message})

    @classmethod
    def coded(cls, status: int, code: str, message: str) -> SimError:
        return cls(status, {"data": None, "errors": [{"error": code, "message": message}]})

    @classmethod
    def invalid(cls, problems: Sequence[str]) -> SimError:
        listed = json.dumps(list(problems), separators=(",", ":"))
        message = f"Invalid parameters. Error: {listed}"
        return cls(400, {"status": "error", "message": message, "errors": list(problems)})


def auth_failure() -> SimError:
    return SimError.coded(401, "AUTH_FAILURE", "Unauthorized")


def call_not_found() -> SimError:
    return SimError.flat(404, "Call not found.")


# --- validating POST /v1/calls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRequest:
    to: str  # E.164
    national: str
    region: str | None
    task: str
    pathway_id: str | None
    pathway_version: Any
    first_sentence: str
    voice: str | None
    from_number: str
    max_duration: float  # minutes
    record: bool
    wait_for_greeting: bool
    metadata: dict[str, Any]
    request_data: dict[str, Any]
    webhook: str | None
    language: str
    timezone: str
    dispositions: tuple[str, ...]
    voicemail: dict[str, Any] | None
    start_time: datetime | None


def parse_number(raw: object) -> phonenumbers.PhoneNumber | None:
    """A dialable number or None. Without '+' the number is a 10-digit US one, as Bland reads it."""
    text = str(raw).strip()
    if not text.startswith("+") and len(re.sub(r"\D", "", text)) != 10:
        return None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_start_time(value: object) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS [-HH:MM]`` or ISO 8601; without an offset it is UTC. None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    # Bland's form puts a space before the offset; ISO does not.
    text = re.sub(r"\s+([+-]\d{2}:?\d{2})$", r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _webhook_ok(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith("https://"):
        return bool(urlsplit(value).hostname)
    return value.startswith("http://") and urlsplit(value).hostname in LOOPBACK_HOSTS


def _present(body: Mapping[str, Any], key: str) -> bool:
    return body.get(key) is not None


class _Validator:
    """Collects Bland's error strings for one request body; ``problems`` empty means valid."""

    def __init__(self, body: Mapping[str, Any], *, wall_now: datetime) -> None:
        self.body = body
        self.wall_now = wall_now
        self.problems: list[str] = []
        self.number: phonenumbers.PhoneNumber | None = None
        self.start_time: datetime | None = None
        self.from_number: str | None = None

    def run(self) -> None:
        for check in (
            self._phone, self._task, self._booleans, self._max_duration, self._objects, self._strings,
            self._from, self._keywords, self._voicemail, self._start_time,
        ):
            check()

    def _phone(self) -> None:
        raw = self.body.get("phone_number")
        if raw is None or raw == "":
            self.problems.append("Missing required parameter: phone_number.")
        elif isinstance(raw, bool) or not isinstance(raw, str | int):
            self.problems.append("Phone number must be a string or number.")
        elif re.sub(r"\D", "", str(raw)) in SENSITIVE_NUMBERS:
            self.problems.append("Cannot dial sensitive numbers. More attempts will result in being blocked.")
        else:
            self.number = parse_number(raw)
            if self.number is None:
                self.problems.append("Invalid phone number.")

    def _task(self) -> None:
        task = self.body.get("task")
        if task is not None and not isinstance(task, str):
            self.problems.append("Task must be a string.")
        elif not task and not self.body.get("pathway_id"):
            self.problems.append("Missing required parameter: task.")

    def _booleans(self) -> None:
        if _present(self.body, "record") and not isinstance(self.body["record"], bool):
            self.problems.append("Record must be a boolean")
        if _present(self.body, "wait_for_greeting") and not isinstance(self.body["wait_for_greeting"], bool):
            self.problems.append("wait_for_greeting must be a boolean.")

    def _max_duration(self) -> None:
        if not _present(self.body, "max_duration"):
            return
        value = self.body["max_duration"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or not math.isfinite(value):
            self.problems.append("max_duration must be a positive number.")
        elif value < 1:
            self.problems.append("Max duration must be at least 1")
        elif value > 720:
            self.problems.append("max_duration must be at most 12 hours.")

    def _objects(self) -> None:
        for key in ("request_data", "metadata"):
            if _present(self.body, key) and not isinstance(self.body[key], dict):
                self.problems.append(f"{key} must be an object.")
        if _present(self.body, "transfer_list") and not isinstance(self.body["transfer_list"], dict):
            self.problems.append("Transfer list must be an object.")

    def _strings(self) -> None:
        if _present(self.body, "voice") and not isinstance(self.body["voice"], str):
            self.problems.append("Voice must be a string.")
        if _present(self.body, "webhook") and not _webhook_ok(self.body["webhook"]):
            self.problems.append("webhook must be a string that starts with https://.")
        prompt = self.body.get("summary_prompt")
        if prompt is not None and (not isinstance(prompt, str) or len(prompt) >= 2000):
            self.problems.append("Summary prompt must be less than 2000 characters.")

    def _from(self) -> None:
        if not _present(self.body, "from"):
            return
        number = parse_number(self.body["from"]) if isinstance(self.body["from"], str) else None
        if number is None:
            self.problems.append("Invalid from phone number.")
        else:
            self.from_number = e164(number)

    def _keywords(self) -> None:
        keywords = self.body.get("keywords")
        if keywords is None:
            return
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            self.problems.append("Keywords must be an array of strings.")
        elif len(keywords) > 20:
            self.problems.append("At most 20 keywords can be added.")

    def _voicemail(self) -> None:
        voicemail = self.body.get("voicemail")
        action = voicemail.get("action") if isinstance(voicemail, dict) else self.body.get("voicemail_action")
        if action is not None and action not in VOICEMAIL_ACTIONS:
            self.problems.append("Invalid voicemail action. Must be one of: hangup, leave_message, ignore")

    def _start_time(self) -> None:
        if not _present(self.body, "start_time"):
            return
        parsed = parse_start_time(self.body["start_time"])
        if parsed is None:
            self.problems.append("Invalid start_time.")
            return
        ahead = (parsed - self.wall_now).total_seconds()
        if 0 < ahead < MIN_SCHEDULE_SECONDS:
            self.problems.append("Calls must be scheduled at least 5 minutes in advance, or more")
        elif ahead > 0:
            self.start_time = parsed


def validate_call_request(body: object, *, wall_now: datetime) -> CallRequest:
    """The request, or SimError 400 with every problem in Bland's ``Invalid parameters`` envelope."""
    if not isinstance(body, dict):
        raise SimError.invalid(["Request body must be a JSON object."])
    validator = _Validator(body, wall_now=wall_now)
    validator.run()
    if validator.problems or validator.number is None:
        raise SimError.invalid(validator.problems)
    number = validator.number
    dispositions = body.get("dispositions")
    return CallRequest(
        to=e164(number),
        national=str(number.national_number),
        region=phonenumbers.region_code_for_number(number),
        task=body.get("task") or "",
        pathway_id=str(body["pathway_id"]) if body.get("pathway_id") else None,
        pathway_version=body.get("pathway_version"),
        first_sentence=str(body.get("first_sentence") or ""),
        voice=body.get("voice"),
        from_number=validator.from_number or DEFAULT_FROM,
        max_duration=float(body.get("max_duration") or 30),
        record=bool(body.get("record")),
        wait_for_greeting=bool(body.get("wait_for_greeting")),
        metadata=dict(body.get("metadata") or {}),
        request_data=dict(body.get("request_data") or {}),
        webhook=body.get("webhook"),
        language=str(body.get("language") or "babel-en"),
        timezone=str(body.get("timezone") or "America/Los_Angeles"),
        dispositions=tuple(str(d) for d in dispositions) if isinstance(dispositions, list) else (),
        voicemail=body.get("voicemail") if isinstance(body.get("voicemail"), dict) else None,
        start_time=validator.start_time,
    )


# --- the conversation script -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    role: str  # user | assistant | agent-action
    text: str
    start: float  # seconds after the callee picked up
    end: float


def _gist(request: CallRequest) -> str:
    if not request.task:
        return f"I'm following conversation pathway {request.pathway_id}."
    first = re.split(r"(?<=[.!?])\s+|\n", request.task.strip(), maxsplit=1)[0].strip()
    if len(first) > 160:
        first = first[:157].rstrip() + "..."
    return first if first.endswith((".", "!", "?")) else first + "."


def _opener(request: CallRequest) -> str:
    return request.first_sentence or "Hello! This is an AI assistant calling on someone's behalf."


def _conversation(request: CallRequest, talk: float) -> list[tuple[str, str]]:
    gist = _gist(request)
    turns = [("assistant", _opener(request)), ("user", "Hi. Sure, what is this about?")]
    if request.wait_for_greeting:
        turns = [("user", "Hello?"), ("assistant", _opener(request)), ("user", "Sure, what is this about?")]
    turns += [("assistant", f"I'm calling about this: {gist}"), ("user", "Okay, I understand. Yes, that works for me.")]
    for _ in range(min(6, int(talk // 90))):
        turns += [("user", "Could you go over the details once more?"), ("assistant", f"Of course. {gist}")]
    turns += [
        ("assistant", "Perfect. Is there anything else I can help you with?"),
        ("user", "No, that's all. Thank you!"),
        ("assistant", "Thank you for your time. Goodbye!"),
    ]
    return turns


def _voicemail_turns(request: CallRequest) -> list[tuple[str, str]]:
    turns = [("user", "Hi, you've reached my voicemail. Please leave a message after the tone.")]
    voicemail = request.voicemail or {}
    if voicemail.get("action") in ("hangup", "ignore"):
        return turns
    message = voicemail.get("message") or f"{_opener(request)} I'm calling about this: {_gist(request)}"
    return [*turns, ("assistant", str(message))]


def build_script(request: CallRequest, scenario: Scenario, talk: float) -> tuple[Line, ...]:
    """The whole conversation, spread evenly over ``talk`` seconds and closed by the agent hanging up."""
    if not scenario.connects:
        return ()
    turns = _voicemail_turns(request) if scenario is VOICEMAIL else _conversation(request, talk)
    slot = talk / len(turns)
    lines = [Line(role, text, round(i * slot, 3), round((i + 0.85) * slot, 3)) for i, (role, text) in enumerate(turns)]
    return (*lines, Line("agent-action", "Ended call", talk, talk))


def cut_script(script: Sequence[Line], at: float) -> tuple[Line, ...]:
    """What was said before ``at`` seconds, then the hang-up (a call stopped mid-way)."""
    said = (line for line in script if line.role != "agent-action" and line.end <= at)
    return (*said, Line("agent-action", "Ended call", at, at))


# --- audio ---------------------------------------------------------------------------------------------------

TONES = {"user": 440.0, "assistant": 660.0, "agent-action": 880.0}


def render_wav(script: Sequence[Line], *, rate: int = 8000, max_tones: int = 10) -> bytes:
    """A small real WAV (mono, 16-bit): one 0.35 s tone per utterance, a different pitch per speaker."""
    samples: list[int] = []
    for line in list(script)[:max_tones] or [Line("agent-action", "", 0, 0)]:
        pitch = TONES.get(line.role, 550.0)
        samples += [int(9000 * math.sin(2 * math.pi * pitch * n / rate)) for n in range(int(rate * 0.35))]
        samples += [0] * int(rate * 0.05)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


# --- one call -------------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _seconds(moment: datetime, since: datetime) -> float:
    return (moment - since).total_seconds()


@dataclass
class Outcome:
    """How a call ended; set once."""

    status: str
    answered_by: str | None
    error_message: str | None
    connected_seconds: int
    script: tuple[Line, ...]
    ended_at: datetime
    ended_by: str | None
    disposition: str
    summary: str
    price: float


@dataclass
class SimCall:
    call_id: str
    request: CallRequest
    scenario: Scenario
    created_at: datetime
    due_at: datetime
    talk_seconds: float
    script: tuple[Line, ...]
    first_line_id: int
    transcript_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    outcome: Outcome | None = None
    audio: bytes | None = None

    # the planned timeline
    @property
    def queued_at(self) -> datetime:
        return self.created_at + timedelta(seconds=1)

    @property
    def allocated_at(self) -> datetime:
        return max(self.created_at + timedelta(seconds=2), self.due_at)

    @property
    def started_at(self) -> datetime:
        return self.allocated_at + timedelta(seconds=1)

    @property
    def connect_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.scenario.ring_seconds)

    @property
    def planned_end(self) -> datetime:
        return self.connect_at + timedelta(seconds=self.talk_seconds)

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def queue_status(self, now: datetime) -> str:
        if self.outcome is not None:
            return "complete"
        phases = (("started", self.started_at), ("allocated", self.allocated_at), ("queued", self.queued_at))
        return next((status for status, since in phases if now >= since), "new")

    def is_active(self, now: datetime) -> bool:
        """Counts towards concurrency: placed, not ended and not waiting for a future start_time."""
        return self.outcome is None and self.due_at <= now

    def was_dialled(self, now: datetime) -> bool:
        return now >= self.started_at

    def visible_lines(self, now: datetime) -> tuple[Line, ...]:
        if self.outcome is not None:
            return self.outcome.script
        if now < self.connect_at:
            return ()
        elapsed = _seconds(now, self.connect_at)
        return tuple(line for line in self.script if line.role != "agent-action" and line.end <= elapsed)

    def answered_by(self, now: datetime) -> str | None:
        if self.outcome is not None:
            return self.outcome.answered_by
        # Bland decides from the first 5 seconds after pick-up.
        if self.scenario.connects and now >= self.connect_at + timedelta(seconds=5):
            return self.scenario.answered_by
        return None

    def has_recording(self) -> bool:
        return self.request.record and self.outcome is not None and self.outcome.connected_seconds > 0


def _line_id(call: SimCall, line: Line, index: int) -> int:
    if line.role == "agent-action":
        return call.first_line_id + len(call.script) - 1
    return call.first_line_id + index


def transcript_items(call: SimCall, lines: Sequence[Line], *, for_webhook: bool = False) -> list[dict[str, Any]]:
    items = []
    for index, line in enumerate(lines):
        item: dict[str, Any] = {
            "id": _line_id(call, line, index),
            "created_at": _iso(call.connect_at + timedelta(seconds=line.end)),
            "text": line.text,
            "user": line.role,
        }
        if not for_webhook:
            item |= {"c_id": call.call_id, "status": None}
        item["transcript_id"] = call.transcript_id
        items.append(item)
    return items


def concatenated(lines: Sequence[Line]) -> str:
    """Bland's ``concatenated_transcript``: ``"user: Hello? \\n assistant: Hi! \\n agent-action: Ended call \\n "``."""
    return "".join(f"{line.role}: {line.text} \n " for line in lines)


def _variables(call: SimCall, now: datetime) -> dict[str, Any]:
    request = call.request
    return {
        "now": now.strftime("%A, %B %d, %Y %I:%M:%S %p"),
        "now_utc": _iso(now),
        "from": request.from_number,
        "to": request.to,
        "short_from": request.from_number[-10:],
        "short_to": request.national,
        "call_id": call.call_id,
        "phone_number": request.to,
        "country": request.region,
        "language": request.language,
        "timestamp": _iso(call.created_at),
        "timezone": request.timezone,
        **request.request_data,
    }


# --- the account -----------------------------------------------------------------------------------------------

Dispatch = Callable[[SimCall], None]


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
        self.faults = Faults(self.options.latency_ms, self.options.error_rate, self.options.outage)
        self.clock.restart(self._wall())
        self.clock.set_scale(self.options.time_scale if time_scale is None else time_scale)
        self.calls: dict[str, SimCall] = {}
        self._ended: list[SimCall] = []
        self._next_line_id = 1

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> list[str]:
        """Move the simulated clock forward; the ids of the calls that ended on the way."""
        self.clock.advance(seconds)
        return self.tick()

    def tick(self) -> list[str]:
        """End every call whose planned end has passed; the ids of those that ended now."""
        now = self.now()
        ended = [call for call in self.calls.values() if call.outcome is None and call.planned_end <= now]
        for call in ended:
            self._finish(call, self._natural_outcome(call))
        return [call.call_id for call in ended]

    def drain_ended(self) -> list[SimCall]:
        """Calls that ended since the last drain (the server posts their webhooks)."""
        ended, self._ended = self._ended, []
        return ended

    # --- placing

    def place_call(self, body: object) -> SimCall:
        request = validate_call_request(body, wall_now=self._wall())
        now = self.now()
        if self.balance <= 0:
            raise SimError.flat(402, MSG_BALANCE)
        self._check_limits(request, now)
        scenario = scenario_for(request.national)
        talk = min(scenario.talk_seconds, request.max_duration * 60)
        script = build_script(request, scenario, talk)
        due = now + (request.start_time - self._wall()) if request.start_time else now
        call = SimCall(str(uuid.uuid4()), request, scenario, now, due, talk, script, self._next_line_id)
        self._next_line_id += len(script)
        self.calls[call.call_id] = call
        logger.info("simulated call %s to %s queued (%s)", call.call_id, request.to, scenario.name)
        return call

    def _check_limits(self, request: CallRequest, now: datetime) -> None:
        calls = list(self.calls.values())
        if any(c.request.to == request.to and _seconds(now, c.created_at) < SAME_NUMBER_SECONDS for c in calls):
            raise SimError.flat(429, MSG_SAME_NUMBER)
        windows = ((self.plan.per_hour, 3600, "per hour"), (self.plan.per_day, 86400, "per day"))
        for cap, seconds, label in windows:
            if cap is not None and sum(_seconds(now, c.created_at) < seconds for c in calls) >= cap:
                logger.info("plan %s: %d calls %s reached", self.plan.name, cap, label)
                raise SimError.flat(429, MSG_RATE_LIMIT)
        cap = self.plan.concurrency
        if cap is not None and sum(c.is_active(now) for c in calls) >= cap:
            logger.info("plan %s: %d concurrent calls reached", self.plan.name, cap)
            raise SimError.flat(429, MSG_RATE_LIMIT)

    # --- ending

    def _price(self, connected_seconds: int) -> float:
        return round(max(MIN_PRICE, connected_seconds / 60 * self.plan.rate_per_minute), 6)

    def _summary(self, call: SimCall, connected: int, *, stopped: bool) -> str:
        scenario, gist = call.scenario, _gist(call.request)
        if scenario is VOICEMAIL:
            text = f"The call to {call.request.to} reached voicemail; the assistant left a message. Topic: {gist}"
        elif scenario.connects:
            text = f"The assistant called {call.request.to} and the callee answered. Topic: {gist}"
            text += " The callee agreed and the assistant ended the call politely." if not stopped else ""
        else:
            text = scenario.summary
        return f"{text} The call was ended early by an API request after {connected} seconds." if stopped else text

    def _disposition(self, call: SimCall) -> str:
        if call.scenario.answered_by == "human" and call.request.dispositions:
            return call.request.dispositions[0]
        return call.scenario.disposition

    def _natural_outcome(self, call: SimCall) -> Outcome:
        scenario, connected = call.scenario, int(call.talk_seconds)
        return Outcome(
            status=scenario.status,
            answered_by=scenario.answered_by,
            error_message=scenario.error_message,
            connected_seconds=connected,
            script=call.script,
            ended_at=call.planned_end,
            ended_by="ASSISTANT" if scenario.connects else None,
            disposition=self._disposition(call),
            summary=self._summary(call, connected, stopped=False),
            price=self._price(connected),  # the minimum applies to unanswered attempts too
        )

    def _stopped_outcome(self, call: SimCall, now: datetime) -> Outcome:
        if not call.scenario.connects or now < call.connect_at:
            dialled = call.was_dialled(now)
            return Outcome(
                status="canceled", answered_by=None, error_message=None, connected_seconds=0, script=(),
                ended_at=now, ended_by=None, disposition="CANCELED",
                summary="The call was canceled before it connected.", price=self._price(0) if dialled else 0.0,
            )
        connected = math.ceil(_seconds(now, call.connect_at) - 1e-9)
        return Outcome(
            status="completed",
            answered_by=call.scenario.answered_by,
            error_message=None,
            connected_seconds=connected,
            script=cut_script(call.script, _seconds(now, call.connect_at)),
            ended_at=now,
            ended_by="ASSISTANT",
            disposition=self._disposition(call),
            summary=self._summary(call, connected, stopped=True),
            price=self._price(connected),
        )

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
        self._finish(call, self._stopped_outcome(call, self.now()))
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
        now, request, outcome = self.now(), call.request, call.outcome
        lines = call.visible_lines(now)
        started = call.started_at if call.was_dialled(now) else None
        if outcome is not None:
            end_at: datetime | None = outcome.ended_at if started else None
        else:
            end_at = started + timedelta(minutes=request.max_duration) if started else None
        return {
            "call_id": call.call_id,
            "c_id": call.call_id,
            "call_length": round(outcome.connected_seconds / 60, 4) if outcome else None,
            "corrected_duration": str(outcome.connected_seconds) if outcome else None,
            "batch_id": None,
            "to": request.to,
            "from": request.from_number,
            "request_data": request.request_data,
            "completed": outcome is not None,
            "inbound": False,
            "created_at": _iso(call.created_at),
            "started_at": _iso(started),
            "end_at": _iso(end_at),
            "queue_status": call.queue_status(now),
            "status": outcome.status if outcome else None,
            "error_message": outcome.error_message if outcome else None,
            "answered_by": call.answered_by(now),
            "endpoint_url": "api.prod.bland.ai",
            "max_duration": request.max_duration,
            "variables": _variables(call, now),
            "record": request.record,
            "recording_url": self.recording_url(call),
            "recording_expiration": None,
            "metadata": request.metadata,
            "summary": outcome.summary if outcome else None,
            "price": outcome.price if outcome else None,
            "local_dialing": False,
            "call_ended_by": outcome.ended_by if outcome else None,
            "disposition_tag": outcome.disposition if outcome else None,
            "pathway_id": request.pathway_id,
            "pathway_version": request.pathway_version,
            "pathway_logs": None,
            "analysis": None,
            "concatenated_transcript": concatenated(lines),
            "transcripts": transcript_items(call, lines, for_webhook=for_webhook),
            "transferred_to": None,
            "transferred_at": None,
            "citations": [],
            "warm_transfer_call": None,
            "is_proxy_agent_call": False,
        }

    def list_item(self, call: SimCall) -> dict[str, Any]:
        outcome, now = call.outcome, self.now()
        return {
            "call_id": call.call_id,
            "created_at": _iso(call.created_at),
            "call_length": round(outcome.connected_seconds / 60, 4) if outcome else None,
            "to": call.request.to,
            "from": call.request.from_number,
            "completed": outcome is not None,
            "queue_status": call.queue_status(now),
            "error_message": outcome.error_message if outcome else None,
            "answered_by": call.answered_by(now),
            "batch_id": None,
        }

    def list_calls(self, query: Mapping[str, str]) -> dict[str, Any]:
        spec = ListQuery.parse(query)
        # Insertion order is creation order, and it breaks ties between calls created at the same instant.
        matching = [call for call in self.calls.values() if spec.matches(call, self.now())]
        if not spec.ascending:
            matching.reverse()
        page = matching[spec.start : spec.stop][: spec.limit]
        return {"total_count": len(matching), "count": len(page), "calls": [self.list_item(c) for c in page]}

    def recording(self, call_id: str) -> bytes | None:
        call = self.calls.get(call_id)
        if call is None or call.outcome is None or not call.has_recording():
            return None
        if call.audio is None:
            call.audio = render_wav(call.outcome.script)
        return call.audio

    def corrected(self, call_id: str) -> dict[str, Any]:
        call = self.get_call(call_id)
        if call.outcome is None or not call.has_recording():
            raise SimError.flat(404, "No corrected transcript: the call was not recorded or has not completed.")
        lines = call.outcome.script
        speech = [line for line in lines if line.role != "agent-action"]
        return {
            "status": "success",
            "corrected": [
                {
                    "start": line.start, "end": line.end, "text": f" {line.text}",
                    "speaker": 1 if line.role == "user" else 2, "speaker_label": line.role,
                    "confidence": round(0.95 - 0.03 * (index % 5), 3),
                }
                for index, line in enumerate(speech)
            ],
            "aligned": [
                {"start": line.start, "end": line.end, "text": line.text, "speaker": line.role, "similarity": 1.0}
                for line in speech
            ],
            "original": [
                {k: item[k] for k in ("id", "created_at", "text", "user", "c_id")}
                for item in transcript_items(call, lines)
            ],
        }

    def me(self) -> dict[str, Any]:
        return {
            "status": "active",
            "billing": {"current_balance": self.balance, "refill_to": None},
            "total_calls": len(self.calls),
        }

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": _iso(now),
            "time_scale": self.clock.scale,
            "plan": self.plan.name,
            "balance": self.balance,
            "faults": self.faults.as_dict(),
            "base_url": self.base_url,
            "total_calls": len(self.calls),
            "calls": [
                {
                    "call_id": call.call_id,
                    "to": call.request.to,
                    "scenario": call.scenario.name,
                    "queue_status": call.queue_status(now),
                    "status": call.outcome.status if call.outcome else None,
                    "completed": call.finished,
                    "due_at": _iso(call.due_at),
                    "planned_end": _iso(call.planned_end),
                }
                for call in self.calls.values()
            ],
        }


# --- GET /v1/calls filters ------------------------------------------------------------------------------


def _query_bool(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise SimError.flat(400, f"Invalid {name}: must be true or false.")


def _query_number(value: str | None, name: str, kind: Callable[[str], Any]) -> Any:
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except ValueError:
        raise SimError.flat(400, f"Invalid {name}.") from None
    if number < 0:
        raise SimError.flat(400, f"Invalid {name}.")
    return number


def _query_moment(value: str | None, name: str, tz: zoneinfo.ZoneInfo, *, end: bool) -> datetime | None:
    """A bound on created_at: a date means the day's start (or, as an end, the next day's start) in ``tz``."""
    if value is None or value == "":
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise SimError.flat(400, f"Invalid {name}.") from None
        moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SimError.flat(400, f"Invalid {name}.") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=tz)
    return moment + timedelta(microseconds=1) if end else moment


def _normalised(value: str | None) -> str | None:
    if not value:
        return None
    number = parse_number(value)
    return e164(number) if number else value


@dataclass(frozen=True)
class ListQuery:
    from_number: str | None = None
    to_number: str | None = None
    start: int | None = None
    stop: int | None = None
    limit: int = 1000
    ascending: bool = False
    after: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    completed: bool | None = None
    answered_by: str | None = None
    duration_gt: float | None = None
    duration_lt: float | None = None
    inbound: bool | None = None
    batch_id: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ListQuery:
        tz_name = query.get("timezone") or "UTC"
        try:
            tz = zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SimError.flat(400, "Invalid timezone.") from None
        after = _query_moment(query.get("start_date"), "start_date", tz, end=False)
        before = _query_moment(query.get("end_date"), "end_date", tz, end=True)
        if query.get("created_at"):
            after = _query_moment(query["created_at"], "created_at", tz, end=False)
            before = _query_moment(query["created_at"], "created_at", tz, end=True)
        limit = _query_number(query.get("limit"), "limit", int)
        return cls(
            from_number=_normalised(query.get("from_number")),
            to_number=_normalised(query.get("to_number")),
            start=_query_number(query.get("from"), "from", int),
            stop=_query_number(query.get("to"), "to", int),
            limit=1000 if limit is None else limit,
            ascending=bool(_query_bool(query.get("ascending"), "ascending")),
            after=after,
            before=before,
            completed=_query_bool(query.get("completed"), "completed"),
            answered_by=query.get("answered_by") or None,
            duration_gt=_query_number(query.get("duration_gt"), "duration_gt", float),
            duration_lt=_query_number(query.get("duration_lt"), "duration_lt", float),
            inbound=_query_bool(query.get("inbound"), "inbound"),
            batch_id=query.get("batch_id") or None,
        )

    def matches(self, call: SimCall, now: datetime) -> bool:
        minutes = call.outcome.connected_seconds / 60 if call.outcome else 0.0
        checks = (
            self.from_number is None or call.request.from_number == self.from_number,
            self.to_number is None or call.request.to == self.to_number,
            self.after is None or call.created_at >= self.after,
            self.before is None or call.created_at < self.before,
            self.completed is None or call.finished == self.completed,
            self.answered_by is None or call.answered_by(now) == self.answered_by,
            self.duration_gt is None or minutes > self.duration_gt,
            self.duration_lt is None or minutes < self.duration_lt,
            self.inbound is None or self.inbound is False,
            self.batch_id is None,
        )
        return all(checks)


# --- post-call webhooks -----------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """Bland's ``X-Webhook-Signature``: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    call_id: str
    url: str
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "url": self.url, "attempts": self.attempts,
                "statuses": self.statuses, "delivered": self.delivered}


class WebhookSender:
    """Posts post-call webhooks from the server's event loop, retrying with exponential backoff."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.options.webhook_timeout))

    async def close(self) -> None:
        await self.cancel_pending()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def cancel_pending(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def send(self, url: str, call_id: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(call_id, url)
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Signature": sign(self.options.webhook_secret, body),
            "User-Agent": "bland-simulator",
        }
        for attempt in range(self.options.webhook_retries + 1):
            if attempt:
                await asyncio.sleep(self.options.webhook_backoff * 2 ** (attempt - 1))
            delivery.attempts += 1
            status = await self._post(delivery.url, body, headers)
            delivery.statuses.append(status)
            if isinstance(status, int) and 200 <= status < 300:
                delivery.delivered = True
                return
        logger.warning("webhook for call %s to %s gave up after %d attempts: %s",
                       delivery.call_id, delivery.url, delivery.attempts, delivery.statuses)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int | str:
        if self._session is None:
            return "closed"
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__


# --- HTTP layer ------------------------------------------------------------------------------------------------

SIMULATOR = web.AppKey("simulator", Simulator)
WEBHOOKS = web.AppKey("webhooks", WebhookSender)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _is_control(request: web.Request) -> bool:
    return request.path.startswith("/_sim/")


def _authorised(header: str | None, key: str) -> bool:
    if not header:
        return False
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return hmac.compare_digest(value.encode(), key.encode())


def dispatch_ended(app: web.Application) -> None:
    """Post the webhook of every call that ended since the last time."""
    simulator, sender = app[SIMULATOR], app[WEBHOOKS]
    for call in simulator.drain_ended():
        if call.request.webhook:
            sender.send(call.request.webhook, call.call_id, simulator.details(call, for_webhook=True))


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_control(request):
        return await handler(request)
    faults = request.app[SIMULATOR].faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    failure = faults.next_failure()
    if failure == 503:
        return _json({"status": "error", "message": "Service temporarily unavailable."}, 503)
    if failure == 500:
        return _json({"status": "error", "message": "Internal server error."}, 500)
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SimError as exc:
        return _json(exc.body, exc.status)
    except web.HTTPNotFound:
        return _json({"status": "error", "message": "Not found."}, 404)
    except web.HTTPMethodNotAllowed:
        return _json({"status": "error", "message": "Method not allowed."}, 405)
    except web.HTTPException:
        raise
    except Exception:  # the wire boundary: never leak a traceback
        logger.exception("simulator error on %s %s", request.method, request.path)
        return _json({"status": "error", "message": "Internal server error."}, 500)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_control(request) and not _authorised(
        request.headers.get("authorization"), request.app[SIMULATOR].options.api_key
    ):
        raise auth_failure()
    return await handler(request)


@web.middleware
async def clock_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    simulator = request.app[SIMULATOR]
    if simulator.base_url is None:
        simulator.base_url = str(request.url.origin())
    simulator.tick()
    try:
        return await handler(request)
    finally:
        dispatch_ended(request.app)


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


async def post_call(request: web.Request) -> web.Response:
    call = request.app[SIMULATOR].place_call(await _body(request))
    return _json(
        {"status": "success", "message": "Call successfully queued.", "call_id": call.call_id, "batch_id": None}
    )


async def get_call(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    return _json(simulator.details(simulator.get_call(request.match_info["call_id"])))


async def list_calls(request: web.Request) -> web.Response:
    return _json(request.app[SIMULATOR].list_calls(request.query))


async def stop_call(request: web.Request) -> web.Response:
    request.app[SIMULATOR].stop_call(request.match_info["call_id"])
    return _json({"status": "success", "message": "Call ended successfully."})


def _audio(request: web.Request, audio: bytes) -> web.Response:
    headers = {}
    if "audio/mpeg" in request.headers.get("content-type", "").lower():
        headers["X-Simulator-Note"] = "MP3 is not generated by the simulator; this is WAV audio."
    return web.Response(body=audio, content_type="audio/wav", headers=headers)


async def get_recording(request: web.Request) -> web.Response:
    audio = request.app[SIMULATOR].recording(request.match_info["call_id"])
    if audio is None:
        raise SimError.coded(404, "CALL_RECORDING_NOT_FOUND", "Call recording not found")
    return _audio(request, audio)


async def get_legacy_recording(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    call_id = request.match_info["call_id"]
    audio = simulator.recording(call_id)
    if audio is None:
        raise SimError.flat(404, "Error fetching recording")
    if "application/json" in request.headers.get("accept", "").lower():
        return _json({"status": "success", "url": simulator.recording_url(simulator.get_call(call_id))})
    return _audio(request, audio)


async def get_corrected(request: web.Request) -> web.Response:
    return _json(request.app[SIMULATOR].corrected(request.match_info["call_id"]))


async def get_me(request: web.Request) -> web.Response:
    return _json(request.app[SIMULATOR].me())


async def sim_state(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR].snapshot()
    state["webhooks"] = [d.as_dict() for d in request.app[WEBHOOKS].deliveries]
    return _json(state)


def _control_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise SimError.flat(400, "The body must be a JSON object.")
    return body


def _number_field(body: Mapping[str, Any], key: str, *, low: float = 0.0, high: float = math.inf) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SimError.flat(400, f"{key} must be a number between {low:g} and {high:g}.")
    return float(value)


async def sim_faults(request: web.Request) -> web.Response:
    body = _control_body(await _body(request))
    faults = request.app[SIMULATOR].faults
    latency = _number_field(body, "latency_ms")
    rate = _number_field(body, "error_rate", high=1.0)
    if "outage" in body and not isinstance(body["outage"], bool):
        raise SimError.flat(400, "outage must be a boolean.")
    if latency is not None:
        faults.latency_ms = latency
    if rate is not None:
        faults.error_rate, faults._carry = rate, 0.0
    if "outage" in body:
        faults.outage = body["outage"]
    return _json(faults.as_dict())


async def sim_advance(request: web.Request) -> web.Response:
    body = _control_body(await _body(request))
    seconds = _number_field(body, "seconds")
    if seconds is None:
        raise SimError.flat(400, "seconds is required.")
    simulator = request.app[SIMULATOR]
    ended = simulator.advance(seconds)
    return _json({"now": _iso(simulator.now()), "ended": ended})


async def sim_reset(request: web.Request) -> web.Response:
    body = _control_body(await _body(request))
    plan = body.get("plan")
    if plan is not None and not isinstance(plan, str):
        raise SimError.flat(400, "plan must be a string.")
    await request.app[WEBHOOKS].cancel_pending()
    request.app[WEBHOOKS].deliveries.clear()
    request.app[SIMULATOR].reset(
        balance=_number_field(body, "balance", low=-math.inf), plan=plan, time_scale=_number_field(body, "time_scale")
    )
    return await sim_state(request)


async def _ticker(app: web.Application) -> None:
    """Ends calls on time (and posts their webhooks) even when nobody is asking."""
    simulator = app[SIMULATOR]
    while True:
        await asyncio.sleep(simulator.options.tick_interval)
        try:
            simulator.tick()
            dispatch_ended(app)
        except Exception:  # a background loop: log and keep ticking
            logger.exception("simulator tick failed")


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    await app[WEBHOOKS].open()
    ticker = asyncio.get_running_loop().create_task(_ticker(app))
    yield
    ticker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticker
    await app[WEBHOOKS].close()


def build_app(simulator: Simulator | None = None, **options: Any) -> web.Application:
    """The aiohttp application. Pass a ``Simulator`` to share it, or ``SimulatorOptions`` fields as keywords."""
    if simulator is not None and options:
        raise TypeError("pass either a simulator or options, not both")
    simulator = simulator or Simulator(SimulatorOptions(**options))
    app = web.Application(middlewares=[fault_middleware, error_middleware, auth_middleware, clock_middleware])
    app[SIMULATOR] = simulator
    app[WEBHOOKS] = WebhookSender(simulator.options)
    app.cleanup_ctx.append(_lifecycle)
    app.router.add_post("/v1/calls", post_call)
    app.router.add_get("/v1/calls", list_calls)
    app.router.add_get("/v1/calls/{call_id}", get_call)
    app.router.add_post("/v1/calls/{call_id}/stop", stop_call)
    app.router.add_get("/v1/calls/{call_id}/correct", get_corrected)
    app.router.add_get("/v1/calls/{call_id}/recording", get_legacy_recording)
    app.router.add_get("/v1/recordings/{call_id}", get_recording)
    app.router.add_get("/v1/me", get_me)
    app.router.add_get("/_sim/state", sim_state)
    app.router.add_post("/_sim/faults", sim_faults)
    app.router.add_post("/_sim/advance", sim_advance)
    app.router.add_post("/_sim/reset", sim_reset)
    return app


def _display_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, **options: Any) -> None:
    """Serve until SIGINT/SIGTERM, then shut down cleanly (ticker stopped, pending webhooks cancelled)."""
    options.setdefault("public_url", f"http://{_display_host(host)}:{port}")
    app = build_app(**options)
    logger.info("Bland simulator listening on http://%s:%s (plan %s)", _display_host(host), port,
                app[SIMULATOR].plan.name)
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=5.0)


class BackgroundSimulator:
    """The simulator on its own event loop in a daemon thread, for tests and in-process demos::

        with BackgroundSimulator(time_scale=0) as sim:
            httpx.post(f"{sim.url}/v1/calls", ...)
            sim.advance(60)
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, **options: Any) -> None:
        self.host = host
        self.port = port
        self.simulator = Simulator(SimulatorOptions(**options))
        self._app = build_app(self.simulator)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="bland-simulator", daemon=True)
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{_display_host(self.host)}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundSimulator:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Bland simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the Bland simulator failed to start: {self._error}") from self._error
        return self

    def call(self, fn: Callable[[Simulator], Any], timeout: float = 10.0) -> Any:
        """Run ``fn(simulator)`` on the server's loop (the simulator is not thread-safe) and return its result."""

        async def invoke() -> Any:
            result = fn(self.simulator)
            dispatch_ended(self._app)
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    def advance(self, seconds: float) -> list[str]:
        return self.call(lambda simulator: simulator.advance(seconds))

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        runner = web.AppRunner(self._app, handle_signals=False)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            if self.simulator.base_url is None:
                self.simulator.base_url = self.url
            self._stopping = asyncio.Event()
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            await runner.cleanup()
            return
        finally:
            self._ready.set()
        await self._stopping.wait()
        await runner.cleanup()


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    run()
