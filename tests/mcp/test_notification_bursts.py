"""A burst of notifications for one user (a poller batch or a campaign ending hundreds of calls at once)
reaches a stream that is slow to read it: the channel layer keeps them instead of dropping all but the
first hundred (channels' default capacity)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mcp_gateway import notify

BURST = 1_000


@pytest.mark.redis
def test_a_stream_that_reads_late_still_gets_every_notification_of_a_burst():
    owner = "burst-owner"
    joined, published = threading.Event(), threading.Event()
    received: list[str] = []

    async def listen() -> None:
        async with notify.Notifier().listen(owner=owner) as messages:
            joined.set()
            while not published.is_set():  # the stream is busy elsewhere while the burst is sent
                await asyncio.sleep(0.05)
            async for message in messages:
                received.append(message["params"]["uri"])
                if len(received) == BURST:
                    return

    def run() -> None:
        asyncio.run(asyncio.wait_for(listen(), timeout=60))

    listener = threading.Thread(target=run)
    listener.start()
    assert joined.wait(30)
    for n in range(BURST):
        notify.resource_updated(user_id=owner, uri=f"calls://{n}")  # sync code, as the poller sends them
    published.set()
    listener.join(90)

    assert received == [f"calls://{n}" for n in range(BURST)]


@pytest.mark.redis
def test_a_batch_published_together_reaches_each_user_in_order_and_no_one_else():
    owners = ("batch-owner-a", "batch-owner-b", "batch-owner-c")  # c has no message in the batch
    joined = threading.Event()
    received: dict[str, list[str]] = {owner: [] for owner in owners}
    expected = {"batch-owner-a": 150, "batch-owner-b": 50}

    async def listen(owner: str, ready: asyncio.Event) -> None:
        async with notify.Notifier().listen(owner=owner) as messages:
            ready.set()
            async for message in messages:
                received[owner].append(message["params"]["uri"])
                if len(received[owner]) == expected.get(owner, 0):
                    return

    async def listen_all() -> None:  # one event loop: the channel layer receives on one loop at a time
        ready = [asyncio.Event() for _ in owners]
        tasks = [asyncio.create_task(listen(owner, flag)) for owner, flag in zip(owners, ready, strict=True)]
        await asyncio.gather(*(flag.wait() for flag in ready))
        joined.set()
        await asyncio.gather(*tasks[:2])
        await asyncio.sleep(0.5)  # time for anything misdelivered to c to arrive
        tasks[2].cancel()

    listener = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(listen_all(), timeout=60)))
    listener.start()
    assert joined.wait(30)
    batch = [(owners[0] if n % 4 else owners[1], notify.updated_message(f"calls://{n}")) for n in range(200)]
    notify.publish_many(batch)  # sync code, as the poller's applier sends a batch's changes
    listener.join(90)

    for owner in owners[:2]:
        assert received[owner] == [message["params"]["uri"] for who, message in batch if who == owner]
    assert received[owners[2]] == []
