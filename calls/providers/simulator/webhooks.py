"""Webhooks: signed like Bland's, posted from the server's event loop, retried with backoff.

Post-call webhooks and live events (``calls.providers.simulator.live``) alike; what one call sends is
posted in order, each after the one before it was delivered or given up on."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from calls.providers.simulator.options import SimulatorOptions

logger = logging.getLogger(__name__)


def sign(secret: str, body: bytes) -> str:
    """Bland's ``X-Webhook-Signature``: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    call_id: str
    url: str
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False
    event: str | None = None  # a live event's message

    def as_dict(self) -> dict[str, Any]:
        shown = {"call_id": self.call_id, "url": self.url, "attempts": self.attempts,
                 "statuses": self.statuses, "delivered": self.delivered}
        return shown if self.event is None else {**shown, "event": self.event}


class WebhookSender:
    """Posts post-call webhooks from the server's event loop, retrying with exponential backoff."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.deliveries: list[Delivery] = []
        self.live_deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}  # per call: what the next post waits for
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.options.webhook_timeout))

    async def close(self) -> None:
        await self.cancel_pending()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def cancel_pending(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        self._last.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self, timeout: float) -> tuple[int, int]:
        """Wait up to ``timeout`` s for every delivery queued so far to be posted (or given up), then cancel
        what is left: (how many finished, how many were cancelled)."""
        tasks = list(self._tasks)
        done, pending = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(done), len(pending)

    def send(self, url: str, call_id: str, payload: dict[str, Any], *, retries: int | None = None,
             live: bool = False) -> None:
        """Post ``payload`` to ``url`` (``call_id`` names it in ``deliveries``, or ``live_deliveries`` for a live
        event), retried ``retries`` times (default: the ``webhook_retries`` option), after what was sent
        for the same ``call_id`` before it."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(call_id, url, event=str(payload.get("message")) if live else None)
        (self.live_deliveries if live else self.deliveries).append(delivery)
        attempts = (self.options.webhook_retries if retries is None else retries) + 1
        task = asyncio.get_running_loop().create_task(
            self._deliver_after(self._last.get(call_id), delivery, body, attempts))
        self._last[call_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._last.pop(call_id) if self._last.get(call_id) is done else None)

    async def _deliver_after(self, previous: asyncio.Task[None] | None, delivery: Delivery, body: bytes,
                             attempts: int) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await self._deliver(delivery, body, attempts)

    async def _deliver(self, delivery: Delivery, body: bytes, attempts: int) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Signature": sign(self.options.webhook_secret, body),
            "User-Agent": "bland-simulator",
        }
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.options.webhook_backoff * 2 ** (attempt - 1))
            delivery.attempts += 1
            status = await self._post(delivery.url, body, headers)
            delivery.statuses.append(status)
            if isinstance(status, int) and 200 <= status < 300:
                delivery.delivered = True
                return
        logger.warning("webhook for call %s to %s gave up after %d attempts: %s",
                       delivery.call_id, delivery.url, delivery.attempts, delivery.statuses)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int | str:
        if self._session is None:
            return "closed"
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__

