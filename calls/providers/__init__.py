"""The phone provider: Bland AI when ``BLAND_API_KEY`` is set, otherwise the bundled simulator.

Both are reached through the same HTTP client (``calls.providers.bland.BlandClient``). Services take the
provider as an argument (``provider=``); interfaces (MCP tools, REST views, tasks, admin) hand them
``configured_provider()``, the client that the current settings describe. One client is kept per
distinct configuration (a small bounded cache), so requests share its connection pool, and a test that
points ``BLAND_BASE_URL`` at its own simulator gets a client for it without replacing anything.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from calls.providers.base import Provider
from calls.providers.bland import BlandClient

__all__ = ["Provider", "configured_provider"]


@lru_cache(maxsize=8)
def _client(base_url: str, api_key: str, timeout: float, retries: int) -> BlandClient:
    return BlandClient(base_url=base_url, api_key=api_key, timeout=timeout, retries=retries)


def configured_provider() -> Provider:
    """The provider of ``BLAND_BASE_URL`` with ``BLAND_API_KEY`` (or the simulator's key when unset)."""
    return _client(
        settings.BLAND_BASE_URL,
        settings.BLAND_API_KEY or settings.BLAND_SIMULATOR_API_KEY,
        float(settings.BLAND_TIMEOUT_SECONDS),
        int(settings.BLAND_RETRIES),
    )
