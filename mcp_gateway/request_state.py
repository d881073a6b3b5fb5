"""2026-07-28 multi round-trip requests: the opaque ``requestState`` a server hands out with an
``input_required`` result, signed so the client cannot tamper with it and bound to the caller, the
method and its target so it cannot be replayed against another request."""

from __future__ import annotations

from typing import Any

from django.core import signing

from mcp_gateway import errors
from mcp_gateway.context import Principal

SALT = "mcp.requestState"
MAX_AGE_SECONDS = 3600


def _binding(principal: Principal, method: str, params: dict[str, Any]) -> str:
    target = params.get("name") or params.get("uri") or ""
    return f"{principal.rate_key}:{method}:{target}"


def sign(state: dict[str, Any], *, principal: Principal, method: str, params: dict[str, Any]) -> str:
    return signing.dumps({"b": _binding(principal, method, params), "s": state}, salt=SALT, compress=True)


def verify(token: Any, *, principal: Principal, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The state the server signed; ``InvalidParams`` when forged, expired or another request's."""
    try:
        data = signing.loads(str(token), salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature as exc:
        raise errors.InvalidParams("Invalid requestState: it failed the integrity check.") from exc
    if data.get("b") != _binding(principal, method, params):
        raise errors.InvalidParams("Invalid requestState: it belongs to another request.")
    return data.get("s") or {}
