"""The REST API spends the same per-user "place" budget as the MCP tools (one Redis counter)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from mcp_gateway.apps import gateway
from mcp_gateway.errors import RateLimited


class PlaceCallsThrottle(BaseThrottle):
    rate_class = "place"

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        try:
            async_to_sync(gateway().dispatcher.rate_limiter.hit)(
                key=str(user.pk), rate_class=self.rate_class, overrides=dict(getattr(user, "rate_limits", None) or {})
            )
        except RateLimited as exc:
            self._wait = exc.retry_after
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
