"""Database work from the MCP hot path, run in a worker thread with Django's connection hygiene.

The lean ASGI entry (``mcp_gateway.asgi``) skips the request signals that normally close stale
connections, so every call here checks the thread's connection first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    def call() -> T:
        close_old_connections()
        return fn(*args, **kwargs)

    # On a server database, a thread pool: concurrent tool calls (each a self-contained unit of ORM
    # work, possibly with provider I/O) must not queue behind one another on Django's single
    # "thread-sensitive" thread. SQLite (laptop default) keeps that one thread: it locks whole tables.
    return await sync_to_async(call, thread_sensitive=connection.vendor == "sqlite")()
