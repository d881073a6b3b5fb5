"""One-statement reads on the event loop, for hot paths on PostgreSQL that would otherwise hop to a worker
thread for a single indexed SELECT.

Django's ORM is synchronous: from async code each query goes through ``sync_to_async`` to a worker thread,
and under load the event loop and the worker threads then take turns at the GIL. For one statement that
hand-off costs more than the query (on two cores, a tools/call that reads one row spent twice the CPU of
one that reads none). Here psycopg's own asyncio connections, from a small pool per event loop
(psycopg_pool, bounded by ``DATABASE_ASYNC_POOL_SIZE``), run such a statement on the loop itself.

The connections take Django's connection parameters and adapters (``get_connection_params``), so values
come back as the ORM's cursor gives them and the caller can apply Django's converters. They run in
autocommit: a read sees what is committed, like any other connection. Only PostgreSQL has this path;
``fetchone`` returns ``NOT_AVAILABLE`` elsewhere, or when the pool cannot give a connection in time, and
the caller then reads through the ORM as before.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Any, Final

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import Error as DatabaseError
from psycopg_pool import AsyncConnectionPool, PoolTimeout

logger = logging.getLogger(__name__)

POSTGRESQL: Final = "django.db.backends.postgresql"  # the engine this path serves (not a subclass of it)
APPLICATION_NAME: Final = "callmcp loop reads"
NOT_AVAILABLE: Final = object()  # no loop-side read here: read through the ORM instead
# The pool of each event loop and connection parameters: weakly keyed by the loop, so a closed loop's pool
# goes with it and the map is bounded by the loops alive (normally one per process).
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def _connect_kwargs(db: BaseDatabaseWrapper) -> dict[str, Any]:
    """psycopg connection keyword arguments: Django's own parameters and adapters, in autocommit."""
    params = dict(db.get_connection_params())
    params.pop("cursor_factory", None)  # Django's are synchronous; the pool's connections use psycopg's own
    params["autocommit"] = True
    params.setdefault("application_name", APPLICATION_NAME)  # what pg_stat_activity shows for them
    return params


def _pool() -> AsyncConnectionPool | None:
    """The running loop's pool for the default database, or None when it is not PostgreSQL or the pool is
    turned off. Looked up by the settings that name the server (tests move the database under a running
    loop), not through a connection wrapper: on the loop each request's context would make one."""
    size, where = settings.DATABASE_ASYNC_POOL_SIZE, connections.settings[DEFAULT_DB_ALIAS]
    if size < 1 or where["ENGINE"] != POSTGRESQL:
        return None
    key = (where["NAME"], where["HOST"], where["PORT"], where["USER"], size)
    per_loop = _pools.setdefault(asyncio.get_running_loop(), {})
    pool = per_loop.get(key)
    if pool is None:
        # Recycled like the ORM's connections (CONN_MAX_AGE) when that is a positive age, else hourly.
        max_age = where.get("CONN_MAX_AGE") or 3600
        pool = per_loop[key] = AsyncConnectionPool(
            kwargs=_connect_kwargs(connections[DEFAULT_DB_ALIAS]), min_size=1, max_size=size, open=False,
            timeout=settings.DATABASE_ASYNC_POOL_TIMEOUT, max_lifetime=float(max_age), name="callmcp-loop-reads")
    return pool


async def fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None | object:
    """The first row of ``sql`` with ``params`` (``%s`` placeholders, as Django's cursors take them), None
    when there is none, or ``NOT_AVAILABLE`` (see the module's docstring)."""
    pool = _pool()
    if pool is None:
        return NOT_AVAILABLE
    try:
        if pool.closed:
            await pool.open(wait=False)
        async with pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(sql, params)
            return await cursor.fetchone()
    except (PoolTimeout, DatabaseError) as exc:
        # The pool throws a broken connection away on return; this read goes through the ORM instead.
        logger.warning("loop-side read not available (%s: %s); reading through the ORM", type(exc).__name__, exc)
        return NOT_AVAILABLE


async def close_pools() -> None:
    """Close the running loop's pools (a server shutting down, a test ending its loop)."""
    for pool in _pools.pop(asyncio.get_running_loop(), {}).values():
        await pool.close()
