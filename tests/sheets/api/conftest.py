"""Fixtures for the quota gate, breaker and monitor: a fake clock, and the stores they run on (the real
Redis of the test run under a key prefix of the test's own, and the in-process stores of embedded mode)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from sheets_sync.accounts import ServiceAccount
from tests.conftest import REQUIRE_SERVICES

CLOSED_PORT_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port: Redis is "down"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    if not settings.REDIS_URL:  # the suite's rule (tests/conftest.py): with CALLMCP_REQUIRE_SERVICES=1, a failure
        if REQUIRE_SERVICES:
            pytest.fail("CALLMCP_REQUIRE_SERVICES=1 but REDIS_URL is unset")
        pytest.skip("needs Redis: set REDIS_URL (CI always does)")
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix no other test uses (with a hash tag: every key of a store in one slot)."""
    value = f"test:sheets:{{{uuid.uuid4().hex}}}"
    yield value
    keys = list(redis_client.scan_iter(match=f"{value}*", count=1000))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def fresh_sheets_state(redis_client: redis.Redis) -> Iterator[None]:
    """No quota tokens, breaker state or counters left in Redis under the service's own keys (what
    ``sheets_client()`` uses) by earlier tests, and a client built afresh from settings."""
    from sheets_sync.client import reset_sheets_client
    from sheets_sync.store import KEY_PREFIX

    def clear() -> None:
        keys = list(redis_client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
        if keys:
            redis_client.delete(*keys)
        reset_sheets_client()

    clear()
    yield
    clear()


def separate_connection(request: pytest.FixtureRequest) -> tuple[redis.Redis, str]:
    """A Redis connection of its own (as another process would have) and the test's key prefix."""
    client = request.getfixturevalue("redis_client")
    return redis.Redis(connection_pool=client.connection_pool), request.getfixturevalue("prefix")


def account(number: int) -> ServiceAccount:
    email = f"writer-{number}@project.iam.gserviceaccount.com"
    return ServiceAccount(email=email, info={"client_email": email})


@pytest.fixture
def pool() -> list[ServiceAccount]:
    return [account(1), account(2), account(3)]
