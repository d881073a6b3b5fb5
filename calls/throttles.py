"""REST throttles on the same per-user budgets as the MCP tools (``config.ratelimit``: one Redis counter).

``place`` for placing calls, ``cancel`` for stopping them: a cancel never waits on the placing budget.
A request that fails validation gives its count back (``RefundOnClientMistake``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.async_bridge import call_async
from config.errors import DomainError
from config.ratelimit import RateLimitExceeded, rate_limiter_from_settings


def _budget(request: Request, rate_class: str) -> dict[str, Any]:
    user = request.user
    return {"key": str(user.pk), "rate_class": rate_class, "overrides": dict(getattr(user, "rate_limits", None) or {})}


class RateClassThrottle(BaseThrottle):
    rate_class = "read"

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            call_async(rate_limiter_from_settings().hit, **_budget(request, self.rate_class))
        except RateLimitExceeded as exc:
            self._wait = exc.retry_after
            return False
        return True

    def refund(self, request: Request) -> None:
        call_async(rate_limiter_from_settings().refund, **_budget(request, self.rate_class))

    def wait(self) -> float | None:
        return self._wait


class PlaceCallsThrottle(RateClassThrottle):
    rate_class = "place"


class CancelCallsThrottle(RateClassThrottle):
    rate_class = "cancel"


class RefundOnClientMistake:
    """A DRF view mixin: when the request fails validation (a 400 ``DomainError``), its throttles give
    back what they counted, so a bad request never spends a budget."""

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, DomainError) and exc.is_client_mistake:
            view: Any = self
            for throttle in view.get_throttles():
                if isinstance(throttle, RateClassThrottle):
                    throttle.refund(view.request)
        return super().handle_exception(exc)  # type: ignore[misc]  # a mixin of APIView
