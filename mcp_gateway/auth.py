"""Who is calling: the gateway asks one injected ``Authenticator`` and knows nothing of users.

The users app provides the real one (``users.mcp_auth.JwtAuthenticator``: bearer JWTs, scopes);
the conformance server injects ``AnonymousAuthenticator``. ``settings.MCP_AUTHENTICATOR`` names the
class the gateway factory builds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from mcp_gateway.context import Principal
from mcp_gateway.errors import Unauthorized


class Authenticator(Protocol):
    """Raises ``Unauthorized`` (with ``data={"error": "invalid_request" | "invalid_token"}``)."""

    scopes_supported: tuple[str, ...]
    anonymous: bool

    async def authenticate(self, token: str | None) -> Principal:
        """The principal of a bearer token; a missing, malformed, expired or tampered one is refused."""
        ...

    async def for_username(self, username: str) -> Principal | None:
        """The principal of an active user, with all the user's scopes (local, trusted callers only)."""
        ...


class AnonymousAuthenticator:
    """Everyone is the same anonymous caller: for the conformance server on 127.0.0.1 only."""

    anonymous = True

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        self.scopes_supported = tuple(scopes)
        self._principal = Principal(user_id=0, username="anonymous", scopes=frozenset(self.scopes_supported),
                                    subject="anonymous")

    async def authenticate(self, token: str | None) -> Principal:
        return self._principal

    async def for_username(self, username: str) -> Principal | None:
        return self._principal


def bearer_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if not value:
        return None
    kind, _, token = value.strip().partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def missing_token() -> Unauthorized:
    return Unauthorized("Missing bearer token.", data={"error": "invalid_request"})


def invalid_token(reason: str) -> Unauthorized:
    """``Invalid token: <reason>.`` (one sentence, whatever punctuation the reason came with)."""
    return Unauthorized(f"Invalid token: {reason.rstrip('. ')}.", data={"error": "invalid_token"})


__all__ = ["AnonymousAuthenticator", "Authenticator", "bearer_from_header", "invalid_token", "missing_token"]
