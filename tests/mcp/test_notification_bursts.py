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
