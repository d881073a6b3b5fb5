"""The one-runner locks on the real PostgreSQL and Redis, the file lock, and the request budget (with a
fake clock)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connections

from calls.poller.locks import FileLock, LockLost, PostgresAdvisoryLock, RedisLock, runner_lock
from calls.poller.pacing import RequestBudget


def _holder_pid() -> int:
    """The server process of the connection holding the poller's advisory lock (one runner's)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                       "(SELECT oid FROM pg_database WHERE datname = current_database())")
        (pid,) = (row[0] for row in cursor.fetchall())
        return int(pid)


def _terminate(pid: int) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.postgres
@pytest.mark.parametrize("xact", [False, True])
def test_the_advisory_lock_admits_one_holder_and_is_freed_when_its_connection_dies(transactional_db, xact):
    first, second = PostgresAdvisoryLock(xact=xact), PostgresAdvisoryLock(xact=xact)
    assert first.acquire() is True
    try:
        assert second.acquire() is False
        first.refresh()
        _terminate(_holder_pid())  # what happens to the lock when a runner is killed
        with pytest.raises(LockLost):
            first.refresh()
        assert second.acquire() is True
    finally:
        first.release()
        second.release()
    third = PostgresAdvisoryLock(xact=xact)
    assert third.acquire() is True  # released cleanly
    third.release()


@pytest.mark.redis
def test_the_redis_lock_admits_one_holder_is_extended_per_batch_and_lost_when_it_expires():
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = "callmcp:test:poller-lock"
    client.delete(name)
    first = RedisLock(url=settings.REDIS_URL, name=name, ttl_seconds=30.0)
    second = RedisLock(url=settings.REDIS_URL, name=name, ttl_seconds=30.0)
    assert first.acquire() is True
    assert second.acquire() is False
    client.pexpire(name, 500)  # the TTL running out...
    first.refresh()  # ...is pushed back by the next batch
    assert client.pttl(name) > 20_000
    client.pexpire(name, 1)  # as if the holder had stalled past its TTL
    deadline = time.monotonic() + 10
    while not second.acquire():
        assert time.monotonic() < deadline, "the expired lock was never free"
    with pytest.raises(LockLost):
        first.refresh()
    second.release()
    first.release()
    assert client.exists(name) == 0


def test_the_file_lock_admits_one_holder_until_released(tmp_path: Path):
    first, second = FileLock(tmp_path / "poll.lock"), FileLock(tmp_path / "poll.lock")
    assert first.acquire() is True
    assert second.acquire() is False
    first.refresh()
    first.release()
    assert second.acquire() is True
    second.release()


def test_the_configured_lock_follows_the_deployment(settings, db):
    settings.POLLER_LOCK = "auto"
    expected = "postgres" if connections["default"].vendor == "postgresql" else (
        "redis" if settings.REDIS_URL else "file")
    assert runner_lock().backend == expected
    settings.POLLER_LOCK = "postgres_xact"
    assert runner_lock().backend == "postgres_xact"
    settings.POLLER_LOCK = "zookeeper"
    with pytest.raises(ValueError, match="use auto, postgres, postgres_xact, redis or file"):
        runner_lock()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_request_budget_paces_requests_and_pauses_everyone_after_a_429():
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)
    assert all(budget.acquire() for _ in range(3))
    assert clock.slept == [0.1, 0.1]  # the first goes at once, then one every 100 ms
    budget.pause(2.0)
    assert budget.acquire() is True
    assert clock.slept[-1] == 2.0
    assert budget.acquire(deadline=clock.now + 0.05) is False  # its turn would come after the deadline
    assert budget.acquire(deadline=clock.now + 0.2) is True
    with pytest.raises(ValueError, match="positive"):
        RequestBudget(0)
