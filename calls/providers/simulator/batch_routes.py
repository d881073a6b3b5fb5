"""The aiohttp handlers of Bland's v2 batches and of ``GET /v1/voices`` (see ``batches`` and ``voices``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calls.providers.simulator.account import Simulator
from calls.providers.simulator.errors import SimError
from calls.providers.simulator.voices import voice_list


def _data(data: Any) -> web.Response:
    return web.json_response({"data": data, "errors": None})


def _paging(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit():
        raise SimError.coded(400, "INVALID_REQUEST", f"{name} must be a non-negative integer.")
    return int(raw)


def add_routes(router: web.UrlDispatcher, simulator: Simulator) -> None:
    """Register the batch and voice endpoints, served from ``simulator`` (whose book of batches is replaced
    on reset, so each request looks it up)."""

    async def create(request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
        except (ValueError, UnicodeDecodeError):
            body = None
        return _data({"batch_id": simulator.batches.create(body).batch_id})

    async def listing(request: web.Request) -> web.Response:
        take = min(_paging(request, "take", 100), 1000)
        return _data(simulator.batches.listing(take, _paging(request, "skip", 0)))

    async def get(request: web.Request) -> web.Response:
        return _data(simulator.batches.as_json(simulator.batches.get(request.match_info["batch_id"])))

    async def stop(request: web.Request) -> web.Response:
        simulator.batches.stop(request.match_info["batch_id"])
        return _data(None)

    async def logs(request: web.Request) -> web.Response:
        return _data(simulator.batches.get(request.match_info["batch_id"]).logs)

    async def voices(request: web.Request) -> web.Response:
        return web.json_response(voice_list())

    router.add_post("/v2/batches/create", create)
    router.add_get("/v2/batches/list", listing)
    router.add_get("/v2/batches/{batch_id}", get)
    router.add_post("/v2/batches/{batch_id}/stop", stop)
    router.add_get("/v2/batches/{batch_id}/logs", logs)
    router.add_get("/v1/voices", voices)
