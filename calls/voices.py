"""The provider's voices (``GET /v1/voices``), cached, and the check that a call's ``voice`` is one of them.

The list is kept in Django's cache (Redis when configured, so every worker shares one copy; the in-memory
cache otherwise, bounded by its ``MAX_ENTRIES``) for ``VOICES_CACHE_SECONDS``, keyed by the provider's
endpoint, and at most ``VOICES_MAX`` voices are kept. Callers catch ``config.errors.DomainError``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.cache import cache

from calls import errors
from calls.providers.base import Provider, Voice
from calls.validation import shown

logger = logging.getLogger(__name__)

VOICES_MAX = 500
EXAMPLES = 5


def voices_cache_key(provider: Provider) -> str:
    digest = hashlib.sha256(f"{provider.name} {provider.endpoint}".encode()).hexdigest()[:16]
    return f"calls:voices:v1:{digest}"


def voices_list(*, provider: Provider) -> tuple[Voice, ...]:
    """The provider's voices, from the cache when it has them. Raises ``ProviderError`` when they are not
    cached and the provider cannot be asked."""
    key = voices_cache_key(provider)
    cached: list[dict[str, Any]] | None = cache.get(key)
    if cached is not None:
        return tuple(Voice(**{**item, "tags": tuple(item["tags"])}) for item in cached)
    voices = provider.list_voices()[:VOICES_MAX]
    cache.set(key, [asdict(voice) for voice in voices], timeout=settings.VOICES_CACHE_SECONDS)
    return voices


def voice_check(*, provider: Provider, voice: str) -> str:
    """``voice`` (a name or id, any case) when the provider has it, "" for the provider's default, else
    ``UnknownVoice`` naming a few. When the list cannot be had, the voice is left for the provider to judge."""
    voice = (voice or "").strip()
    if not voice:
        return ""
    try:
        voices = voices_list(provider=provider)
    except errors.ProviderError:
        logger.warning("voice %r not checked: the provider's voice list is unavailable", voice)
        return voice
    wanted = voice.lower()
    if any(wanted in (v.name.lower(), v.voice_id.lower()) for v in voices) or not voices:
        return voice
    raise errors.UnknownVoice(voice=shown(voice), examples=", ".join(v.name for v in voices[:EXAMPLES]))
