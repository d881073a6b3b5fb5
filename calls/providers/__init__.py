"""The phone provider: Bland AI when ``BLAND_API_KEY`` is set, otherwise the bundled simulator.

Both are reached through the same HTTP client (``calls.providers.bland``).
"""

from __future__ import annotations

import threading

from django.conf import settings

from calls.providers.base import Provider

_lock = threading.Lock()
_provider: Provider | None = None


def get_provider() -> Provider:
    global _provider
    with _lock:
        if _provider is None:
            from calls.providers.bland import BlandClient

            _provider = BlandClient(
                base_url=settings.BLAND_BASE_URL,
                api_key=settings.BLAND_API_KEY or settings.BLAND_SIMULATOR_API_KEY,
                timeout=settings.BLAND_TIMEOUT_SECONDS,
            )
        return _provider


def set_provider(provider: Provider | None) -> None:
    """Point the process at another provider (e.g. a simulator on another port). None resets."""
    global _provider
    with _lock:
        _provider = provider
