"""Facts about one request, handed from a transport to the dispatcher and on to handlers.

``Principal`` and ``Connection`` are frozen: what the transport established. ``RequestScope`` is the
per-request state handlers use: progress, logging, cancellation, requests to the client, and asking the
user through elicitation in either era (``can_elicit``/``elicit``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway import errors
from mcp_gateway.jsonrpc import notification_message

Emit = Callable[[dict[str, Any]], Awaitable[None]]
RequestClient = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class InputRequired(Exception):  # noqa: N818 - it is an answer, not a failure
    def __init__(self, requests: dict[str, dict[str, Any]], state: dict[str, Any] | None = None) -> None:
        super().__init__("input required")
        self.requests = requests
        self.state = state


ELICIT_ACTIONS = ("accept", "decline", "cancel")


@dataclass(frozen=True)
class Elicitation:
    """The user's answer to an elicitation: ``accept`` (with ``content``), ``decline`` or ``cancel``."""

    action: str
    content: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.action == "accept"

    @classmethod
    def of(cls, answer: Any) -> Elicitation:
        """An ``ElicitResult`` as the client sent it; anything unrecognisable counts as a cancel."""
        answer = answer if isinstance(answer, dict) else {}
        action = answer.get("action")
        content = answer.get("content")
        return cls(action if action in ELICIT_ACTIONS else "cancel", content if isinstance(content, dict) else {})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user and the scopes of their token (from the injected authenticator).

    ``subject`` names a caller that is no user (the anonymous principal of the conformance server,
    whose ``user_id`` is 0); sessions, rate limits and notifications are keyed by ``rate_key``.
    """

    user_id: int
    username: str
    scopes: frozenset[str]
    is_staff: bool = False
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    subject: str | None = None

    @property
    def rate_key(self) -> str:
        return self.subject or str(self.user_id)


async def _discard(message: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Connection:
    """One client connection or session, as the dispatcher sees it."""

    transport: str  # "http", "websocket", "stdio", "sse"
    principal: Principal
    session_id: str | None = None
    protocol_version: str | None = None  # negotiated (legacy); per request on modern


@dataclass
class RequestScope:
    """Mutable per-request state handlers may use: progress, logging, cancellation."""

    connection: Connection
    request_id: Any
    method: str
    protocol_version: str
    modern: bool
    emit: Emit = _discard
    progress_token: Any = None
    log_level: str | None = None
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    request_client: RequestClient | None = None
    input_responses: dict[str, Any] = field(default_factory=dict)
    request_state: dict[str, Any] | None = None  # verified: the server signed it
    _last_progress: float = -1.0

    @property
    def principal(self) -> Principal:
        return self.connection.principal

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send notifications/progress if the client asked for it; progress must increase."""
        if self.progress_token is None or progress <= self._last_progress:
            return
        self._last_progress = progress
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.emit(notification_message("notifications/progress", params))

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """Send notifications/message at ``level`` if the client's level lets it through."""
        threshold = self.log_level
        if self.modern and threshold is None:
            return  # 2026-07-28: only when the request asked for logs
        if threshold is not None and LOG_LEVELS.index(level) < LOG_LEVELS.index(threshold):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger:
            params["logger"] = logger
        await self.emit(notification_message("notifications/message", params))

    def needs_input(self, requests: dict[str, dict[str, Any]], state: dict[str, Any] | None = None) -> InputRequired:
        """2026-07-28: ask the client for input by answering the request with ``input_required``.

        ``raise ctx.needs_input({...})``; the client retries with ``inputResponses`` (in
        ``ctx.input_responses``) and the signed ``state`` comes back verified in ``ctx.request_state``.
        """
        return InputRequired(requests, state)

    def can_elicit(self) -> bool:
        """Whether the client declared form elicitation and this request can carry the question: on
        2026-07-28 always (an ``input_required`` answer); in a session when the transport can send the
        client a request now (an HTTP POST answered as JSON, not SSE, cannot)."""
        if not self.declares_form_elicitation():
            return False
        return self.modern or self.request_client is not None

    def declares_form_elicitation(self) -> bool:
        """Whether the client declared form elicitation (absent, or URL mode only in 2025-11-25: no form)."""
        declared = self.client_capabilities.get("elicitation")
        return isinstance(declared, dict) and not ("url" in declared and "form" not in declared)

    async def elicit(self, key: str, message: str, schema: dict[str, Any], *,
                     state: dict[str, Any] | None = None) -> Elicitation:
        """Ask the user a question the client shows as a form, and return the answer.

        Session era: ``elicitation/create`` is sent to the client now and awaited (the transport's
        timeout). 2026-07-28: the first round raises ``InputRequired`` asking under ``key`` with the
        signed ``state``; the retry that carries an answer under ``key`` and that same state gets it.
        Callers check ``can_elicit()`` first. Raises ``McpError`` when the client refuses or does not
        answer in time (session era), ``InputRequired`` on the first round (2026-07-28).
        """
        params: dict[str, Any] = {"message": message, "requestedSchema": schema}
        if self.modern:
            answer = self.input_responses.get(key)
            if not isinstance(answer, dict) or (state is not None and self.request_state != state):
                raise self.needs_input({key: {"method": "elicitation/create", "params": params}}, state)
            return Elicitation.of(answer)
        return Elicitation.of(await self.ask_client("elicitation/create", params))

    async def ask_client(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request to the client (sampling, elicitation) and wait for its answer."""
        if self.request_client is None:
            raise errors.McpError("This transport cannot send requests to the client.")
        return await self.request_client(method, params)
