"""The details of finished calls, kept by each server process and checked against a version in Redis.

Agents read the same call again and again (getCallDetails after a call ended, and while they report on
it). A finished call with no analyses is read on the event loop in one statement (``calls.selectors``);
its presented details are then kept here, keyed by the call and by who read it, together with the call's
version at the time of the read. Every committed write of a call bumps that version once the transaction
commits: a save or delete of the row (``post_save``: every service saves the row it locked), a bulk write
(``calls_writes``, the poller's and a campaign's) and a saved or deleted analysis. A read then costs one
Redis GET: the entry is used only if the version is still the one it was made at, and the database is
read otherwise.

Order makes it safe: the version is read before the row, and a writer bumps it after its commit, so an
entry made from a row that a commit has since changed always carries an older version than Redis has.
A bump that is lost (Redis down at that moment, a process killed between its commit and the bump) is
bounded by ``CALL_DETAILS_CACHE_SECONDS``, after which an entry is read again whatever its version. On
Redis failure reads go to the database. Without Redis (the embedded single-process default) nothing is
kept.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from calls.events import CallsWritten, calls_writes
from calls.models import Call, CallAnalysis
from calls.shapes import CallDetails
from config.redis_clients import redis_for, redis_for_loop

logger = logging.getLogger(__name__)

KEY_PREFIX = "callmcp:calls:version:"
VERSION_TTL_SECONDS = 7 * 86400  # a version outlives any entry made at it; a call unchanged for a week starts over
MISSING = b""  # the version of a call that has never been bumped (as kept in an entry)


@dataclass(frozen=True)
class Version:
    """What a lookup found: the call's current version (None when Redis could not be asked: do not keep
    what is read next) and the entry's details when that version is still the entry's."""

    value: bytes | None
    details: CallDetails | None = None


@dataclass(frozen=True)
class _Entry:
    version: bytes
    details: CallDetails
    expires_at: float


class DetailsCache:
    """At most ``CALL_DETAILS_CACHE_SIZE`` entries (0 keeps none), least recently used dropped first."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    @property
    def size(self) -> int:
        return int(settings.CALL_DETAILS_CACHE_SIZE)

    async def lookup(self, call_id: str, viewer: str) -> Version:
        if not settings.REDIS_URL or self.size < 1:
            return Version(value=None)
        try:
            current = await redis_for_loop(settings.REDIS_URL).get(KEY_PREFIX + call_id) or MISSING
        except Exception as exc:  # noqa: BLE001 - any Redis failure: read the database, keep nothing
            logger.warning("call details version not read (%s: %s); reading the database", type(exc).__name__, exc)
            return Version(value=None)
        entry = self._entries.get((call_id, viewer))
        if entry is None or entry.version != current or entry.expires_at <= time.monotonic():
            return Version(value=current)
        self._entries.move_to_end((call_id, viewer))
        return Version(value=current, details=entry.details)

    def keep(self, call_id: str, viewer: str, version: Version, details: CallDetails) -> None:
        """Keep ``details`` as read after ``version`` was looked up (nothing when it could not be)."""
        if version.value is None:
            return
        self._entries[(call_id, viewer)] = _Entry(version=version.value, details=details,
                                                  expires_at=time.monotonic() + settings.CALL_DETAILS_CACHE_SECONDS)
        self._entries.move_to_end((call_id, viewer))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


details_cache = DetailsCache()  # this process's; bounded by CALL_DETAILS_CACHE_SIZE


def cache_key(call_id: Any) -> str | None:
    """The canonical id of ``call_id``, or None when it is not a call id at all (nothing to look up)."""
    try:
        return str(uuid.UUID(str(call_id)))
    except ValueError:
        return None


def bump(call_ids: Iterable[Any]) -> None:
    """Give each call a new version (after a commit that changed it): entries made before are not used."""
    keys = sorted({KEY_PREFIX + str(call_id) for call_id in call_ids})
    if not keys or not settings.REDIS_URL:
        return
    try:
        with redis_for(settings.REDIS_URL).pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, VERSION_TTL_SECONDS)
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - the change is committed; entries expire on their own
        logger.warning("call details versions not bumped for %d call(s) (%s: %s); cached details expire within "
                       "%ss", len(keys), type(exc).__name__, exc, settings.CALL_DETAILS_CACHE_SECONDS)


def _bump_on_commit(call_ids: list[str]) -> None:
    transaction.on_commit(lambda: bump(call_ids))


@receiver([post_save, post_delete], sender=Call, dispatch_uid="calls.details_cache.call_saved")
def _call_saved(sender: type[Call], instance: Call, **kwargs: Any) -> None:
    _bump_on_commit([str(instance.pk)])


@receiver([post_save, post_delete], sender=CallAnalysis, dispatch_uid="calls.details_cache.analysis_changed")
def _analysis_changed(sender: type[CallAnalysis], instance: CallAnalysis, **kwargs: Any) -> None:
    _bump_on_commit([str(instance.call_id)])


@calls_writes.subscribe
def _calls_written(event: CallsWritten) -> None:
    _bump_on_commit([str(call.pk) for call in event.calls])  # saved in bulk: no post_save
