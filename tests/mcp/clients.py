"""Two small MCP test clients with one interface: ``HttpMcp`` (Streamable HTTP) and ``WsMcp`` (WebSocket).

Both are synchronous and bounded: every network wait has a timeout and every "wait until" polls
with a deadline. Messages the server sends land in one inbox: answers by request id, notifications
in ``notifications`` (in arrival order), server-to-client requests in ``server_requests``.

    client = HttpMcp(base_url, token)          # or WsMcp(base_url, token)
    client.initialize(version="2025-11-25")    # the full JSON-RPC answer to initialize
    client.request("tools/list")               # the full JSON-RPC answer (result or error)
    request_id = client.start("tools/call", {...})   # send, do not wait
    client.wait_response(request_id)
    client.notify("notifications/cancelled", {"requestId": request_id})
    client.listen()                            # HTTP: open the GET stream; WebSocket: nothing to do
    client.close()
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

__all__ = ["LATEST_VERSION", "McpClient", "HttpMcp", "WsMcp", "McpTimeout", "iter_sse"]

LATEST_VERSION = "2025-11-25"
MCP_PATH = "/api/v1/mcp"
ACCEPT_BOTH = "application/json, text/event-stream"
TIMEOUT = 10.0


class McpTimeout(AssertionError):
    """What a test expected did not arrive before its deadline."""


def iter_sse(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events from text lines: dicts with ``event``, ``id`` and ``data`` (lines joined by \\n)."""
    event: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if line == "":
            if data or event:
                yield {"event": event.get("event", "message"), "id": event.get("id", ""), "data": "\n".join(data)}
            event, data = {}, []
            continue
        if line.startswith(":"):
            continue  # a comment: keepalive
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field in ("event", "id", "retry"):
            event[field] = value
    if data:
        yield {"event": event.get("event", "message"), "id": event.get("id", ""), "data": "\n".join(data)}


