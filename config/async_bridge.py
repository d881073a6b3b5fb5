"""Run a coroutine from sync code and wait for its result, without a new event loop for every call.

``asgiref.sync.async_to_sync`` runs the coroutine on the server's own loop when it is called from a thread
the ASGI server handed sync work to. Anywhere else (the poller's worker threads, Celery workers, management
commands) it starts a thread and an event loop for each call, and the Redis channel layer and rate limiter
then open a new connection on each loop: measured at about 4 ms of CPU per notification in the poller,
more than the database work of applying a call's update.

``call_async`` keeps the first case and sends the second to one long-lived loop per process, started on
first use (again after a fork, so Celery's prefork children get their own), whose connections are reused.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT_SECONDS = 30.0


class _LoopThread:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="async-bridge", daemon=True)
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()


_loop: _LoopThread | None = None
_loop_guard = threading.Lock()


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    current = _loop
    if current is None or current.pid != os.getpid() or not current.thread.is_alive():
        with _loop_guard:
            if _loop is None or _loop.pid != os.getpid() or not _loop.thread.is_alive():
                _loop = _LoopThread()
            current = _loop
    return current.loop


def _in_server_thread() -> bool:
    """Inside ``sync_to_async`` (a view or consumer's sync code): asgiref can use the server's own loop."""
    return getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()


def call_async(function: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)`` awaited from sync code; its result, or what it raised. Not for a thread
    that runs an event loop itself (await the coroutine there). A call on the shared loop that takes longer
    than 30 s raises ``TimeoutError`` (the coroutine is cancelled)."""
    if _in_server_thread():
        return async_to_sync(function)(*args, **kwargs)

    async def run() -> R:
        return await function(*args, **kwargs)

    future = asyncio.run_coroutine_threadsafe(run(), _shared_loop())
    try:
        return future.result(timeout=DEFAULT_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise
