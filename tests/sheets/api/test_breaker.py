"""The circuit breaker shared by every worker: closed, open, half-open, on Redis (and in memory for the
embedded mode), and fail-safe when Redis is down."""

from __future__ import annotations

import time

import pytest
import redis

from sheets_sync.breaker import (
    BreakerSettings,
    CircuitBreaker,
    MemoryBreakerStore,
    RedisBreakerStore,
)
from sheets_sync.events import BreakerClosed, breaker_closed
from tests.sheets.api.conftest import CLOSED_PORT_URL, separate_connection

CONFIG = BreakerSettings(failures=3, window_seconds=60, cooldown_seconds=30, probe_seconds=100)
announced: list[BreakerClosed] = []


def _remember(event: BreakerClosed) -> None:
    announced.append(event)


breaker_closed.subscribe(_remember)


@pytest.fixture(params=["redis", "memory"])
def make_breaker(request, clock):
    """Breakers as separate workers would build them, on one shared state."""
    memory = MemoryBreakerStore(clock)
    closes: list[BreakerClosed] = []

    def make(config=CONFIG):
        store = RedisBreakerStore(*separate_connection(request)) if request.param == "redis" else memory
        return CircuitBreaker(store, config, clock=clock, on_close=closes.append)

    make.closes = closes
    return make


def test_it_opens_after_the_failures_in_a_row_and_holds_every_worker_back(make_breaker):
    first, second = make_breaker(), make_breaker()
    first.failure()
    second.failure()
    assert first.state() == "closed"
    assert first.allow()
    second.failure()
    assert first.state() == second.state() == "open"
    assert not first.allow()
    assert not second.allow()


def test_a_success_starts_the_count_again(make_breaker):
    breaker = make_breaker()
    for _ in range(2):
        breaker.failure()
    breaker.success()
    for _ in range(2):
        breaker.failure()
    assert breaker.state() == "closed"


def test_failures_older_than_the_window_do_not_count(make_breaker, clock):
    breaker = make_breaker()
    breaker.failure()
    breaker.failure()
    clock.advance(61)
    breaker.failure()
    assert breaker.state() == "closed"
    breaker.failure()
    breaker.failure()
    assert breaker.state() == "open"


def test_after_the_cool_down_one_probe_goes_out_for_all_workers_and_its_success_closes_it(make_breaker, clock):
    first, second = make_breaker(), make_breaker()
    for _ in range(3):
        first.failure()
    clock.advance(29)
    assert not first.allow()
    clock.advance(1)
    assert first.state() == "half_open"
    assert first.allow()  # the probe
    assert not second.allow()
    assert not first.allow()
    announced.clear()
    first.success()
    assert second.state() == "closed"
    assert second.allow()
    assert len(make_breaker.closes) == 1  # the callback of the worker whose probe closed it
    assert [event.closed_at > 0 for event in announced] == [True]  # and the domain event, once


def test_a_failed_probe_opens_it_for_another_cool_down(make_breaker, clock):
    breaker = make_breaker()
    for _ in range(3):
        breaker.failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.failure()
    assert breaker.state() == "open"
    clock.advance(29)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()
    assert make_breaker.closes == []


def test_a_probe_that_never_reports_frees_its_slot(make_breaker, clock):
    breaker = make_breaker(BreakerSettings(failures=1, window_seconds=60, cooldown_seconds=30, probe_seconds=0.5))
    breaker.failure()
    clock.advance(30)
    assert breaker.allow()
    assert not breaker.allow()
    clock.advance(0.6)
    deadline = time.monotonic() + 10  # Redis expires the slot on its own clock: poll, bounded
    while not breaker.allow():
        assert time.monotonic() < deadline, "the probe slot was never freed"
        time.sleep(0.05)


def test_a_late_success_while_open_does_not_close_it(make_breaker):
    breaker = make_breaker()
    for _ in range(3):
        breaker.failure()
    breaker.success()  # a request sent before the breaker opened
    assert breaker.state() == "open"


def test_with_redis_down_it_lets_nothing_through_and_never_raises():
    breaker = CircuitBreaker(RedisBreakerStore(redis.Redis.from_url(CLOSED_PORT_URL, socket_connect_timeout=1)),
                             CONFIG)
    assert not breaker.allow()
    assert breaker.state() == "unavailable"
    breaker.failure()
    breaker.success()
