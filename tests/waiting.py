"""One bounded wait for the tests: poll a condition (a query, a request to a real server) until it holds,
and fail naming what was awaited once the deadline passes. Nothing here waits on a fixed clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")
POLL_SECONDS = 0.05


def wait_until(predicate: Callable[[], T], *, timeout: float, what: str = "the condition",
               interval: float = POLL_SECONDS) -> T:
    """``predicate()`` once it is truthy; polled every ``interval`` s for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
    return value
