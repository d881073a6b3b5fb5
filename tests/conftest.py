from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from config.ratelimit import KEY_PREFIX, forget_counts
from users.models import User
from users.services import credits_grant, token_for_user, user_create

T = TypeVar("T")
REQUIRE_SERVICES = os.environ.get("CALLMCP_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked postgres/redis run only on the real servers; CI sets CALLMCP_REQUIRE_SERVICES=1
    so a missing server fails the run instead of skipping."""
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_redis = bool(settings.REDIS_URL)
    if REQUIRE_SERVICES and not (on_postgres and has_redis):
        raise pytest.UsageError("CALLMCP_REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL or REDIS_URL is unset")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI always does)"))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL (CI always does)"))


@pytest.fixture
def make_user(db):  # noqa: ANN001, ANN201
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, *, credits: int = 0, scopes: list[str] | None = None, **extra) -> User:
        user = user_create(
            username=username or f"user{next(counter)}", password="s3cret-pass-word", scopes=scopes, **extra
        )
        if credits:
            credits_grant(user=user, amount=credits, memo="test")
        return user

    return make


@pytest.fixture
def user(make_user) -> User:  # noqa: ANN001
    return make_user("alice", credits=1_000)


@pytest.fixture
def token(user: User) -> str:
    return token_for_user(user=user)


@pytest.fixture
def api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def db_vendor(db) -> str:  # noqa: ANN001
    return connection.vendor


@pytest.fixture
def fresh_rate_limits() -> None:
    """No rate-limit counts left from earlier tests or runs (test databases reuse user ids)."""
    forget_counts()
    if settings.REDIS_URL:
        store = redis.Redis.from_url(settings.REDIS_URL)
        try:
            keys = list(store.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
            if keys:
                store.delete(*keys)
        finally:
            store.close()


def in_one_window(period: int, attempt: Callable[[], T]) -> T:
    """``attempt()``, run again (once, with fresh state of its own) if a fixed rate-limit window of
    ``period`` seconds rolled over while it ran: two roll-overs in one test cannot happen."""
    for _ in range(2):
        window = int(time.time()) // period
        outcome = attempt()
        if int(time.time()) // period == window:
            return outcome
    raise AssertionError(f"a {period}-second window rolled over twice during one test")
