"""Middleware of our own: the Host check of API paths, answered in JSON.

Django checks the Host header inside ``CommonMiddleware`` (``request.get_host()``), and a
``DisallowedHost`` raised there becomes Django's HTML debug page with DEBUG on (and a traceback in the
log either way), before any view or DRF exception handler runs. This middleware, first in the chain,
makes the same check for paths under ``/api/`` and answers 400 with the API's JSON error body, so an API
client always gets a body it can read. Other paths keep Django's own handling.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.exceptions import error_body

logger = logging.getLogger("django.security.DisallowedHost")
API_PREFIX = "/api/"
SHOWN_HOST_CHARS = 100


def host_refusal(request: HttpRequest) -> JsonResponse | None:
    """A JSON 400 when ``request`` is for an API path with a Host that ALLOWED_HOSTS refuses, else None."""
    if not request.path.startswith(API_PREFIX):
        return None
    try:
        request.get_host()
    except DisallowedHost:
        raw = request.META.get("HTTP_X_FORWARDED_HOST") or request.META.get("HTTP_HOST") or ""
        shown = raw[:SHOWN_HOST_CHARS]
        logger.warning("Refused host %r on %s %s", shown, request.method, request.path)
        message = f"Host header not allowed: {shown!r}. Use one of the host names this service answers to."
        return JsonResponse(error_body("disallowed_host", message), status=400)
    return None


class ApiHostMiddleware:
    """See the module docstring. Sync and async capable, so the async chain makes no thread hop for it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.async_mode:
            return self._acall(request)
        refused = host_refusal(request)
        return refused if refused is not None else self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        refused = host_refusal(request)
        if refused is not None:
            return refused
        response: HttpResponse = await self.get_response(request)
        return response
