"""Google's error answers, read into our errors (``sheets_sync.errors``): pure data, no client library.

The body is Google's JSON shape ``{"error": {"code", "message", "status", "errors": [{"reason"}],
"details": [{"@type": ".../google.rpc.ErrorInfo", "reason", "metadata": {"quota_limit",
"quota_limit_value"}}]}}``. What is a quota error: 429, and 403 with a rate-limit reason (the legacy
form). 5xx is a server failure: on a write the change may have been applied, so it is ``Ambiguous``.
400, 401, 403 (other reasons), 404 and other 4xx are ``Permanent``.
"""

from __future__ import annotations

import json
from typing import Any

from sheets_sync.backoff import parse_retry_after
from sheets_sync.errors import Ambiguous, Permanent, RateLimited, SheetsError, Transient

RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED", "quotaExceeded"}
_PERMANENT_CODES = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied", 404: "not_found"}


def _error_body(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _reasons(error: dict[str, Any]) -> set[str]:
    reasons = set()
    for item in error.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            reasons.add(item["reason"])
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
            reasons.add(detail["reason"])
    return reasons


def quota_details(error: dict[str, Any]) -> tuple[int | None, str | None, str | None]:
    """(limit per minute, level "user"/"project", kind "read"/"write") from the ErrorInfo metadata."""
    for detail in error.get("details") or []:
        metadata = detail.get("metadata") if isinstance(detail, dict) else None
        if not isinstance(metadata, dict) or "quota_limit" not in metadata:
            continue
        name = str(metadata.get("quota_limit", ""))
        level = "user" if name.endswith("PerUser") else "project" if name.endswith("PerProject") else None
        kind = "read" if name.startswith("Read") else "write" if name.startswith("Write") else None
        try:
            limit = int(str(metadata.get("quota_limit_value", "")))
        except ValueError:
            limit = None
        return limit, level, kind
    return None, None, None


def error_from_response(*, status: int, content: bytes, retry_after: str | None, spreadsheet_id: str,
                        write: bool) -> SheetsError:
    """Our error for Google's non-2xx answer."""
    error = _error_body(content)
    message = str(error.get("message") or f"HTTP {status}")
    reasons = _reasons(error)
    if status == 429 or (status == 403 and reasons & RATE_LIMIT_REASONS):
        limit, level, _kind = quota_details(error)
        return RateLimited(f"Sheets quota exceeded: {message}", spreadsheet_id=spreadsheet_id,
                           retry_after=parse_retry_after(retry_after), limit_value=limit, level=level)
    if status >= 500 or status == 408:
        cls = Ambiguous if write else Transient
        return cls(f"Sheets answered {status}: {message}", spreadsheet_id=spreadsheet_id)
    code = _PERMANENT_CODES.get(status, "invalid_argument")
    label = f"{status} {error['status']}" if error.get("status") else str(status)
    return Permanent(f"Sheets refused the request ({label}): {message}", spreadsheet_id=spreadsheet_id, code=code,
                     status=status)

