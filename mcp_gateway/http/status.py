"""The HTTP status of a JSON-RPC answer, from its error code: the HTTP transport's table, nobody else's.

Legacy-era answers (a session negotiated at initialize) keep HTTP 200 for errors a method raises
(unknown tool, bad params, method not found), as every SDK does; the 2026-07-28 era maps them as the
spec and the official SDK do (400, 404). Refusals of the caller are the same in both: 401, 403, 429.
"""

from __future__ import annotations

from typing import Any

from mcp_gateway import errors

_BOTH = {
    errors.PARSE_ERROR: 400,
    errors.INVALID_REQUEST: 400,
    errors.HEADER_MISMATCH: 400,
    errors.MISSING_CLIENT_CAPABILITY: 400,
    errors.UNSUPPORTED_PROTOCOL_VERSION: 400,
    errors.UNAUTHORIZED: 401,
    errors.INSUFFICIENT_SCOPE: 403,
    errors.RATE_LIMITED: 429,
}
LEGACY = dict(_BOTH)
MODERN = {**_BOTH, errors.INVALID_PARAMS: 400, errors.METHOD_NOT_FOUND: 404}


def status_of(answer: Any, *, modern: bool) -> int:
    """200 for results and batches; the table's status (or 200) for one error."""
    error = answer.get("error") if isinstance(answer, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return (MODERN if modern else LEGACY).get(code, 200) if isinstance(code, int) else 200


def error_headers(error: dict[str, Any]) -> dict[str, str]:
    """``Retry-After`` for rate limits, the step-up challenge for a missing scope."""
    data = error.get("data")
    data = data if isinstance(data, dict) else {}
    if error.get("code") == errors.RATE_LIMITED:
        return {"Retry-After": str(data.get("retryAfter", 1))}
    if error.get("code") == errors.INSUFFICIENT_SCOPE:
        scopes = " ".join(data.get("requiredScopes", []))
        return {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scopes}"'}
    return {}
