"""The aiohttp application: Bland's endpoints, the ``/_sim/`` control endpoints, faults, auth and the ticker."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from calls.providers.simulator import batch_routes
from calls.providers.simulator.account import Simulator
from calls.providers.simulator.errors import SimError, auth_failure
from calls.providers.simulator.options import DEFAULT_HOST, DEFAULT_PORT, SimulatorOptions
from calls.providers.simulator.plans import MSG_RATE_LIMIT
from calls.providers.simulator.state import iso
from calls.providers.simulator.traffic import RequestLog, TokenBucket
from calls.providers.simulator.webhooks import WebhookSender

logger = logging.getLogger(__name__)

SIMULATOR = web.AppKey("simulator", Simulator)
WEBHOOKS = web.AppKey("webhooks", WebhookSender)
LIMITER = web.AppKey("limiter", TokenBucket)
REQUESTS = web.AppKey("requests", RequestLog)
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
    """Post the live events that happened and the webhook of every call that ended since the last time (a
    call's live events first: the sender posts each call's in order), and of every batch status change."""
    simulator, sender = app[SIMULATOR], app[WEBHOOKS]
    for call, events in simulator.drain_live():
        if call.request.webhook and simulator.faults.webhooks:
            for live_event in events:
                sender.send(call.request.webhook, call.call_id, live_event, live=True)
    for call in simulator.drain_ended():
        if call.request.webhook and simulator.faults.webhooks:
            sender.send(call.request.webhook, call.call_id, simulator.details(call, for_webhook=True))
    for event in simulator.batches.drain_events():
        if simulator.faults.webhooks:
            sender.send(event.url, event.batch_id, event.payload, retries=0)  # Bland: one attempt, no retry


def _rate_limited(request: web.Request) -> web.Response | None:
    """Bland's 429 once the account's request rate is spent; every API request is counted."""
    faults, limiter = request.app[SIMULATOR].faults, request.app[LIMITER]
    if limiter.rate != faults.rate_limit_rps:
        limiter.configure(faults.rate_limit_rps)
    limited = not limiter.take()
    request.app[REQUESTS].record(request.method, request.path, rate_limited=limited)
    if not limited:
        return None
    response = _json({"status": "error", "message": MSG_RATE_LIMIT}, 429)
    if faults.retry_after is not None:
        response.headers["Retry-After"] = f"{faults.retry_after:g}"
    return response


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_control(request):
        return await handler(request)
    limited = _rate_limited(request)
    if limited is not None:
        return limited
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
    simulator, call_id = request.app[SIMULATOR], request.match_info["call_id"]
    if call_id in simulator.faults.fail_details:
        raise SimError.flat(500, "Internal server error.")
    return _json(simulator.details(simulator.get_call(call_id)))


async def list_calls(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    if simulator.faults.list_disabled:
        raise SimError.flat(404, "Not found.")
    return _json(simulator.list_calls(request.query))


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


async def post_analyze(request: web.Request) -> web.Response:
    return _json(request.app[SIMULATOR].analyze(request.match_info["call_id"], await _body(request)))


async def sim_state(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR].snapshot()
    state["webhooks"] = [d.as_dict() for d in request.app[WEBHOOKS].deliveries]
    state["live_events"] = [d.as_dict() for d in request.app[WEBHOOKS].live_deliveries]
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


FAULT_FLAGS = ("outage", "webhooks", "list_disabled")


def _fault_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The faults a ``POST /_sim/faults`` body sets, all checked before any is applied."""
    changes: dict[str, Any] = {}
    for key, high in (("latency_ms", math.inf), ("error_rate", 1.0), ("rate_limit_rps", math.inf)):
        value = _number_field(body, key, high=high)
        if value is not None:
            changes[key] = value
    for key in FAULT_FLAGS:
        if key in body and not isinstance(body[key], bool):
            raise SimError.flat(400, f"{key} must be a boolean.")
        if key in body:
            changes[key] = body[key]
    if "retry_after" in body:
        changes["retry_after"] = None if body["retry_after"] is None else _number_field(body, "retry_after")
    if "fail_details" in body:
        ids = body["fail_details"]
        if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
            raise SimError.flat(400, "fail_details must be a list of call ids.")
        changes["fail_details"] = frozenset(ids)
    return changes


async def sim_faults(request: web.Request) -> web.Response:
    faults = request.app[SIMULATOR].faults
    for key, value in _fault_changes(_control_body(await _body(request))).items():
        setattr(faults, key, value)
        if key == "error_rate":
            faults._carry = 0.0
    return _json(faults.as_dict())


