"""Liveness and readiness probes. Public by design: they reveal only up/down."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from calls.poller import poller_health


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return None


async def _redis_ok() -> str | None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await asyncio.wait_for(client.ping(), timeout=3)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"{type(exc).__name__}: {exc}"[:200]
    finally:
        await client.aclose()
    return None


def _poller_problems() -> tuple[str, ...]:
    return poller_health().problems


async def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    failures: dict[str, str] = {}
    db_error = await sync_to_async(_database_ok)()
    checks["database"] = "ok" if db_error is None else "failed"
    if db_error:
        failures["database"] = db_error
    if settings.REDIS_URL:
        redis_error = await _redis_ok()
        checks["redis"] = "ok" if redis_error is None else "failed"
        if redis_error:
            failures["redis"] = redis_error
    if settings.READYZ_INCLUDE_POLLER and db_error is None:
        problems = await sync_to_async(_poller_problems)()
        checks["poller"] = "ok" if not problems else "failed"
        if problems:
            failures["poller"] = "; ".join(problems)[:500]
    body: dict[str, object] = {"status": "ok" if not failures else "unavailable", "checks": checks}
    if failures:
        body["errors"] = failures
    return JsonResponse(body, status=503 if failures else 200)
