"""A Bland AI simulator: an aiohttp server speaking the subset of Bland's v1 HTTP API that callmcp uses.

There is no Internet in development, CI or the demo, so the real Bland client (``calls/providers/bland.py``)
talks to this server over HTTP instead. It needs no Django: ``python -m calls.providers.simulator`` or
``manage.py bland_simulator`` runs it, and tests start it on a free port with ``BackgroundSimulator``.
State lives in memory; one process is one Bland account.

Endpoints (Bland's paths, fields, envelopes and error strings; see shared/reference/bland_api.md):
``POST /v1/calls``, ``GET /v1/calls``, ``GET /v1/calls/{id}``, ``POST /v1/calls/{id}/stop``,
``GET /v1/calls/{id}/correct``, ``GET /v1/calls/{id}/recording`` (legacy), ``GET /v1/recordings/{id}``,
``GET /v1/me``, ``GET /v1/voices``, ``POST /v1/calls/{id}/analyze`` (deterministic answers from the transcript,
see ``simulator.analysis``), and v2 batches (module ``batches``): ``POST /v2/batches/create``,
``GET /v2/batches/list``, ``GET /v2/batches/{id}``, ``POST /v2/batches/{id}/stop``, ``GET /v2/batches/{id}/logs``.
Auth: the ``authorization`` header carries the key, raw or as ``Bearer <key>``; anything
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
Only durations are compressed: every timestamp a client sees (``created_at``, ``started_at``, ``end_at``,
transcript lines, ``updated_at`` in list filters) is the wall-clock time at which the simulated clock got
there, so a 45 s call at scale 10 reports ``corrected_duration`` 45 but ends 4.5 s after it started, and
nothing is ever dated in the future (``/_sim/state`` shows both clocks: ``now`` and ``wall_now``).

Money: each call costs max($0.015, connected minutes x the plan's rate), prorated to the second; a call
cancelled before dialling costs nothing. The price is taken from the balance when the call ends;
``POST /v1/calls`` answers 402 ``Insufficient balance.`` once the balance is <= 0.

Plans (``plan`` option; caps from Bland's billing page): start 100/day, 100/hour, 10 concurrent, $0.14/min;
build 2,000/day, 1,000/hour, 50, $0.12; scale 5,000/day, 1,000/hour, 100, $0.11; enterprise unlimited,
$0.09. Past a day or hour cap (rolling windows) or the concurrency cap, ``POST /v1/calls`` answers 429
``Rate limit exceeded``; a second call to the same number within 10 s answers Bland's 429 message. These
windows run on the simulated clock.

Control endpoints, without auth (the server binds 127.0.0.1 by default) and never faulted:
``GET /_sim/state``, ``POST /_sim/faults`` ``{latency_ms, error_rate, outage, webhooks, rate_limit_rps,
retry_after, list_disabled, fail_details}`` (partial updates), ``POST /_sim/advance`` ``{seconds}``,
``POST /_sim/reset`` ``{balance?, plan?, time_scale?}``, ``POST /_sim/settle`` ``{timeout?}`` (waits up to
``timeout`` s, default 10, for the webhooks queued so far to be posted, then cancels the rest: ``{settled,
cancelled}``), ``GET /_sim/requests`` (API requests answered:
list, details, other, rate_limited, ``endpoints`` counted by method and path such as ``POST /v2/batches/create``,
and per call with ``?by_call=1``; ``DELETE`` clears the count) and
``POST /_sim/seed`` ``{calls: [POST /v1/calls bodies]}`` (many calls at once, without the plan's limits).
Faults: ``latency_ms`` delays every API response; ``error_rate`` answers that fraction of API requests
with 500/503 (deterministically: with 0.5 every second request fails) before the handler runs, so
nothing is created; ``outage`` answers every API request 503; ``webhooks: false`` ends calls without
posting their webhooks; ``rate_limit_rps`` answers API requests past that rate with Bland's 429
``Rate limit exceeded`` (a bucket of one second's worth; with ``Retry-After`` only when ``retry_after`` is
set: Bland sends none); ``list_disabled`` answers ``GET /v1/calls`` 404; ``fail_details`` answers the
details of those call ids 500.

Simulator choices where Bland is silent or where we relax it:
- webhooks must be ``https://`` as on Bland, except that ``http://`` is accepted for loopback hosts
  (127.0.0.1, localhost, ::1) so a local callmcp can receive them. The post-call webhook POSTs the
  details object with ``X-Webhook-Signature`` = hex HMAC-SHA256(secret, raw body) and is retried on
  non-2xx or connection errors (``webhook_retries`` times, exponential backoff from ``webhook_backoff`` s).
- live events: a call placed with ``webhook_events`` containing ``call`` also posts, to its ``webhook`` and
  signed the same way, ``{"call_id", "message", "category": "call", "log_level": "info", "timestamp"}`` for
  "Call connected" (pick-up) and each line said ("Agent speech: ...", "Handling user speech: ..."), at the
  wall time the line carries in the details (``calls.providers.simulator.live``). A call's posts go out in
  order, its post-call webhook last; ``GET /_sim/state`` lists them under ``live_events``.
- ``start_time`` is read against the wall clock (the client's "now"); the delay it asks for then runs on
  the simulated clock. A past time means now; less than 5 minutes ahead is the documented 400.
- an invalid ``phone_number`` answers ``Invalid phone number.`` (Bland does not document the string).
- call not found is 404 ``{"status":"error","message":"Call not found."}``; stopping a call that already
  ended is 400 ``Call has already ended.``; ``/correct`` for a call without a recording is 404.
- ``/v1/recordings/{id}`` always serves WAV, even when ``content-type: audio/mpeg`` is asked for
  (it then adds an ``X-Simulator-Note`` header). The audio is as long as the call talked, 8 kHz mono
  8-bit like a phone line, with a tone (a pitch per speaker) wherever someone speaks.
- ``status``, ``price``, ``call_length``, ``summary`` are null until the call ends; ``transcripts`` grow
  while it is live; ``end_at`` is the max_duration deadline while live and the real end afterwards.
- a call's ``updated_at`` (read by ``sort_by=updated_at`` and ``update_start_date``/``update_end_date``; the
  list items do not show it) is the last change of what the list shows: queue status, answered_by, its end.

Parts (one module each; import from this package, whose public surface is ``__all__``)::

    plans       Bland's plans and the scenarios, chosen by number
    options     options, faults and the simulated clock
    validation  POST /v1/calls checks with Bland's error strings
    script      what is said on a call; audio: the WAV of a recorded call
    state       one call's timeline; outcomes: how it ends and what it costs
    payloads    a call as Bland's JSON; queries: the GET /v1/calls filters
    account     one simulated account (``Simulator``)
    webhooks    signed post-call webhooks with retries
    batches     v2 batches (one request, many calls); voices: GET /v1/voices; batch_routes: their handlers
    traffic     the request rate limit and the request count
    server      the aiohttp application and ``run``; harness: ``BackgroundSimulator``
"""

from calls.providers.simulator.account import Simulator
from calls.providers.simulator.harness import BackgroundSimulator
from calls.providers.simulator.options import DEFAULT_HOST, DEFAULT_PORT, SimClock, SimulatorOptions
from calls.providers.simulator.plans import PLANS, Plan
from calls.providers.simulator.server import bind, build_app, run

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "PLANS",
    "BackgroundSimulator",
    "Plan",
    "SimClock",
    "Simulator",
    "SimulatorOptions",
    "bind",
    "build_app",
    "run",
]
