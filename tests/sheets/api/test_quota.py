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
from sheets_sync.quota import MemoryQuotaStore, Pacing, QuotaGate, QuotaLimits, RedisQuotaStore
from tests.sheets.api.conftest import CLOSED_PORT_URL, FakeClock, account, separate_connection

LIMITS = QuotaLimits(read_user=5, read_project=12, write_user=5, write_project=12)


@pytest.fixture(params=["redis", "memory"])
def make_gate(request, clock, pool):
    """Gates as separate processes would build them: on Redis each has its own connection; in memory
    they share the process's store."""
    memory = MemoryQuotaStore(clock)

    def make(accounts=None, limits=LIMITS, window=60.0, pacing=None):
        store = RedisQuotaStore(*separate_connection(request)) if request.param == "redis" else memory
        return QuotaGate(pool if accounts is None else accounts, store, limits=limits, window=window, clock=clock,
                         sleep=clock.sleep, pacing=pacing)

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


def test_progress_requests_leave_the_reserve_of_each_bucket_to_critical_ones(make_gate, clock, pool):
    gate = make_gate(pacing=Pacing(reserve=2))  # 5 a minute per account, 12 per project
    for _ in range(3):
        gate.take("write", pool[0], critical=False)
    with pytest.raises(NoToken) as caught:
        gate.take("write", pool[0], critical=False)
    assert caught.value.wait == pytest.approx(60)  # the first progress token comes back a window later
    assert gate.take("write", pool[0], critical=True).account_used == 4
    assert gate.take("write", pool[0]).account_used == 5  # unmarked requests count as critical
    with pytest.raises(NoToken):
        gate.take("write", pool[0])
    for _ in range(5):
        gate.take("write", critical=False)  # the project keeps 2 of its 12 as well: 10 for progress
    with pytest.raises(NoToken):
        gate.take("write", critical=False)
    assert gate.take("write", critical=True).project_used == 11
    assert gate.take("read", pool[0], critical=False).kind == "read"  # reads have their own buckets


def test_pacing_allows_a_short_burst_then_one_request_per_window_over_limit(make_gate, clock, pool):
    gate = make_gate(accounts=[pool[0]], limits=QuotaLimits(write_user=6, write_project=100),
                     pacing=Pacing(burst=3))  # one request every 10 s after a burst of 3
    for _ in range(3):
        gate.take("write")
    with pytest.raises(NoToken) as caught:
        gate.take("write")
    assert caught.value.wait == pytest.approx(10)
    clock.advance(10)
    gate.take("write")
    with pytest.raises(NoToken):
        gate.take("write")
    clock.advance(10)
    assert gate.take("write").account_used == 5  # spread out, not the whole window at once


def test_progress_requests_never_take_the_last_slot_of_the_burst(make_gate, clock, pool):
    gate = make_gate(accounts=[pool[0]], limits=QuotaLimits(write_user=6, write_project=100), pacing=Pacing(burst=3))
    gate.take("write", critical=False)
    gate.take("write", critical=False)
    with pytest.raises(NoToken) as caught:
        gate.take("write", critical=False)
    assert caught.value.wait == pytest.approx(10)
    gate.take("write", critical=True)  # a critical row goes at once
    clock.advance(10)
    with pytest.raises(NoToken):
        gate.take("write", critical=False)  # and progress waits a slot longer
    clock.advance(10)
    gate.take("write", critical=False)


def test_a_paced_pool_spreads_requests_over_its_accounts(make_gate, clock, pool):
    gate = make_gate(limits=QuotaLimits(write_user=6, write_project=100), pacing=Pacing(burst=1))
    assert {gate.take("write").account for _ in range(3)} == set(pool)  # each account's one slot
    with pytest.raises(NoToken) as caught:
        gate.take("write")
    assert caught.value.wait == pytest.approx(10)


def test_paced_demand_above_the_limit_still_gets_the_whole_limit_and_never_more(make_gate, clock):
    gate = make_gate(accounts=[account(1)], limits=QuotaLimits(write_user=60, write_project=300),
                     window=61.0, pacing=Pacing(reserve=3, burst=5))
    rng = random.Random(5)
    start, granted = clock.now, []
    while clock.now < start + 610:
        try:
            gate.take("write", critical=rng.random() < 0.3)
            granted.append(clock.now)
        except NoToken:
            pass
        clock.advance(rng.choice([0.0, 0.05, 0.2, 0.5]))
    for index, when in enumerate(granted):
        assert len([t for t in granted[index:] if t < when + 61]) <= 60
        assert len([t for t in granted[index:] if t < when + 10]) <= 5 + 10  # no burst beyond the pacing
    assert len(granted) >= 9 * 60


def test_a_gate_whose_redis_is_down_gives_no_token(pool):
    gate = QuotaGate(pool, RedisQuotaStore(redis.Redis.from_url(CLOSED_PORT_URL, socket_connect_timeout=1)))
    with pytest.raises(NoToken) as caught:
        gate.take("write")
    assert caught.value.wait > 0


def test_an_empty_pool_gives_no_token(make_gate):
    with pytest.raises(NoToken):
        make_gate(accounts=[]).take("write")


def _take_in_threads(url: str, prefix: str, now: float, project: int, threads: int, attempts: int, results) -> None:
    from tests.sheets.api.conftest import account as make_account

    client = redis.Redis.from_url(url)
    pool = [make_account(n) for n in range(1, 4)]
    gate = QuotaGate(pool, RedisQuotaStore(client, prefix), limits=QuotaLimits(write_user=40, write_project=project),
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
@pytest.mark.parametrize(("project", "granted_in_all", "per_account"), [(100, 100, None), (1000, 120, 40)])
def test_many_processes_and_threads_at_once_never_get_more_tokens_than_either_level_allows(
        settings, prefix, project, granted_in_all, per_account):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    now = FakeClock().now  # one instant: every token of the window is fought over at once
    processes = [context.Process(target=_take_in_threads,
                                 args=(settings.REDIS_URL, prefix, now, project, 4, 40, results)) for _ in range(4)]
    for process in processes:
        process.start()
    granted = [email for _ in processes for email in results.get(timeout=60)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(granted) == granted_in_all  # the project's limit, or every account's, exactly
    assert max(Counter(granted).values()) <= 40  # and no account over its own
    if per_account:
        assert set(Counter(granted).values()) == {per_account}
