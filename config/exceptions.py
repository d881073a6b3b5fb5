"""The one place where errors become HTTP answers for the REST API.

Every answer is JSON: ``{"error": {"code": ..., "message": ..., "details"?: ...}}``, plus DRF's
``detail`` for clients that read that. ``DomainError`` (``config.errors``) carries its own code and
status; DRF and simplejwt exceptions keep theirs.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
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


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.data or None), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a real server error: Django's handler500 logs it and answers JSON
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
    return JsonResponse(error_body("not_found", f"No such path: {request.path}"), status=404)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "The request could not be understood."), status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "You may not do this."), status=403)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
