"""What every method module gets: the call (scope, params, session) and the server it runs in."""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from config.ratelimit import RateLimiter, RateLimitExceeded
from mcp_gateway import errors
from mcp_gateway.context import RequestScope
from mcp_gateway.jsonrpc import MethodTable
from mcp_gateway.notify import Notifier
from mcp_gateway.registry import Registry
from mcp_gateway.sessions import SessionState
from mcp_gateway.wire import Definitions


@dataclass(frozen=True)
class Server:
    """The parts of the gateway the methods use."""

    registry: Registry
    rate_limiter: RateLimiter
    notifier: Notifier
    server_info: dict[str, Any]
    capabilities: dict[str, Any]
    definitions: Definitions
    instructions: str | None = None
    page_size: int = 50
    list_ttl_ms: int = 60_000
    task_ttl_ms: int = 7 * 24 * 3600 * 1000
    task_max_ttl_ms: int = 30 * 24 * 3600 * 1000
    task_result_wait_seconds: float = 3600


@dataclass(frozen=True)
class MethodCall:
    scope: RequestScope
    params: dict[str, Any]
    session: SessionState | None
    server: Server


Methods = MethodTable[MethodCall]


def allowed(spec: Any, scope: RequestScope) -> bool:
    return spec.scopes <= scope.principal.scopes


def missing_scopes(spec: Any, scope: RequestScope) -> list[str]:
    return sorted(spec.scopes - scope.principal.scopes)


async def call_handler(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a primitive's handler, sync (in a worker thread) or async."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    return await sync_to_async(fn)(*args, **kwargs)


async def spend(call: MethodCall, rate_class: str, *, refund: bool = False) -> None:
    """Count the request against the caller's ``rate_class`` budget (``RateLimited``, -31029, when it is
    spent), or give one back (``refund``)."""
    principal = call.scope.principal
    limiter = call.server.rate_limiter
    if refund:
        await limiter.refund(key=principal.rate_key, rate_class=rate_class, overrides=principal.rate_limits)
        return
    try:
        await limiter.hit(key=principal.rate_key, rate_class=rate_class, overrides=principal.rate_limits)
    except RateLimitExceeded as exc:
        raise errors.RateLimited(
            str(exc), retry_after=exc.retry_after,
            data={"limit": exc.limit.count, "periodSeconds": exc.limit.period, "class": exc.rate_class},
        ) from None


# --- pagination --------------------------------------------------------------------------------------


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        padded = str(cursor) + "=" * (-len(str(cursor)) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise errors.InvalidParams(f"Invalid cursor: {str(cursor)[:40]!r}") from exc
    return offset


def page(call: MethodCall, items: Sequence[Any], key: str,
         present: Callable[[Sequence[Any]], list[Any]] = list) -> dict[str, Any]:
    """One page of ``items`` from the request's cursor (as ``present`` makes it), with ``nextCursor``
    unless it is the last."""
    size = call.server.page_size
    offset = decode_cursor(call.params.get("cursor"))
    if offset > len(items):
        raise errors.InvalidParams("Invalid cursor: past the end of the list.")
    result: dict[str, Any] = {key: present(items[offset : offset + size])}
    if offset + size < len(items):
        result["nextCursor"] = encode_cursor(offset + size)
    return result
