"""The two-level token bucket: per service account and per project, reads and writes apart, shared by
every gate built on the same store (Redis: every process; memory: the one embedded process)."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter

import pytest
import redis

from sheets_sync.errors import NoToken
from sheets_sync.quota import MemoryQuotaStore, QuotaGate, QuotaLimits, RedisQuotaStore
from tests.sheets.api.conftest import CLOSED_PORT_URL, FakeClock, account, separate_connection

LIMITS = QuotaLimits(read_user=5, read_project=12, write_user=5, write_project=12)


@pytest.fixture(params=["redis", "memory"])
def make_gate(request, clock, pool):
    """Gates as separate processes would build them: on Redis each has its own connection; in memory
    they share the process's store."""
    memory = MemoryQuotaStore(clock)

    def make(accounts=None, limits=LIMITS, window=60.0):
        store = RedisQuotaStore(*separate_connection(request)) if request.param == "redis" else memory
        return QuotaGate(pool if accounts is None else accounts, store, limits=limits, window=window, clock=clock,
                         sleep=clock.sleep)

    return make


def test_an_account_gets_its_per_user_limit_in_a_window_and_then_waits_for_the_oldest_token(make_gate, clock, pool):
    gate = make_gate()
    for _ in range(5):
        assert gate.take("write", pool[0]).account == pool[0]
        clock.advance(1)
    with pytest.raises(NoToken) as caught:
        gate.take("write", pool[0])
    assert caught.value.wait == pytest.approx(55)  # the first token comes back 60 s after it was spent
    assert gate.take("write", pool[1]).account == pool[1]  # another account has its own bucket
    clock.advance(55)
    assert gate.take("write", pool[0]).account_used == 5


def test_any_account_spreads_over_the_pool_and_the_project_caps_the_pool(make_gate, pool):
    gate = make_gate()
    grants = [gate.take("write") for _ in range(12)]
    assert Counter(grant.account.email for grant in grants) == {a.email: 4 for a in pool}
    assert grants[-1].project_used == 12
    with pytest.raises(NoToken):
        gate.take("write")
    with pytest.raises(NoToken):
        gate.take("write", pool[0])  # its own bucket has a token left, the project's has none


def test_any_account_takes_one_that_still_has_a_token(make_gate, pool):
    gate = make_gate(limits=QuotaLimits(write_user=2, write_project=100))
    for _ in range(2):
        gate.take("write", pool[0])
        gate.take("write", pool[2])
    assert {gate.take("write").account for _ in range(2)} == {pool[1]}
    with pytest.raises(NoToken):
        gate.take("write")


def test_reads_and_writes_are_counted_apart(make_gate, pool):
    gate = make_gate()
    for _ in range(12):
        gate.take("write")
    with pytest.raises(NoToken):
        gate.take("write")
    assert gate.take("read").kind == "read"
    usage = {(u.kind, u.name): (u.used, u.limit) for u in gate.usage()}
    assert usage[("write", "project")] == (12, 12)
    assert usage[("read", "project")] == (1, 12)
    assert usage[("write", pool[0].email)] == (4, 5)


def test_every_gate_on_the_store_shares_the_buckets(make_gate, pool):
    first, second = make_gate(), make_gate()
    for _ in range(6):
        first.take("write")
        second.take("write")
    with pytest.raises(NoToken):
        first.take("write")
    with pytest.raises(NoToken):
        second.take("write")


def test_no_sixty_second_window_ever_holds_more_than_the_limit_and_a_steady_caller_gets_all_of_it(make_gate, clock):
    gate = make_gate(accounts=[account(1)], limits=QuotaLimits(write_user=60, write_project=300))
    rng = random.Random(11)
    start, granted = clock.now, []
    while clock.now < start + 600:
        try:
            gate.take("write")
            granted.append(clock.now)
        except NoToken:
            pass
        clock.advance(rng.choice([0.0, 0.01, 0.3, 0.5, 1.7]))  # demand above the limit
    for index, when in enumerate(granted):
        in_window = [t for t in granted[index:] if t < when + 60]
        assert len(in_window) <= 60
    assert len(granted) >= 9 * 60  # ten windows of demand, at most the last partly unused


def test_a_reported_limit_lowers_the_bucket_for_every_gate(make_gate, pool):
    first, second = make_gate(), make_gate()
    assert first.adapt("write", "user", 2) == 2
    second.take("write", pool[0])
    second.take("write", pool[0])
    with pytest.raises(NoToken):
        second.take("write", pool[0])
    assert second.take("read", pool[0])  # reads keep their own limit
    assert {u.limit for u in second.usage() if u.kind == "write" and u.level == "user"} == {2}


def test_a_reported_limit_above_the_configured_one_changes_nothing(make_gate):
    gate = make_gate()
    assert gate.adapt("write", "project", 1000) == 12
    assert gate.adapt("write", "project", 8) == 8
    assert gate.adapt("write", "project", 10) == 8  # the lowest report holds
    for _ in range(8):
        gate.take("write")
    with pytest.raises(NoToken):
        gate.take("write")


def test_acquire_waits_for_a_token_within_its_timeout_and_no_longer(make_gate, clock, pool):
    gate = make_gate(accounts=[pool[0]])
    for _ in range(5):
        gate.take("write")
    start = clock.now
    with pytest.raises(NoToken):
        gate.acquire("write", timeout=30)
    assert clock.now == start  # it did not wait for a token it could not get in time
    grant = gate.acquire("write", timeout=61)
    assert 60 <= clock.now - start <= 60.1
    assert grant.account == pool[0]


def test_a_gate_whose_redis_is_down_gives_no_token(pool):
    gate = QuotaGate(pool, RedisQuotaStore(redis.Redis.from_url(CLOSED_PORT_URL, socket_connect_timeout=1)))
    with pytest.raises(NoToken) as caught:
        gate.take("write")
    assert caught.value.wait > 0


def test_an_empty_pool_gives_no_token(make_gate):
    with pytest.raises(NoToken):
        make_gate(accounts=[]).take("write")


def _take_in_threads(url: str, prefix: str, now: float, threads: int, attempts: int, results) -> None:
    from tests.sheets.api.conftest import account as make_account

    client = redis.Redis.from_url(url)
    pool = [make_account(n) for n in range(1, 4)]
    gate = QuotaGate(pool, RedisQuotaStore(client, prefix), limits=QuotaLimits(write_user=40, write_project=100),
                     clock=lambda: now)
    granted: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for attempt in range(attempts):
            try:
                # some callers name their account, most take any
                chosen = pool[attempt % 3] if index == 0 else None
                email = gate.take("write", chosen).account.email
            except NoToken:
                continue
            with lock:
                granted.append(email)

    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(granted)
    client.close()


@pytest.mark.redis
def test_many_processes_and_threads_at_once_never_get_more_tokens_than_either_level_allows(settings, prefix):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    now = FakeClock().now  # one instant: every token of the window is fought over at once
    processes = [context.Process(target=_take_in_threads, args=(settings.REDIS_URL, prefix, now, 4, 40, results))
                 for _ in range(4)]
    for process in processes:
        process.start()
    granted = [email for _ in processes for email in results.get(timeout=60)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(granted) == 100  # the project's limit, exactly
    assert max(Counter(granted).values()) <= 40  # and no account over its own