async def sim_requests(request: web.Request) -> web.Response:
    by_call = request.query.get("by_call", "").lower() in ("1", "true")
    return _json(request.app[REQUESTS].as_dict(by_call=by_call))


async def sim_requests_clear(request: web.Request) -> web.Response:
    request.app[REQUESTS].clear()
    return _json(request.app[REQUESTS].as_dict())


async def sim_seed(request: web.Request) -> web.Response:
    body = _control_body(await _body(request))
    bodies = body.get("calls")
    if not isinstance(bodies, list):
        raise SimError.flat(400, "calls must be a list of POST /v1/calls bodies.")
    calls = request.app[SIMULATOR].seed(bodies)
    return _json({"call_ids": [call.call_id for call in calls]})


async def sim_advance(request: web.Request) -> web.Response:
    body = _control_body(await _body(request))
    seconds = _number_field(body, "seconds")
    if seconds is None:
        raise SimError.flat(400, "seconds is required.")
    simulator = request.app[SIMULATOR]
    ended = simulator.advance(seconds)
    return _json({"now": iso(simulator.now()), "ended": ended})


async def sim_reset(request: web.Request) -> web.Response:
    body = _control_body(await _body(request))
    plan = body.get("plan")
    if plan is not None and not isinstance(plan, str):
        raise SimError.flat(400, "plan must be a string.")
    await request.app[WEBHOOKS].cancel_pending()
    request.app[WEBHOOKS].deliveries.clear()
    request.app[WEBHOOKS].live_deliveries.clear()
    request.app[REQUESTS].clear()
    request.app[SIMULATOR].reset(
        balance=_number_field(body, "balance", low=-math.inf), plan=plan, time_scale=_number_field(body, "time_scale")
    )
    return await sim_state(request)


async def sim_settle(request: web.Request) -> web.Response:
    timeout = _number_field(_control_body(await _body(request)), "timeout", high=300)
    settled, cancelled = await request.app[WEBHOOKS].settle(10.0 if timeout is None else timeout)
    return _json({"settled": settled, "cancelled": cancelled})


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
    app[LIMITER] = TokenBucket(simulator.faults.rate_limit_rps)
    app[REQUESTS] = RequestLog()
    app.cleanup_ctx.append(_lifecycle)
    app.router.add_post("/v1/calls", post_call)
    app.router.add_get("/v1/calls", list_calls)
    app.router.add_get("/v1/calls/{call_id}", get_call)
    app.router.add_post("/v1/calls/{call_id}/stop", stop_call)
    app.router.add_get("/v1/calls/{call_id}/correct", get_corrected)
    app.router.add_get("/v1/calls/{call_id}/recording", get_legacy_recording)
    app.router.add_get("/v1/recordings/{call_id}", get_recording)
    app.router.add_get("/v1/me", get_me)
    app.router.add_post("/v1/calls/{call_id}/analyze", post_analyze)
    batch_routes.add_routes(app.router, simulator)  # and GET /v1/voices
    app.router.add_get("/_sim/state", sim_state)
    app.router.add_post("/_sim/faults", sim_faults)
    app.router.add_post("/_sim/advance", sim_advance)
    app.router.add_post("/_sim/reset", sim_reset)
    app.router.add_post("/_sim/settle", sim_settle)
    app.router.add_get("/_sim/requests", sim_requests)
    app.router.add_delete("/_sim/requests", sim_requests_clear)
    app.router.add_post("/_sim/seed", sim_seed)
    return app


def display_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket on ``host:port``; port 0 takes a free one. Raises ``OSError`` when the port is taken,
    before anything is served, so a caller can say so instead of sharing another process's simulator."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, sock: socket.socket | None = None,
        **options: Any) -> None:
    """Serve until SIGINT/SIGTERM, then shut down cleanly (ticker stopped, pending webhooks cancelled).

    On ``sock`` (from ``bind``) when given, else on a socket bound here; ``public_url`` defaults to the
    address actually bound. Raises ``OSError`` when the port is taken."""
    sock = sock or bind(host, port)
    port = sock.getsockname()[1]
    options.setdefault("public_url", f"http://{display_host(host)}:{port}")
    app = build_app(**options)
    logger.info("Bland simulator listening on http://%s:%s (plan %s)", display_host(host), port,
                app[SIMULATOR].plan.name)
    web.run_app(app, sock=sock, print=None, shutdown_timeout=5.0)
