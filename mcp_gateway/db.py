"""Database work from the MCP hot path, run in a worker thread with Django's connection hygiene.

The lean ASGI entry (``mcp_gateway.asgi``) skips the request signals that normally close stale
connections, so every call here does that first, in the thread that uses the connection: a connection
past ``CONN_MAX_AGE`` or one that saw an error is closed, and the ``CONN_HEALTH_CHECKS`` probe runs at
most every ``HEALTH_CHECK_SECONDS`` per connection (a request under Django's own handler pays it each
time; a WebSocket sends hundreds of tool calls a second on one connection).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

T = TypeVar("T")
HEALTH_CHECK_SECONDS = 5.0
# When each connection was last checked; weakly held, so it is bounded by the connections alive.
_checked: weakref.WeakKeyDictionary[BaseDatabaseWrapper, float] = weakref.WeakKeyDictionary()


def _due(conn: BaseDatabaseWrapper, now: float) -> bool:
    if conn.connection is None or conn.errors_occurred or conn.autocommit != conn.settings_dict["AUTOCOMMIT"]:
        return True
    if conn.close_at is not None and now >= conn.close_at:
        return True
    return now - _checked.get(conn, 0.0) >= HEALTH_CHECK_SECONDS


def close_old_connections() -> None:
    """Django's ``close_old_connections``, with the health check bounded per connection (see above)."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if _due(conn, now):
            conn.close_if_unusable_or_obsolete()  # the next query checks the connection first
            _checked[conn] = now


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    def call() -> T:
        close_old_connections()
        return fn(*args, **kwargs)

    # On a server database, a thread pool: concurrent tool calls (each a self-contained unit of ORM
    # work, possibly with provider I/O) must not queue behind one another on Django's single
    # "thread-sensitive" thread. SQLite (laptop default) keeps that one thread: it locks whole tables.
    return await sync_to_async(call, thread_sensitive=connection.vendor == "sqlite")()
