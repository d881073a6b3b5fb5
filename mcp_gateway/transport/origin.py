"""The Origin check of every transport that a browser can reach (DNS rebinding, cross-site WebSocket)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from django.http.request import validate_host


def origin_allowed(origin: str | None, *, allowed_origins: Sequence[str], allowed_hosts: Sequence[str]) -> bool:
    """No Origin (not a browser), a listed origin, or an origin on one of the allowed hosts."""
    if not origin or origin in allowed_origins or "*" in allowed_origins:
        return True
    host = urlsplit(origin).hostname or ""
    return validate_host(host, allowed_hosts) or validate_host(f"[{host}]", allowed_hosts)
