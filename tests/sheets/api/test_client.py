"""The Sheets client against the Sheets emulator over HTTP: the real google-api-python-client, service-account
credentials from the emulator's token endpoint, the quota gate, breaker and monitor on the real Redis."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import redis

from sheets_sync.accounts import ServiceAccount, load_accounts
from sheets_sync.backoff import Backoff
from sheets_sync.breaker import BreakerSettings, CircuitBreaker, RedisBreakerStore
from sheets_sync.client import (
    Ambiguous,
    BreakerOpen,
    NoToken,
    Permanent,
    RateLimited,
    SheetsClient,
    Transient,
)
from sheets_sync.events import BreakerClosed, breaker_closed
from sheets_sync.monitor import SheetsMonitor
from sheets_sync.quota import QuotaGate, QuotaLimits, RedisQuotaStore
from tests.sheets.api.conftest import CLOSED_PORT_URL

pytestmark = pytest.mark.redis
TAB = "Calls 2026-12"
closed_events: list[BreakerClosed] = []


@breaker_closed.subscribe
def _closed(event: BreakerClosed) -> None:
    closed_events.append(event)


class Setup:
    """A client as a worker builds it, plus what the test looks at."""

    def __init__(self, emulator: Any, redis_client: redis.Redis, prefix: str, clock: Any) -> None:
        self.emulator = emulator
        self.redis = redis_client
        self.prefix = prefix
        self.clock = clock
        self.sleeps: list[float] = []
        keys = [emulator.new_account(), emulator.new_account()]
        self.keys = keys
        self.accounts = load_accounts(json.dumps(keys))
        self.spreadsheet = emulator.new_spreadsheet(shared_with=[key["client_email"] for key in keys],
                                                    sheets=[TAB])

    def gate(self, accounts: list[ServiceAccount] | None = None, limits: QuotaLimits | None = None,
             url: str | None = None) -> QuotaGate:
        client = redis.Redis.from_url(url, socket_connect_timeout=1) if url else self.redis
        # A one-hour window: every token the test spends stays visible in the gate's usage.
        return QuotaGate(self.accounts if accounts is None else accounts,
                         RedisQuotaStore(client, f"{self.prefix}:quota"), limits=limits or QuotaLimits(), window=3600)

    def client(self, *, gate: QuotaGate | None = None, failures: int = 20, retries: int = 3,
               accounts: list[ServiceAccount] | None = None, timeout: float = 30, breaker_url: str | None = None,
               ) -> SheetsClient:
        gate = gate or self.gate(accounts)
        store_client = redis.Redis.from_url(breaker_url, socket_connect_timeout=1) if breaker_url else self.redis
        breaker = CircuitBreaker(RedisBreakerStore(store_client, f"{self.prefix}:breaker"),
                                 BreakerSettings(failures=failures, window_seconds=60, cooldown_seconds=30),
                                 clock=self.clock)
        monitor = SheetsMonitor(self.redis, gate=gate, breaker=breaker, prefix=f"{self.prefix}:monitor")
        return SheetsClient(accounts=gate.accounts if accounts is None else accounts, gate=gate, breaker=breaker,
                            monitor=monitor, endpoint=self.emulator.url, timeout=timeout,
                            backoff=Backoff(max_retries=retries, random=lambda: 0.0), token_timeout=0,
                            sleep=self.sleeps.append)

    def log(self) -> list[dict[str, Any]]:
        return self.emulator.log()


@pytest.fixture
def setup(sheets_emulator, redis_client, prefix, clock) -> Setup:
    return Setup(sheets_emulator, redis_client, prefix, clock)


def test_rows_are_appended_updated_and_read_back(setup):
    client = setup.client()
    assert client.append(setup.spreadsheet, f"'{TAB}'!A:C", [["id", "status", "cost"]]) == (1, 1)
    assert client.append(setup.spreadsheet, f"'{TAB}'!A:C", [["c1", "queued", 0], ["c2", "queued", 0]]) == (2, 3)
    assert client.batch_update(setup.spreadsheet, [(f"'{TAB}'!B2:C2", [["completed", 42]]),
                                                   (f"'{TAB}'!B3", [["=1+1"]])]) == 2
    assert client.get_values(setup.spreadsheet, f"'{TAB}'!A2:B3") == [["c1", "completed"], ["c2", "=1+1"]]
    assert client.batch_get(setup.spreadsheet, [f"'{TAB}'!A1:A2", f"'{TAB}'!C2"]) == [[["id"], ["c1"]], [["42"]]]
    assert setup.emulator.values(setup.spreadsheet)[TAB][2] == ["c2", "=1+1", 0]  # RAW: text stays text


def test_tabs_are_listed_with_their_grid_and_added(setup):
    client = setup.client()
    client.add_sheet(setup.spreadsheet, "Calls 2027-01", rows=500, columns=12)
    tabs = {tab["title"]: tab for tab in client.metadata(setup.spreadsheet)["sheets"]}
    assert {"rows": tabs["Calls 2027-01"]["rows"], "columns": tabs["Calls 2027-01"]["columns"]} == {
        "rows": 500, "columns": 12}
    assert TAB in tabs


def test_requests_spread_over_the_pool_each_as_its_own_user(setup):
    client = setup.client(gate=setup.gate(limits=QuotaLimits(write_user=2, write_project=300)))
    for number in range(4):
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A{number + 1}", [[number]])])
    assert Counter(entry["user"] for entry in setup.log()) == {key["client_email"]: 2 for key in setup.keys}
    with pytest.raises(NoToken):
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A9", [[9]])])
    assert len(setup.log()) == 4


def test_a_429_reporting_the_real_limit_adapts_the_bucket_for_every_process(setup):
    setup.emulator.quotas(writes_per_user=3)
    account = setup.accounts[:1]
    client = setup.client(accounts=account)
    for number in range(3):
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A{number + 1}", [[number]])])
    with pytest.raises(NoToken):  # the 4th is answered 429 (limit 3); its retry finds no token under 3
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A4", [[4]])])
    assert [entry["status"] for entry in setup.log()] == [200, 200, 200, 429]
    other_process = setup.gate(accounts=account)
    assert {u.limit for u in other_process.usage() if u.kind == "write" and u.level == "user"} == {3}
    assert client.monitor.snapshot()["this_minute"]["throttled"] == 1


def test_429s_are_retried_with_backoff_then_raise_rate_limited(setup):
    setup.emulator.faults(error_rate=1.0, error_statuses=[429])
    client = setup.client(retries=3)
    with pytest.raises(RateLimited) as caught:
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A2", [[2]])])
    assert (caught.value.limit_value, caught.value.level) == (60, "user")  # as configured: nothing to adapt
    assert caught.value.spreadsheet_id == setup.spreadsheet
    assert setup.sleeps == [1.0, 2.0, 4.0]
    assert [entry["status"] for entry in setup.log()] == [429] * 4
    assert client.monitor.snapshot()["this_minute"]["throttled"] == 4


def test_5xx_on_a_read_is_retried_then_transient(setup):
    setup.emulator.faults(error_rate=1.0, error_statuses=[503])
    client = setup.client(retries=3)
    with pytest.raises(Transient) as caught:
        client.get_values(setup.spreadsheet, f"'{TAB}'!A1")
    assert not isinstance(caught.value, Ambiguous)
    assert setup.sleeps == [1.0, 2.0, 4.0]
    assert [entry["status"] for entry in setup.log()] == [503] * 4
    setup.emulator.faults(error_rate=0.0)
    assert client.get_values(setup.spreadsheet, f"'{TAB}'!A1") == []


def test_an_append_answered_500_after_it_was_applied_is_ambiguous_and_not_sent_again(setup):
    setup.emulator.faults(ambiguous_rate=1.0)
    client = setup.client(retries=3)
    with pytest.raises(Ambiguous) as caught:
        client.append(setup.spreadsheet, f"'{TAB}'!A:B", [["c1", "queued"]])
    assert caught.value.spreadsheet_id == setup.spreadsheet
    assert [entry["status"] for entry in setup.log()] == [500]
    assert setup.emulator.values(setup.spreadsheet)[TAB] == [["c1", "queued"]]  # applied once, never twice
    setup.emulator.faults(ambiguous_rate=0.0)
    assert client.get_values(setup.spreadsheet, f"'{TAB}'!A:A") == [["c1"]]  # what the caller reads back


def test_an_idempotent_batch_update_is_retried_after_5xx_and_ends_ambiguous(setup):
    setup.emulator.faults(error_rate=1.0, error_statuses=[500])
    client = setup.client(retries=2)
    with pytest.raises(Ambiguous):
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A1", [["x"]])])
    assert [entry["status"] for entry in setup.log()] == [500] * 3


def test_a_write_that_times_out_is_ambiguous_and_a_read_transient(setup):
    setup.emulator.faults(latency_ms=3000)
    client = setup.client(retries=0, timeout=0.5)
    with pytest.raises(Ambiguous):
        client.append(setup.spreadsheet, f"'{TAB}'!A:A", [["late"]])
    with pytest.raises(Transient) as caught:
        client.get_values(setup.spreadsheet, f"'{TAB}'!A1")
    assert not isinstance(caught.value, Ambiguous)
    deadline = time.monotonic() + 30  # the emulator still answers both late: let it, before the next test
    while len(setup.log()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize(("target", "range_", "code", "status"), [
    ("unknown", f"'{TAB}'!A1", "not_found", 404),
    ("unshared", f"'{TAB}'!A1", "permission_denied", 403),
    ("ours", "'No such tab'!A1", "invalid_argument", 400),
])
def test_permanent_errors_are_not_retried_never_trip_the_breaker_and_alert_naming_the_spreadsheet(
        setup, target, range_, code, status):
    spreadsheet = {"unknown": "no-such-spreadsheet", "ours": setup.spreadsheet}.get(target) or \
        setup.emulator.new_spreadsheet(shared_with=["someone@else.example"], sheets=[TAB])
    client = setup.client(failures=2)
    for _ in range(3):
        with pytest.raises(Permanent) as caught:
            client.get_values(spreadsheet, range_)
        assert (caught.value.code, caught.value.status, caught.value.spreadsheet_id) == (code, status, spreadsheet)
    assert len(setup.log()) == 3  # one request each: no retries
    assert setup.sleeps == []
    assert client.breaker.state() == "closed"
    alerts = client.monitor.snapshot()["alerts"]
    assert {(alert["spreadsheet_id"], alert["code"]) for alert in alerts} == {(spreadsheet, code)}


def test_repeated_failures_open_the_breaker_and_then_nothing_is_sent_until_a_probe_closes_it(setup):
    setup.emulator.faults(outage=True)
    client = setup.client(failures=3, retries=5)
    with pytest.raises(BreakerOpen):
        client.get_values(setup.spreadsheet, f"'{TAB}'!A1")
    assert len(setup.log()) == 3
    with pytest.raises(BreakerOpen):
        client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A1", [["x"]])])
    assert len(setup.log()) == 3  # nothing sent while open
    assert sum(u.used for u in client.gate.usage() if u.level == "project") == 3  # and no token spent
    setup.emulator.faults(outage=False)
    setup.clock.advance(30)
    closed_events.clear()
    assert client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A1", [["x"]])]) == 1  # the probe
    assert client.breaker.state() == "closed"
    assert len(closed_events) == 1


def test_with_redis_down_nothing_is_sent(setup):
    client = setup.client(gate=setup.gate(url=CLOSED_PORT_URL), breaker_url=CLOSED_PORT_URL)
    with pytest.raises(BreakerOpen):
        client.append(setup.spreadsheet, f"'{TAB}'!A:A", [["c1"]])
    assert setup.log() == []


def test_no_request_is_ever_sent_without_a_token(setup):
    setup.emulator.faults(error_rate=0.3, error_statuses=[429, 500, 503], seed=7)
    client = setup.client(retries=2)
    for number in range(12):
        try:
            client.batch_update(setup.spreadsheet, [(f"'{TAB}'!A{number + 1}", [[number]])])
            client.get_values(setup.spreadsheet, f"'{TAB}'!A{number + 1}")
            client.append(setup.spreadsheet, f"'{TAB}'!C:C", [[number]])
        except (Transient, RateLimited):
            pass
    sent = Counter(entry["kind"] for entry in setup.log())
    tokens = {u.kind: u.used for u in client.gate.usage() if u.level == "project"}
    assert sent["write"] == tokens["write"] > 12
    assert sent["read"] == tokens["read"] > 0
    per_user = Counter((entry["kind"], entry["user"]) for entry in setup.log())
    assert per_user == {(u.kind, u.name): u.used for u in client.gate.usage() if u.level == "user" and u.used}


def test_a_key_the_token_endpoint_refuses_is_a_permanent_credentials_error(setup):
    stranger = setup.emulator.new_account()
    forged = load_accounts(json.dumps({**setup.keys[0], "private_key": stranger["private_key"]}))
    client = setup.client(accounts=forged, gate=setup.gate(accounts=forged))
    with pytest.raises(Permanent) as caught:
        client.get_values(setup.spreadsheet, f"'{TAB}'!A1")
    assert caught.value.code == "credentials"
    assert setup.log() == []


def _write_from_a_worker(url: str, redis_url: str, prefix: str, keys: list[dict], spreadsheet: str, results) -> None:
    import threading

    client_redis = redis.Redis.from_url(redis_url)
    accounts = load_accounts(json.dumps(keys))
    gate = QuotaGate(accounts, RedisQuotaStore(client_redis, f"{prefix}:quota"),
                     limits=QuotaLimits(write_user=10, write_project=15))
    breaker = CircuitBreaker(RedisBreakerStore(client_redis, f"{prefix}:breaker"))
    client = SheetsClient(accounts=accounts, gate=gate, breaker=breaker, endpoint=url, token_timeout=0,
                          backoff=Backoff(max_retries=0))
    outcomes: list[str] = []

    def work(offset: int) -> None:
        for number in range(8):
            try:
                client.batch_update(spreadsheet, [(f"'{TAB}'!A{offset + number + 1}", [[number]])])
                outcomes.append("sent")
            except NoToken:
                outcomes.append("no token")
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=work, args=(index * 10,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(outcomes)


def test_workers_in_separate_processes_together_stay_under_both_limits(setup, settings):
    import multiprocessing

    setup.emulator.quotas(writes_per_user=10, writes_per_project=15)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_write_from_a_worker, args=(
        setup.emulator.url, settings.REDIS_URL, setup.prefix, setup.keys, setup.spreadsheet, results))
        for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = Counter(outcome for _ in workers for outcome in results.get(timeout=120))
    for worker in workers:
        worker.join(timeout=60)
    assert set(outcomes) <= {"sent", "no token"}, outcomes
    log = setup.log()
    assert {entry["status"] for entry in log} == {200}  # the emulator never had to say 429
    assert len(log) == outcomes["sent"] >= 15
    for index, entry in enumerate(log):  # any 60-second window, per user and for the project
        window = [later for later in log[index:] if later["t"] < entry["t"] + 60]
        assert len(window) <= 15
        assert max(Counter(later["user"] for later in window).values()) <= 10


def test_a_token_endpoint_that_cannot_be_reached_is_transient_even_for_a_write(setup):
    unreachable = load_accounts(json.dumps({**setup.keys[0], "token_uri": "http://127.0.0.1:9/token"}))
    client = setup.client(accounts=unreachable, gate=setup.gate(accounts=unreachable), retries=1)
    with pytest.raises(Transient) as caught:
        client.append(setup.spreadsheet, f"'{TAB}'!A:A", [["c1"]])
    assert not isinstance(caught.value, Ambiguous)  # nothing reached Sheets: an append may be sent again
    assert setup.sleeps == [1.0]
    assert setup.log() == []


def test_a_sheets_endpoint_refusing_connections_is_retried_then_transient(setup):
    client = setup.client(retries=2)
    client.endpoint = "http://127.0.0.1:9/"
    with pytest.raises(Transient) as caught:
        client.append(setup.spreadsheet, f"'{TAB}'!A:A", [["c1"]])
    assert not isinstance(caught.value, Ambiguous)
    assert setup.sleeps == [1.0, 2.0]
