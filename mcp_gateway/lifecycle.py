"""The MCP lifecycle, in one place for every transport: eras, protocol versions, capabilities and the
session rules a request must pass before any method runs.

Two generations share one endpoint. The *legacy* era (2024-11-05 .. 2025-11-25) opens a session with
``initialize``; the *modern* era (2026-07-28) is stateless and carries the version and the client's
capabilities in every request's ``_meta``. Which one a message belongs to, whether a batch is allowed,
and what a request needs first are decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from mcp_types import version as versions
from mcp_types.methods import CLIENT_REQUESTS, parse_client_request

from mcp_gateway import errors
from mcp_gateway.context import LOG_LEVELS
from mcp_gateway.jsonrpc import Incoming
from mcp_gateway.sessions import SessionState

Era = Literal["legacy", "modern"]

HANDSHAKE_VERSIONS: tuple[str, ...] = tuple(versions.HANDSHAKE_PROTOCOL_VERSIONS)
MODERN_VERSIONS: tuple[str, ...] = tuple(versions.MODERN_PROTOCOL_VERSIONS)
LATEST_HANDSHAKE: str = versions.LATEST_HANDSHAKE_VERSION
ALL_VERSIONS: tuple[str, ...] = (*HANDSHAKE_VERSIONS, *MODERN_VERSIONS)
# JSON-RPC batches were added in 2025-03-26 and removed again in 2025-06-18.
BATCH_VERSIONS = frozenset({"2025-03-26"})
# MCP tasks, which the official method tables leave out: 2025-11-25's experimental methods and those of
# the 2026-07-28 tasks extension (io.modelcontextprotocol/tasks). Their params are checked by the methods.
TASK_REQUESTS = frozenset(
    {(method, "2025-11-25") for method in ("tasks/get", "tasks/result", "tasks/list", "tasks/cancel")}
    | {(method, version) for method in ("tasks/get", "tasks/update", "tasks/cancel") for version in MODERN_VERSIONS}
)
TASK_EXTENSION = "io.modelcontextprotocol/tasks"
# Legacy requests answered without an initialized session.
SESSIONLESS_METHODS = frozenset({"initialize", "ping"})
# Modern results a client may cache: they carry ttlMs and cacheScope.
CACHEABLE_METHODS = frozenset(
    {"tools/list", "resources/list", "resources/templates/list", "prompts/list", "resources/read", "server/discover"}
)


def _meta_of(message: Any) -> dict[str, Any] | None:
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta if isinstance(meta, dict) else None


def era_of(message: Any, session: SessionState | None) -> Era:
    """``legacy`` (initialize handshake / session) or ``modern`` (2026-07-28 ``_meta`` envelope).

    A session decides for itself; without one, a request carrying the 2026-07-28 ``_meta`` protocol
    version is modern, even ``initialize`` (which that revision removed).
    """
    if session is not None and (session.initialized or session.protocol_version):
        return "legacy"
    meta = _meta_of(message)
    return "modern" if meta is not None and PROTOCOL_VERSION_META_KEY in meta else "legacy"


def http_era(payload: Any, session: SessionState | None, header_version: str | None) -> Era:
    """The era of an HTTP POST, which may also say it in its ``MCP-Protocol-Version`` header."""
    if session is not None:
        return "legacy"
    first = payload[0] if isinstance(payload, list) and payload else payload
    if era_of(first, None) == "modern" or header_version in MODERN_VERSIONS:
        return "modern"
    if isinstance(first, dict) and first.get("method") == "initialize":
        return "legacy"
    if _meta_of(first) is not None and "id" in first:
        return "modern"  # an envelope without its protocol version: open_request says what is missing
    return "legacy"


def batch_refusal(session: SessionState | None, era: Era) -> str | None:
    """Why a batch is refused, or None where batches are part of the negotiated version."""
    if era == "modern":
        return f"Batches are not supported by protocol {MODERN_VERSIONS[-1]}."
    if session is not None and session.protocol_version in BATCH_VERSIONS:
        return None
    return "Batches are not supported by this protocol version."


def negotiate(requested: Any) -> str:
    """The client's version if we speak it, otherwise our latest (the client then decides)."""
    return requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE


def initialize_capabilities(capabilities: dict[str, Any], version: str) -> dict[str, Any]:
    declared = dict(capabilities)
    if version == "2024-11-05":
        declared.pop("completions", None)  # added in 2025-03-26
    if version != "2025-11-25":
        declared.pop("tasks", None)  # experimental in 2025-11-25 only
    return declared


