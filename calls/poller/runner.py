"""The poller's entry points: ``poll_calls`` runs one pass (``calls.poller.passes``) under the one-runner
lock; ``poll_calls_repeatedly`` runs passes back to back for a long-lived runner."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from calls.poller.locks import RunnerLock, runner_lock
from calls.poller.options import LOCKED, PollOptions, PollSummary
from calls.poller.passes import PollPass
from calls.providers.base import Provider
from calls.providers.bland import BlandClient

logger = logging.getLogger(__name__)

def default_provider() -> BlandClient:
    """The poller's own Bland client: a short timeout, and no retries of its own (the pass retries 429s for
    all its workers at once and counts every request)."""
    return BlandClient(base_url=settings.BLAND_BASE_URL, api_key=settings.BLAND_API_KEY or
                       settings.BLAND_SIMULATOR_API_KEY, timeout=settings.POLLER_TIMEOUT_SECONDS, retries=0)


def poll_calls(*, options: PollOptions | None = None, provider: Provider | None = None,
               lock: RunnerLock | None = None, clock: Callable[[], datetime] = timezone.now,
               monotonic: Callable[[], float] = time.monotonic) -> PollSummary:
    """One pass (or the rest of an unfinished one) within ``options.max_seconds``.

    Returns at once with status ``locked`` when another runner holds the lock. A dry run takes no lock
    and writes nothing: it reports what a pass would change."""
    options = options or PollOptions.from_settings()
    started = monotonic()
    if lock is None and not options.dry_run:
        lock = runner_lock(ttl_seconds=max(120.0, 4 * options.batch_size / options.rate))
    if lock is not None and not options.dry_run and not lock.acquire():
        logger.info("poll_calls: another runner holds the poller lock (%s); this one has nothing to do",
                    lock.backend)
        return PollSummary(status=LOCKED, trigger=options.trigger, outcome="another runner holds the lock")
    client = provider or default_provider()
    try:
        return PollPass(options=options, provider=client, lock=None if options.dry_run else lock, clock=clock,
                        monotonic=monotonic, started=started).run()
    finally:
        if lock is not None and not options.dry_run:
            lock.release()
        if provider is None and isinstance(client, BlandClient):
            client.close()


def poll_calls_repeatedly(*, options: PollOptions, interval: float, provider: Provider | None = None,
                          sleep: Callable[[float], None] = time.sleep,
                          monotonic: Callable[[], float] = time.monotonic) -> Iterator[PollSummary]:
    """Passes every ``interval`` seconds until ``options.max_seconds`` is used up (a long-lived runner)."""
    end = monotonic() + options.max_seconds
    while True:
        began = monotonic()
        summary = poll_calls(options=replace(options, max_seconds=end - began), provider=provider,
                             monotonic=monotonic)
        yield summary
        wait = began + interval - monotonic()
        if not summary.ok or monotonic() + max(wait, 0) + 1 >= end:
            return
        if wait > 0:
            sleep(wait)

