"""Typed domain events, announced after the transaction commits (as Zulip's actions send theirs).

Each app declares its events in ``<app>/events.py``: a frozen dataclass and a ``DomainEvent`` of it.
Services announce with ``send_on_commit``; interfaces (the MCP resource modules, task modules) subscribe
when their app is ready. A receiver that fails is logged and never undoes or fails the committed change.

``send_in_transaction`` is the other kind: receivers run at once, inside the caller's transaction, and
a receiver that fails fails the change. It is for writes that must commit or roll back with the change
(the Sheets outbox), written by an app the announcing one may not import.

``send_many_on_commit`` announces many events of one kind at once (a poller batch, a campaign): a receiver
subscribed with ``subscribe_many`` gets them together, in one call, so it can group its work (one cache
delete, one round of notifications, one query); a receiver subscribed with ``subscribe`` still gets each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.dispatch import Signal

E = TypeVar("E")
logger = logging.getLogger(__name__)


class DomainEvent(Generic[E]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._signal = Signal()  # receivers of one event at a time
        self._many = Signal()  # receivers of the events announced together

    def subscribe(self, receiver: Callable[[E], None]) -> Callable[[E], None]:
        """Call ``receiver(event)`` after each commit that announced one (usable as a decorator)."""

        def deliver(sender: Any, event: E, **kwargs: Any) -> None:
            receiver(event)

        self._signal.connect(deliver, weak=False, dispatch_uid=f"{receiver.__module__}.{receiver.__qualname__}")
        return receiver

    def subscribe_many(self, receiver: Callable[[Sequence[E]], None]) -> Callable[[Sequence[E]], None]:
        """Call ``receiver(events)`` with the events announced together (one, from ``send_on_commit``)."""

        def deliver(sender: Any, events: Sequence[E], **kwargs: Any) -> None:
            receiver(events)

        self._many.connect(deliver, weak=False, dispatch_uid=f"{receiver.__module__}.{receiver.__qualname__}")
        return receiver

    def send_on_commit(self, event: E) -> None:
        transaction.on_commit(lambda: self.send_now(event))

    def send_many_on_commit(self, events: Sequence[E]) -> None:
        """Announce ``events`` together once the transaction commits; nothing when there are none."""
        if events:
            together = tuple(events)
            transaction.on_commit(lambda: self.send_many_now(together))

    def send_in_transaction(self, event: E) -> None:
        """Run every receiver now, in the open transaction; the first that raises aborts the change."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"{self.name} must be sent inside transaction.atomic()")
        self._signal.send(sender=type(event), event=event)

    def send_now(self, event: E) -> None:
        self.send_many_now((event,))

    def send_many_now(self, events: Sequence[E]) -> None:
        if not events:
            return
        outcomes = list(self._many.send_robust(sender=type(events[0]), events=events))
        for event in events:
            outcomes.extend(self._signal.send_robust(sender=type(event), event=event))
        for _receiver, outcome in outcomes:
            if isinstance(outcome, Exception):
                logger.error("a receiver of %s failed: %r", self.name, outcome, exc_info=outcome)