def discover_capabilities(capabilities: dict[str, Any]) -> dict[str, Any]:
    """2026-07-28: no logging/setLevel and no resources/subscribe (subscriptions/listen instead); tasks
    are the ``io.modelcontextprotocol/tasks`` extension, not a capability of their own."""
    declared = {name: value for name, value in capabilities.items() if name not in ("logging", "tasks")}
    declared["resources"] = {"listChanged": True}
    if "tasks" in capabilities:
        declared["extensions"] = {**declared.get("extensions", {}), TASK_EXTENSION: {}}
    return declared


def needs_session(method: Any) -> bool:
    """Whether a legacy message must come on an initialized session."""
    return method not in SESSIONLESS_METHODS


@dataclass(frozen=True)
class Envelope:
    """What the lifecycle established about one request before its method runs."""

    version: str
    modern: bool
    capabilities: dict[str, Any]
    log_level: str | None
    meta: dict[str, Any]


def open_request(incoming: Incoming, session: SessionState | None, era: Era, *, served: Container[str]
                 ) -> Envelope:
    """Check a request against the session rules (legacy) or its ``_meta`` (modern), that its method
    exists in the protocol version and that its params have the version's shape. ``served`` are the
    methods this server implements (for the error message)."""
    meta = incoming.params.get("_meta")
    meta = meta if isinstance(meta, dict) else {}
    envelope = _modern_envelope(meta) if era == "modern" else _legacy_envelope(incoming.method, session, meta)
    if (incoming.method, envelope.version) in TASK_REQUESTS:
        return envelope
    if (incoming.method, envelope.version) not in CLIENT_REQUESTS:
        note = f" (not part of protocol version {envelope.version})" if incoming.method in served else ""
        raise errors.MethodNotFound(f"Method not found: {incoming.method}{note}")
    try:
        parse_client_request(incoming.method, envelope.version, incoming.params)
    except pydantic.ValidationError as exc:
        raise errors.InvalidParams(_validation_message(exc)) from exc
    return envelope


def _legacy_envelope(method: str, session: SessionState | None, meta: dict[str, Any]) -> Envelope:
    initialized = session is not None and bool(session.protocol_version)
    if method == "initialize" and initialized:
        raise errors.InvalidRequest("Session already initialized.")
    if session is None or not initialized or method == "initialize":
        if needs_session(method):
            raise errors.InvalidRequest("Session not initialized: send initialize first.")
        return Envelope(LATEST_HANDSHAKE, False, {}, None, meta)
    return Envelope(session.protocol_version, False, session.client_capabilities, session.log_level, meta)


def _modern_envelope(meta: dict[str, Any]) -> Envelope:
    if PROTOCOL_VERSION_META_KEY not in meta:
        raise errors.InvalidParams(
            f"Missing _meta[{PROTOCOL_VERSION_META_KEY!r}]: send initialize first (sessions) or put the protocol "
            f"version in every request's _meta ({MODERN_VERSIONS[-1]})."
        )
    requested = meta[PROTOCOL_VERSION_META_KEY]
    if requested not in MODERN_VERSIONS:
        raise errors.UnsupportedProtocolVersion(
            f"Unsupported protocol version: {requested!r}.",
            data={"supported": list(ALL_VERSIONS), "requested": requested},
        )
    capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY)
    if not isinstance(capabilities, dict):
        raise errors.InvalidParams(
            f"Missing _meta[{CLIENT_CAPABILITIES_META_KEY!r}]: {MODERN_VERSIONS[-1]} requests carry the client's "
            "capabilities."
        )
    level = meta.get(LOG_LEVEL_META_KEY)
    return Envelope(requested, True, capabilities, level if level in LOG_LEVELS else None, meta)


def _validation_message(exc: pydantic.ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        location = ".".join(str(p) for p in error["loc"] if p not in ("params",)) or "params"
        parts.append(f"{location}: {error['msg']}")
    return "Invalid params: " + "; ".join(parts)


def stamp_modern(result: dict[str, Any], method: str, *, server_info: dict[str, Any], list_ttl_ms: int
                 ) -> dict[str, Any]:
    """2026-07-28 results: ``resultType``, the server's info in ``_meta``, and cache hints on list/read."""
    result.setdefault("resultType", "complete")
    result.setdefault("_meta", {})[SERVER_INFO_META_KEY] = server_info
    if method in CACHEABLE_METHODS:
        result.setdefault("ttlMs", list_ttl_ms if method.endswith("list") else 0)
        result.setdefault("cacheScope", "private")
    return result