class McpClient:
    """The shared part: ids, the inbox and bounded waits. Subclasses move the bytes."""

    transport = "?"

    def __init__(self, base_url: str, token: str | None, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.protocol_version: str | None = None
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self._responses: dict[Any, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._inbox = threading.Condition()

    # --- the interface -------------------------------------------------------------------------

    def initialize(self, version: str = LATEST_VERSION, *, capabilities: dict[str, Any] | None = None,
                   meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Handshake, then ``notifications/initialized`` when it succeeded. Returns the full answer."""
        params: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "callmcp-tests", "version": "1"},
        }
        if meta is not None:
            params["_meta"] = meta
        answer = self.request("initialize", params)
        if "result" in answer:
            self.protocol_version = answer["result"]["protocolVersion"]
            self.notify("notifications/initialized")
        return answer

    def request(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
                ) -> dict[str, Any]:
        """Send a request and return the full JSON-RPC answer to it."""
        return self.wait_response(self.start(method, params), timeout=timeout)

    def start(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = None) -> Any:
        """Send a request without waiting for its answer; returns its id."""
        request_id = next(self._ids) if request_id is None else request_id
        self.send(self.message(method, params, request_id))
        return request_id

    @staticmethod
    def message(method: str, params: dict[str, Any] | None = None, request_id: Any = None) -> dict[str, Any]:
        """A JSON-RPC request (or, without ``request_id``, a notification)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if request_id is not None:
            message["id"] = request_id
        if params is not None:
            message["params"] = params
        return message

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send(self.message(method, params))

    def send(self, message: Any) -> None:
        """Send one JSON value (a message, a batch, anything)."""
        self.send_text(json.dumps(message))

    def send_text(self, text: str) -> None:
        """Send text as it is, JSON or not."""
        raise NotImplementedError

    def listen(self) -> None:
        """Make sure server-initiated notifications (resources/updated) can reach this client."""

    def close(self) -> None:
        raise NotImplementedError

    # --- the inbox -----------------------------------------------------------------------------

    def has_response(self, request_id: Any) -> bool:
        with self._inbox:
            return request_id in self._responses

    def answer_to(self, request_id: Any) -> dict[str, Any] | None:
        """The answer that arrived for ``request_id`` (None: an error the server could not tie to a request)."""
        with self._inbox:
            return self._responses.get(request_id)

    def wait_until(self, predicate: Callable[[], bool], *, timeout: float | None = None) -> bool:
        """Poll ``predicate`` as messages arrive, until it holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            with self._inbox:
                if predicate():
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._exhausted():
                return False
            self._pump(min(remaining, 0.5))

    def wait_response(self, request_id: Any, *, timeout: float | None = None) -> dict[str, Any]:
        if not self.wait_until(lambda: request_id in self._responses, timeout=timeout):
            raise McpTimeout(f"{self.transport}: no answer to request {request_id!r} (connection closed: "
                             f"{self._exhausted()})")
        with self._inbox:
            return self._responses[request_id]

    def wait_notification(self, method: str, where: Callable[[dict[str, Any]], bool] = lambda params: True,
                          *, after: int = 0, timeout: float | None = None) -> dict[str, Any]:
        """The first notification ``method`` (at index >= ``after``) whose params satisfy ``where``."""

        def found() -> dict[str, Any] | None:
            for message in self.notifications[after:]:
                if message.get("method") == method and where(message.get("params") or {}):
                    return message
            return None

        if not self.wait_until(lambda: found() is not None, timeout=timeout):
            raise McpTimeout(f"{self.transport}: no {method} notification arrived")
        with self._inbox:
            message = found()
        assert message is not None
        return message

    def notifications_of(self, method: str, *, after: int = 0) -> list[dict[str, Any]]:
        with self._inbox:
            return [m.get("params") or {} for m in self.notifications[after:] if m.get("method") == method]

    def _deliver(self, message: Any) -> None:
        with self._inbox:
            for item in message if isinstance(message, list) else [message]:
                if not isinstance(item, dict):
                    continue
                if "method" in item and "id" in item:
                    self.server_requests.append(item)
                elif "method" in item:
                    self.notifications.append(item)
                else:
                    self._responses[item.get("id")] = item
            self._inbox.notify_all()

    def _pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for more messages."""
        with self._inbox:
            self._inbox.wait(timeout)

    def _exhausted(self) -> bool:
        """True once nothing more can arrive (the connection is closed)."""
        return False

    def __enter__(self) -> McpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpMcp(McpClient):
    """Streamable HTTP: POST answers are read as JSON or as an SSE stream; GET opens the session stream.

    ``send`` blocks until the POST's answer (or stream) is complete; ``start`` runs the POST in a
    thread, so a test can act while a request streams. ``last_response`` is the last POST's
    ``httpx.Response`` (status and headers; the body is already consumed).
    """

    transport = "http"

    def __init__(self, base_url: str, token: str | None, *, timeout: float = TIMEOUT) -> None:
        super().__init__(base_url, token, timeout=timeout)
        headers = {"Accept": ACCEPT_BOTH}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, trust_env=False)
        self.session_id: str | None = None
        self.last_response: httpx.Response | None = None
        self.responses: dict[Any, httpx.Response] = {}  # the HTTP response that carried each request
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._refusals: dict[Any, dict[str, Any]] = {}  # request id -> a POST's answer that did not name it
        self._streams: list[tuple[threading.Thread, list[socket.socket]]] = []

    def session_headers(self) -> dict[str, str]:
        headers = {}
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    def send(self, message: Any) -> None:
        self.post(message)

    def send_text(self, text: str) -> None:
        self.post(None, content=text.encode())

    def request(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
                ) -> dict[str, Any]:
        request_id = next(self._ids)
        self.post(self.message(method, params, request_id))
        return self.wait_response(request_id, timeout=timeout)

    def start(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = None) -> Any:
        request_id = next(self._ids) if request_id is None else request_id
        thread = threading.Thread(target=self._post_in_thread, args=(self.message(method, params, request_id),),
                                  daemon=True)
        self._threads.append(thread)
        thread.start()
        return request_id

    def wait_response(self, request_id: Any, *, timeout: float | None = None) -> dict[str, Any]:
        """The answer to ``request_id``; an HTTP-level refusal (401, 404, 406, ...) may carry id null."""

        def answered() -> bool:
            return request_id in self._responses or request_id in self._refusals or bool(self._errors)

        if not self.wait_until(answered, timeout=timeout):
            raise McpTimeout(f"{self.transport}: no answer to request {request_id!r}")
        self._raise_thread_errors()
        with self._inbox:
            return self._responses.get(request_id) or self._refusals[request_id]

    def post(self, message: Any, *, headers: dict[str, str] | None = None, content: bytes | None = None
             ) -> httpx.Response:
        """POST one JSON value (or raw ``content``); deliver whatever comes back; return the response."""
        request_headers = {"Content-Type": "application/json", **self.session_headers(), **(headers or {})}
        body = content if content is not None else json.dumps(message).encode()
        request_id = message.get("id") if isinstance(message, dict) and "method" in message else None
        with self.http.stream("POST", MCP_PATH, content=body, headers=request_headers) as response:
            if request_id is not None:
                self.responses[request_id] = response
            self.last_response = response
            if isinstance(message, dict) and message.get("method") == "initialize":
                self.session_id = response.headers.get("Mcp-Session-Id", self.session_id)
            if response.headers.get("Content-Type", "").startswith("text/event-stream"):
                for event in iter_sse(response.iter_lines()):
                    if event["data"]:
                        self._deliver(json.loads(event["data"]))
            else:
                response.read()
                answer = response.json() if response.content else None
                if request_id is not None and isinstance(answer, dict) and answer.get("id") != request_id:
                    with self._inbox:
                        self._refusals[request_id] = answer
                self._deliver(answer)
        return response

    def _post_in_thread(self, message: dict[str, Any]) -> None:
        try:
            self.post(message)
        except Exception as exc:  # re-raised in the test thread by wait_response
            self._errors.append(exc)
            with self._inbox:
                self._inbox.notify_all()

    def _raise_thread_errors(self) -> None:
        if self._errors:
            raise self._errors[0]

    def listen(self) -> None:
        """Open GET /api/v1/mcp (the session's stream) and return once the server has primed it."""
        ready = threading.Event()
        sockets: list[socket.socket] = []

        def read() -> None:
            headers = {"Accept": "text/event-stream", **self.session_headers()}
            timeout = httpx.Timeout(self.timeout, read=60)
            try:
                with self.http.stream("GET", MCP_PATH, headers=headers, timeout=timeout) as response:
                    stream = response.extensions.get("network_stream")
                    if stream is not None:
                        sockets.append(stream.get_extra_info("socket"))
                    if response.status_code != 200:
                        response.read()
                        self._errors.append(AssertionError(
                            f"GET {MCP_PATH} answered {response.status_code}: {response.text[:200]}"))
                        ready.set()
                        return
                    for event in iter_sse(response.iter_lines()):
                        ready.set()  # the first event (priming) means the server is subscribed
                        if event["data"]:
                            self._deliver(json.loads(event["data"]))
            except Exception as exc:  # a stream cut by close() ends here; earlier failures are reported
                if not ready.is_set():
                    self._errors.append(exc)
            finally:
                ready.set()

        thread = threading.Thread(target=read, daemon=True)
        self._streams.append((thread, sockets))
        thread.start()
        if not ready.wait(self.timeout):
            raise McpTimeout("the GET stream did not open")
        self._raise_thread_errors()

    def delete(self) -> httpx.Response:
        return self.http.delete(MCP_PATH, headers=self.session_headers())

    def close(self) -> None:
        for thread, sockets in self._streams:
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv()
            thread.join(self.timeout)
        for thread in self._threads:
            thread.join(self.timeout)
        self.http.close()


class WsMcp(McpClient):
    """WebSocket at ws://host/mcp, subprotocol ``mcp``, one JSON-RPC message per text frame."""

    transport = "websocket"

    def __init__(self, base_url: str, token: str | None, *, timeout: float = TIMEOUT, query: str = "",
                 headers: dict[str, str] | None = None, subprotocols: tuple[str, ...] = ("mcp",)) -> None:
        super().__init__(base_url, token, timeout=timeout)
        url = "ws" + self.base_url.removeprefix("http") + "/mcp" + (f"?{query}" if query else "")
        extra = dict(headers or {})
        if token is not None:
            extra["Authorization"] = f"Bearer {token}"
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(connect(
            url, subprotocols=list(subprotocols), additional_headers=extra, open_timeout=timeout, close_timeout=2,
            proxy=None, compression=None,
        ))
        self.closed_code: int | None = None
        self._lock = threading.Lock()

    @property
    def subprotocol(self) -> str | None:
        return self.ws.subprotocol

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def _pump(self, timeout: float) -> None:
        if self.closed_code is not None:
            return
        if not self._lock.acquire(timeout=timeout):  # one reader at a time; the others see what it delivers
            return
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return
        except ConnectionClosed as exc:
            self.closed_code = exc.rcvd.code if exc.rcvd is not None else 1006
            return
        finally:
            self._lock.release()
        self._deliver(json.loads(raw))

    def _exhausted(self) -> bool:
        return self.closed_code is not None

    def wait_closed(self, *, timeout: float | None = None) -> int | None:
        """Read until the server closes the socket; the close code."""
        self.wait_until(lambda: False, timeout=timeout)
        if self.closed_code is None:
            raise McpTimeout("the server did not close the WebSocket")
        return self.closed_code

    def close(self) -> None:
        self._stack.close()


# --- answers ---------------------------------------------------------------------------------------


def result_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert "result" in answer, answer
    return answer["result"]


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" in answer, answer
    assert "result" not in answer
    return answer["error"]


def request_log(records: list[Any]) -> list[dict[str, Any]]:
    """The structured ``mcp_request {...}`` lines among captured log records (pytest's caplog.records)."""
    prefix = "mcp_request "
    return [json.loads(r.getMessage().removeprefix(prefix)) for r in records
            if r.name == "mcp_gateway.requests" and r.getMessage().startswith(prefix)]


def walk_pages(client: McpClient, method: str, key: str) -> list[list[dict[str, Any]]]:
    """Every page of a paginated list, following nextCursor (at most 50 pages)."""
    pages, params = [], {}
    for _ in range(50):
        result = result_of(client.request(method, params))
        pages.append(result[key])
        if "nextCursor" not in result:
            return pages
        params = {"cursor": result["nextCursor"]}
    raise AssertionError(f"{method} never reached its last page")
