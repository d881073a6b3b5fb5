"""The one place where errors become HTTP answers for the REST API.

Every answer is JSON: ``{"error": {"code": ..., "message": ..., "details"?: ...}}``, plus DRF's
``detail`` for clients that read that. ``DomainError`` (``config.errors``) carries its own code and
status; DRF and simplejwt exceptions keep theirs.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config.errors import DomainError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}, "detail": message}
    if details is not None:
        body["error"]["details"] = details
    return body


def _flatten_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _flatten_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _flatten_message(value)
        return inner if key in {"detail", "non_field_errors"} else f"{key}: {inner}"
    return str(detail)


def _suspicious_request(exc: SuspiciousOperation) -> Response:
    """A request Django refuses to read (too big, too many fields): the client's mistake, answered here
    (django.request logs it in one line, as every 4xx). Left to Django, DEBUG answers its HTML debug page
    and the log gets a traceback."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"Request body too large: the limit is {limit} bytes."
        return Response(error_body("request_too_large", message, {"limit_bytes": limit}), status=413)
    return Response(error_body("bad_request", str(exc) or "The request could not be understood."), status=400)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.data or None), status=exc.http_status)
    if isinstance(exc, SuspiciousOperation):
        set_rollback()
        return _suspicious_request(exc)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if not isinstance(exc, drf_exceptions.APIException):
        # A real server error. Answered here, not by Django, so that DEBUG answers JSON too.
        set_rollback()
        request = context.get("request")
        logger.exception("server error on %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))
        return Response(error_body("server_error", "Internal server error."), status=500)
    set_rollback()
    detail = exc.detail
    if isinstance(detail, dict) and "code" in detail and "detail" in detail:
        # simplejwt's token errors: {"detail": ..., "code": ..., "messages": [...]}
        code, message = str(detail["code"]), str(detail["detail"])
        details = None
    elif isinstance(detail, dict | list):
        code = exc.default_code if isinstance(exc.default_code, str) else "invalid"
        message, details = _flatten_message(detail), exc.get_full_details()
    else:
        code = getattr(detail, "code", None) or exc.default_code
        message, details = str(detail), None
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))
    return Response(error_body(str(code), message, details), status=exc.status_code, headers=headers)


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    message = f"No such path: {request.path}"
    if not request.path.endswith("/"):
        try:
            resolved = resolve(f"{request.path_info}/")
        except Resolver404:
            pass
        else:
            if resolved.func is not api_not_found:
                message += f". Did you mean {request.path}/?"
    return JsonResponse(error_body("not_found", message), status=404)


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Every path under /api/ that matches no route: JSON, with DEBUG on too (Django's DEBUG 404 is an
    HTML page listing the URL patterns, and it ignores handler404)."""
    return json_404(request)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "The request could not be understood."), status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "You may not do this."), status=403)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
