"""The per-process cache of finished calls' details (``calls.details_cache``), on the real Redis: an entry is
used only at the version it was made at, for the viewer who read it, within its lifetime and its bound;
without Redis nothing is kept and nothing fails."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from calls.details_cache import DetailsCache, Version, bump
from calls.shapes import CallDetails

pytestmark = pytest.mark.redis


def shown(call_id: str) -> CallDetails:
    return CallDetails.model_construct(call_id=call_id, status="completed")  # what the cache keeps, as it is


def lookup(cache: DetailsCache, call_id: str, viewer: str = "7") -> Version:
    return asyncio.run(cache.lookup(call_id, viewer))


def test_an_entry_is_used_until_its_call_is_bumped_and_only_by_who_read_it(settings) -> None:  # noqa: ANN001
    cache, call_id = DetailsCache(), str(uuid.uuid4())
    cache.keep(call_id, "7", lookup(cache, call_id), shown(call_id))

    assert lookup(cache, call_id).details == shown(call_id)
    assert lookup(cache, call_id, viewer="8").details is None
    bump([call_id])
    assert lookup(cache, call_id).details is None


def test_an_entry_made_before_a_bump_is_never_used_after_it(settings) -> None:  # noqa: ANN001
    cache, call_id = DetailsCache(), str(uuid.uuid4())
    before = lookup(cache, call_id)  # the version is read, then the row ...
    bump([call_id])  # ... a write commits meanwhile ...
    cache.keep(call_id, "7", before, shown(call_id))  # ... and what was read is kept at the old version

    assert lookup(cache, call_id).details is None


def test_entries_expire_and_are_bounded(settings) -> None:  # noqa: ANN001
    settings.CALL_DETAILS_CACHE_SIZE = 2
    cache, ids = DetailsCache(), [str(uuid.uuid4()) for _ in range(3)]
    for call_id in ids:
        cache.keep(call_id, "7", lookup(cache, call_id), shown(call_id))
    assert [lookup(cache, call_id).details is not None for call_id in ids] == [False, True, True]

    settings.CALL_DETAILS_CACHE_SECONDS = 0
    cache.keep(ids[0], "7", lookup(cache, ids[0]), shown(ids[0]))
    assert lookup(cache, ids[0]).details is None


def test_without_redis_nothing_is_kept_and_nothing_fails(settings, caplog) -> None:  # noqa: ANN001
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    cache, call_id = DetailsCache(), str(uuid.uuid4())

    version = lookup(cache, call_id)
    cache.keep(call_id, "7", version, shown(call_id))
    bump([call_id])

    assert version.value is None
    assert lookup(cache, call_id).details is None
    assert "reading the database" in caplog.text
    assert "not bumped" in caplog.text
