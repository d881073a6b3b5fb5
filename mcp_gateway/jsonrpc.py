"""The JSON-RPC 2.0 core: envelopes, ids, batches, a method table and the one exception-to-wire mapping.

It knows nothing of MCP or HTTP. A protocol layer above it (``mcp_gateway.dispatcher``) gives it two
coroutines, one for requests and one for notifications, and a context value it passes through; the
transports below it hand it decoded JSON and send back what it returns.

Handlers raise ``JsonRpcError`` (or a subclass) to answer with an error, ``NoResponse`` to answer
nothing; any other exception is logged and answered ``-32603 Internal error.`` without detail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

RequestId = str | int
C = TypeVar("C")
logger = logging.getLogger(__name__)


class JsonRpcError(Exception):
    """An error answered on the wire: ``code``, ``message`` and optional ``data``."""

    code: int = INTERNAL_ERROR

    def __init__(self, message: str, *, data: Any = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code

    def to_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(JsonRpcError):
    code = PARSE_ERROR


class InvalidRequest(JsonRpcError):
    code = INVALID_REQUEST


class MethodNotFound(JsonRpcError):
    code = METHOD_NOT_FOUND


class InvalidParams(JsonRpcError):
    code = INVALID_PARAMS


class NoResponse(Exception):  # noqa: N818 - an instruction, not a failure
    """Raised by a handler whose request must get no answer (for example, it was cancelled)."""


def is_request_id(value: Any) -> bool:
    """A string or an integer; never null, never a boolean (True would alias id 1)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def result_response(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: Any, error: JsonRpcError) -> dict[str, Any]:
    """The one place a JSON-RPC error envelope is built."""
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_error()}


def request_message(request_id: RequestId, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification_message(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def is_response(message: Any) -> bool:
    """A reply to a request we sent (it has an id and a result or an error, and no method)."""
    return isinstance(message, dict) and "method" not in message and "id" in message and (
        "result" in message or "error" in message
    )


def is_notification(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" not in message


def is_request(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" in message


def messages_of(payload: Any) -> list[Any]:
    """The messages of a payload: the items of a batch, or the one message."""
    return payload if isinstance(payload, list) else [payload]


@dataclass(frozen=True)
class Incoming:
    """One validated request (``id`` set) or notification (``id`` None)."""

    method: str
    params: dict[str, Any]
    id: RequestId | None = None

    @property
    def is_notification(self) -> bool:
        return self.id is None


def parse_envelope(message: Any) -> Incoming | None:
    """The request or notification in ``message``; None for a response. Raises ``InvalidRequest``/``InvalidParams``."""
    if not isinstance(message, dict):
        raise InvalidRequest("Invalid request: a JSON-RPC message must be an object.")
    if message.get("jsonrpc") != "2.0":
        raise InvalidRequest('Invalid request: "jsonrpc" must be "2.0".')
    if "method" not in message:
        if is_response(message):
            return None
        raise InvalidRequest('Invalid request: "method" is missing.')
    method = message["method"]
    if not isinstance(method, str):
        raise InvalidRequest('Invalid request: "method" must be a string.')
    if "id" in message and not is_request_id(message["id"]):
        raise InvalidRequest('Invalid request: "id" must be a string or an integer.')
    params = message.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidParams('Invalid params: "params" must be an object.')
    return Incoming(method=method, params=params or {}, id=message.get("id"))


Handler = Callable[[C, Incoming], Awaitable[Any]]
MethodHandler = Callable[[C], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Method(Generic[C]):
    name: str
    handler: MethodHandler[C]
    streams: bool  # may send messages (progress, logs, requests to the peer) before it answers


class MethodTable(Generic[C]):
    """Method name -> handler of one call value ``C`` (whatever the layer above hands its methods).

    ``streams`` says whether a method may send messages before its answer, so a transport can answer
    the others in one piece.
    """

    def __init__(self) -> None:
        self._methods: dict[str, Method[C]] = {}

    def add(self, name: str, handler: MethodHandler[C], *, streams: bool = False) -> None:
        if name in self._methods:
            raise ValueError(f"method {name!r} registered twice")
        self._methods[name] = Method(name, handler, streams)

    def get(self, name: str) -> Method[C] | None:
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[str]:
        return iter(self._methods)

    def streams(self, name: Any) -> bool:
        """True unless ``name`` is a known method that never sends messages before its answer."""
        method = self._methods.get(name) if isinstance(name, str) else None
        return method is None or method.streams


@dataclass(frozen=True)
class Outcome:
    """How one message ended, for the observer: ``ok``, ``notification``, ``cancelled`` or ``error <code>``."""

    method: str
    params: dict[str, Any]
    label: str
    seconds: float


Observer = Callable[[C, Outcome], None]


class Core(Generic[C]):
    """Answers decoded JSON: one message, or a batch when the caller allows it."""

    def __init__(
        self,
        *,
        on_request: Handler[C],
        on_notification: Callable[[C, Incoming], Awaitable[None]],
        observe: Observer[C] | None = None,
    ) -> None:
        self._on_request = on_request
        self._on_notification = on_notification
        self._observe = observe

    async def handle(self, payload: Any, context: C, *, batch_refusal: str | None = None
                     ) -> dict[str, Any] | list[dict[str, Any]] | None:
        """The answer to ``payload``: a response, a list of them (batches), or None.

        ``batch_refusal`` is the message a batch is refused with; None accepts batches.
        """
        if not isinstance(payload, list):
            return await self.handle_message(payload, context)
        if not payload:
            return error_response(None, InvalidRequest("Batches are not supported: empty batch."))
        if batch_refusal is not None:
            return error_response(None, InvalidRequest(batch_refusal))
        answers = await asyncio.gather(*(self.handle_message(item, context) for item in payload))
        return [answer for answer in answers if answer is not None] or None

    async def handle_message(self, message: Any, context: C) -> dict[str, Any] | None:
        started = time.perf_counter()
        incoming: Incoming | None = None
        label = "ok"
        try:
            incoming = parse_envelope(message)
            if incoming is None:
                return None  # a reply to one of our requests: the transport delivered it already
            if incoming.id is None:
                label = "notification"
                await self._on_notification(context, incoming)
                return None
            return result_response(incoming.id, await self._on_request(context, incoming))
        except NoResponse:
            label = "cancelled"
            return None
        except asyncio.CancelledError:
            label = "cancelled"  # the peer closed the stream that carried the request
            raise
        except JsonRpcError as exc:
            label = f"error {exc.code}"
            return None if is_notification(message) else error_response(_id_of(message), exc)
        except Exception:
            label = f"error {INTERNAL_ERROR}"
            logger.exception("JSON-RPC %s failed", incoming.method if incoming else "message")
            if is_notification(message):
                return None
            return error_response(_id_of(message), JsonRpcError("Internal error."))
        finally:
            if self._observe is not None:
                method, params = (incoming.method, incoming.params) if incoming else ("?", {})
                self._observe(context, Outcome(method, params, label, time.perf_counter() - started))


def _id_of(message: Any) -> Any:
    """The id to answer an error with: the message's own when it is a valid one, else null."""
    if isinstance(message, dict) and is_request_id(message.get("id")):
        return message["id"]
    return None
