"""Exactly one poller at a time, across hosts.

- PostgreSQL: ``pg_try_advisory_lock`` on a connection of its own. The server frees the lock when that
  connection drops, so a runner that crashed or was killed never blocks the next one.
- PostgreSQL behind a transaction pooler (PgBouncer in transaction mode, RDS Proxy): session locks do not
  stick to one server connection there, so ``postgres_xact`` takes ``pg_try_advisory_xact_lock`` inside a
  transaction that stays open on that dedicated connection until the run ends.
- Redis (no PostgreSQL): a lock with a TTL, extended after every batch; a crashed holder blocks others
  until the TTL runs out.
- Neither (SQLite on a laptop, one host): ``flock`` on a file, freed by the kernel when the process dies.

``acquire`` answers at once (never waits); ``refresh`` raises ``LockLost`` when the lock is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Any, Protocol

import redis
from django.conf import settings
from django.db import DatabaseError, connection, connections

logger = logging.getLogger(__name__)

LOCK_NAME = "callmcp:poll_calls"


class LockLost(Exception):
    """The runner no longer holds the lock: it must stop before another runner starts."""


class RunnerLock(Protocol):
    backend: str

    def acquire(self) -> bool: ...
    def refresh(self) -> None: ...
    def release(self) -> None: ...


class PostgresAdvisoryLock:
    """``pg_try_advisory_lock(hashtext(name))``, or with ``xact`` the transaction-scoped variant."""

    def __init__(self, *, name: str = LOCK_NAME, xact: bool = False, alias: str = "default") -> None:
        self.backend = "postgres_xact" if xact else "postgres"
        self._name = name
        self._xact = xact
        self._alias = alias
        self._conn: Any = None

    def acquire(self) -> bool:
        conn = connections.create_connection(self._alias)
        try:
            if self._xact:
                conn.set_autocommit(False)
            function = "pg_try_advisory_xact_lock" if self._xact else "pg_try_advisory_lock"
            with conn.cursor() as cursor:
                cursor.execute(f"SELECT {function}(hashtext(%s))", [self._name])  # noqa: S608 - a fixed name
                held = bool(cursor.fetchone()[0])
        except BaseException:
            conn.close()
            raise
        if not held:
            conn.close()
            return False
        self._conn = conn
        return True

    def refresh(self) -> None:
        if self._conn is None:
            raise LockLost("the lock was never taken")
        try:
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as exc:
            raise LockLost(f"the lock's database connection is gone: {exc}") from exc

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._xact:
                conn.rollback()  # ends the transaction, and with it the lock
            else:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [self._name])
        except DatabaseError:
            logger.warning("could not release the poller lock cleanly; closing its connection frees it")
        finally:
            conn.close()


class RedisLock:
    """A Redis lock with a TTL, extended after every batch (``refresh``)."""

    backend = "redis"

    def __init__(self, *, url: str, name: str = LOCK_NAME, ttl_seconds: float = 120.0) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._lock = self._client.lock(name, timeout=ttl_seconds, blocking=False)
        self._ttl = ttl_seconds

    def acquire(self) -> bool:
        return bool(self._lock.acquire(blocking=False))

    def refresh(self) -> None:
        try:
            self._lock.extend(self._ttl, replace_ttl=True)
        except (redis.exceptions.LockError, redis.exceptions.RedisError) as exc:
            raise LockLost(f"the Redis lock expired or was taken: {exc}") from exc

    def release(self) -> None:
        with contextlib.suppress(redis.exceptions.LockError, redis.exceptions.RedisError):
            self._lock.release()
        self._client.close()


class FileLock:
    """``flock`` on a file: one host only (the SQLite default)."""

    backend = "file"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        handle = self._path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def refresh(self) -> None:
        if self._file is None:
            raise LockLost("the lock was never taken")

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def runner_lock(*, ttl_seconds: float = 120.0) -> RunnerLock:
    """The lock ``settings.POLLER_LOCK`` names; ``auto`` picks the best one this deployment has."""
    choice = settings.POLLER_LOCK
    if choice == "auto":
        choice = "postgres" if connection.vendor == "postgresql" else "redis" if settings.REDIS_URL else "file"
    if choice in ("postgres", "postgres_xact"):
        return PostgresAdvisoryLock(xact=choice == "postgres_xact")
    if choice == "redis":
        if not settings.REDIS_URL:
            raise ValueError("POLLER_LOCK=redis needs REDIS_URL")
        return RedisLock(url=settings.REDIS_URL, ttl_seconds=ttl_seconds)
    if choice == "file":
        return FileLock(Path(settings.POLLER_LOCK_FILE))
    raise ValueError(f"POLLER_LOCK={choice!r}: use auto, postgres, postgres_xact, redis or file")
