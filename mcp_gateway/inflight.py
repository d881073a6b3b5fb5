"""Requests in flight and their cancellation, in one place.

A request is tracked from the moment its method starts until it answers, under (session or
connection, request id). ``notifications/cancelled`` stops it: here if this process runs it, otherwise
every process is asked over Redis pub/sub (a session can be served by any process), and the one
running it stops it. ``initialize`` is never cancelled, and unknown or finished ids are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Iterator
from typing import Any

from config.redis_clients import redis_for_loop
from mcp_gateway.context import Connection, RequestScope

logger = logging.getLogger(__name__)

CANCEL_CHANNEL = "callmcp:mcp:cancellations"
Key = tuple[str, Any]


class InFlight:
    def __init__(self, *, redis_url: str = "") -> None:
        self._redis_url = redis_url
        self._running: dict[Key, tuple[asyncio.Task[Any] | None, RequestScope]] = {}
        # One cross-process listener per event loop (normally one per process), weakly held.
        self._listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def key(connection: Connection, request_id: Any) -> Key:
        return (connection.session_id or f"conn:{id(connection)}", request_id)

    @contextlib.contextmanager
    def track(self, scope: RequestScope) -> Iterator[None]:
        """Track the running request of ``scope`` until the block ends."""
        key = self.key(scope.connection, scope.request_id)
        self._running[key] = (asyncio.current_task(), scope)
        if scope.connection.session_id:
            self._ensure_listener()
        try:
            yield
        finally:
            self._running.pop(key, None)

    def __len__(self) -> int:
        return len(self._running)

    async def cancel(self, connection: Connection, request_id: Any) -> None:
        """Stop ``request_id`` of this connection, in this process or, for a session, wherever it runs."""
        if self._cancel_key(self.key(connection, request_id)) or not connection.session_id:
            return
        if self._redis_url:
            message = json.dumps({"session": connection.session_id, "request_id": request_id})
            await redis_for_loop(self._redis_url).publish(CANCEL_CHANNEL, message)

    def _cancel_key(self, key: Key) -> bool:
        entry = self._running.get(key)
        if entry is None:
            return False
        task, scope = entry
        if scope.method == "initialize":
            return False
        if task is None:
            scope.cancelled.set()
            return True
        loop = task.get_loop()

        def stop() -> None:
            scope.cancelled.set()
            task.cancel()

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            stop()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(stop)  # asyncio objects belong to their loop's thread
        return True

    def _ensure_listener(self) -> None:
        if not self._redis_url:
            return  # without Redis there is one process, and it has already looked locally
        loop = asyncio.get_running_loop()
        task = self._listeners.get(loop)
        if task is None or task.done():
            self._listeners[loop] = loop.create_task(self._listen())

    async def _listen(self) -> None:
        try:
            pubsub = redis_for_loop(self._redis_url).pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(CANCEL_CHANNEL)
            async for message in pubsub.listen():
                try:
                    event = json.loads(message["data"])
                    self._cancel_key((str(event.get("session", "")), event.get("request_id")))
                except (ValueError, TypeError, KeyError):
                    continue
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a lost subscription must not take the process down
            logger.warning("cancellation listener stopped; it restarts with the next request", exc_info=True)
