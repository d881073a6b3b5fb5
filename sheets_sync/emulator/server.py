"""The aiohttp application: Sheets v4 under ``/v4/``, ``POST /token``, the control API, ``/`` and ``run``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from sheets_sync.emulator.control import EMULATOR, add_routes, is_loopback
from sheets_sync.emulator.errors import ApiError
from sheets_sync.emulator.oauth import OAuthError
from sheets_sync.emulator.routes import route
from sheets_sync.emulator.state import Emulator

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8766
SAVE_INTERVAL = 1.0  # seconds between saves of a changed emulator to its file
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_emulator/") and not is_loopback(request):
        return web.json_response(ApiError(403, "The control API answers loopback callers only.").body(), status=403)
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.status)
    except web.HTTPNotFound:
        return web.json_response(ApiError(404, "Method not found.").body(), status=404)
    except web.HTTPMethodNotAllowed:
        return web.json_response(ApiError(404, "Method not found.").body(), status=404)
    except web.HTTPException:
        raise
    except Exception:  # the wire boundary: never leak a traceback
        logger.exception("emulator error on %s %s", request.method, request.path)
        return web.json_response(ApiError(500).body(), status=500)


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[-1] if values else None


async def token(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    form = parse_qs((await request.read()).decode("utf-8", "replace"))
    try:
        answer = emulator.accounts.grant(_field(form, "grant_type"), _field(form, "assertion"))
    except OAuthError as exc:
        return web.json_response(exc.body, status=exc.status)
    emulator.tokens_issued += 1
    emulator.store.dirty = True
    return web.json_response(answer)


async def sheets(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    found = route(request.method, request.raw_path)
    if found is None:
        raise ApiError(404, "Method not found.")
    emulator.base_url = str(request.url.origin())
    raw = await request.read() if request.can_read_body else b""
    answer = await emulator.handle(found, request.headers.get("authorization"), parse_qs(request.query_string),
                                   raw)
    return web.json_response(answer.body, status=answer.status)


async def _saver(emulator: Emulator) -> None:
    while True:
        await asyncio.sleep(SAVE_INTERVAL)
        try:
            emulator.save_if_dirty()
        except OSError:  # a background loop: log and keep going
            logger.exception("could not save the Sheets emulator to %s", emulator.store.path)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    emulator = app[EMULATOR]
    saver = asyncio.get_running_loop().create_task(_saver(emulator)) if emulator.store.path else None
    yield
    if saver is not None:
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
        emulator.save_if_dirty()


def build_app(emulator: Emulator | None = None, **options: Any) -> web.Application:
    """The application around ``emulator`` (or a new one built from ``Emulator`` keywords)."""
    if emulator is not None and options:
        raise TypeError("pass either an emulator or options, not both")
    if emulator is None:
        emulator = Emulator(**options)
        emulator.load()
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024 * 1024)
    app[EMULATOR] = emulator
    app.cleanup_ctx.append(_lifecycle)
    add_routes(app)
    app.router.add_post("/token", token)
    app.router.add_route("*", "/v4/{tail:.*}", sheets)
    return app


def display_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket; port 0 takes a free one. Raises ``OSError`` when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, sock: socket.socket | None = None,
        file: str | Path | None = None, quotas: dict[str, Any] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then save (with ``file``) and stop."""
    sock = sock or bind(host, port)
    app = build_app(file=file, quotas=quotas)
    logger.info("Sheets emulator listening on http://%s:%s", display_host(host), sock.getsockname()[1])
    web.run_app(app, sock=sock, print=None, shutdown_timeout=5.0, access_log=None)
