"""The poller against the Bland simulator over HTTP, on the real database (committed rows: the poller's
worker threads and runner processes have connections of their own).

Calls are placed through ``services.call_place`` with the simulator as the provider, and the simulator's
clock is frozen: a test moves it with ``advance``. Its webhooks go to an address nobody listens on, so
nothing but the poller can bring a call to its end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from calls import services
from calls.models import Call, CallStatus
from calls.poller import PollOptions, PollSummary, poll_calls
from calls.providers import configured_provider
from calls.providers.bland import BlandClient
from calls.providers.simulator import BackgroundSimulator
from tests import waiting
from tests.aws.conftest import aws as aws  # moto in server mode, for SQS
from tests.aws.conftest import moto_server as moto_server
from tests.servers import test_database_url
from users.models import CreditLedgerEntry, User

SIM_KEY = "sim-key"
ROOT = Path(__file__).resolve().parents[3]
WAIT = 120  # seconds: the bound on every wait for a runner process
# Tens digit of the last two digits: the simulator's scenario (calls/providers/simulator.py).
SCENARIO_TAILS = {"human": 0, "voicemail": 10, "busy": 20, "no-answer": 30, "failed": 40, "long": 50}
FINAL = {"human": CallStatus.COMPLETED, "voicemail": CallStatus.COMPLETED, "busy": CallStatus.BUSY,
         "no-answer": CallStatus.NO_ANSWER, "failed": CallStatus.FAILED}


@pytest.fixture(scope="session")
def bland() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(time_scale=0, api_key=SIM_KEY, plan="enterprise", balance=100_000,
                             webhook_retries=0, webhook_timeout=1) as simulator:
        yield simulator


def control(sim: BackgroundSimulator, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{sim.url}/_sim/{path}", json=body or {}, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def sim(bland: BackgroundSimulator, transactional_db: None, settings) -> Iterator[BackgroundSimulator]:  # noqa: ANN001
    """The simulator, reset, as the provider the settings name; the poller's settings for a test run."""
    control(bland, "reset", {"balance": 100_000})
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # the simulator's webhooks reach nobody
    settings.BLAND_BASE_URL = bland.url
    settings.POLLER_GRACE_SECONDS = 0
    settings.POLLER_PROVIDER_RPS = 1000.0
    yield bland
    control(bland, "faults", {"outage": False, "error_rate": 0, "latency_ms": 0})


@pytest.fixture
def owner(make_user) -> User:  # noqa: ANN001
    return make_user("poller-owner", credits=1_000_000)


def numbers(count: int, scenario: str = "human", *, area: str = "212") -> list[str]:
    """``count`` distinct dialable numbers that all play ``scenario`` in the simulator."""
    tails = range(SCENARIO_TAILS[scenario], SCENARIO_TAILS[scenario] + 10)
    return [f"+1{area}555{hundred:02d}{tail:02d}" for hundred in range(100) for tail in tails][:count]


def place(user: User, count: int, scenario: str = "human", *, area: str = "212", **fields: Any) -> list[Call]:
    """Calls placed with the simulator (the provider ``BLAND_BASE_URL`` names, as in production)."""
    provider = configured_provider()
    fields.setdefault("max_duration", 5)
    return [services.call_place(provider=provider, user=user, to_number=number, task="Confirm the delivery.",
                                **fields) for number in numbers(count, scenario, area=area)]


def run_pass(sim: BackgroundSimulator, *, clock: Callable[[], datetime] | None = None, **options: Any) -> PollSummary:
    """One pass in this process, with its own client (no retries) to the simulator; ``clock`` is the
    poller's idea of now (tests move it past backoffs and grace periods)."""
    client = BlandClient(base_url=sim.url, api_key=SIM_KEY, retries=0)
    try:
        return poll_calls(options=PollOptions.from_settings(**options), provider=client, clock=clock or timezone.now)
    finally:
        client.close()


def later(**delta: float) -> Callable[[], datetime]:
    """A poller clock that runs ``delta`` ahead of the real one."""
    return lambda: timezone.now() + timedelta(**delta)


def settled_once(call: Call) -> bool:
    """The credits of an ended call moved exactly once: one settle or one release after its reserve."""
    kinds = list(CreditLedgerEntry.objects.filter(reference=call.credit_reference).values_list("kind", flat=True))
    return sorted(kinds) in (["reserve", "settle"], ["release", "reserve"])


def wait_until(condition: Callable[[], bool], *, timeout: float = WAIT, message: str = "") -> None:
    waiting.wait_until(condition, timeout=timeout, what=message or "the condition")


def runner_env(sim: BackgroundSimulator, **extra: str) -> dict[str, str]:
    """The environment of a ``manage.py poll_calls`` process on the test database, Redis and simulator."""
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL, "BLAND_BASE_URL": sim.url, "BLAND_SIMULATOR_API_KEY": SIM_KEY,
        "POLLER_GRACE_SECONDS": "0", "LOG_LEVEL": "INFO", "PYTHONDONTWRITEBYTECODE": "1", **extra,
    }


def start_runner(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our interpreter and our command
        [sys.executable, "manage.py", "poll_calls", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
