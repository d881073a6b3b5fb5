"""OAuth-style scopes carried in the ``scope`` claim of our JWTs (space-separated)."""

from __future__ import annotations

CALLS_READ = "calls:read"
CALLS_WRITE = "calls:write"
CREDITS_READ = "credits:read"

ALL_SCOPES: tuple[str, ...] = (CALLS_READ, CALLS_WRITE, CREDITS_READ)
DESCRIPTIONS: dict[str, str] = {
    CALLS_READ: "Read your calls, transcripts and recordings.",
    CALLS_WRITE: "Place and cancel calls (spends credits).",
    CREDITS_READ: "Read your credit balance and usage.",
}


def default_scopes() -> list[str]:
    return list(ALL_SCOPES)


def parse(value: object) -> frozenset[str]:
    """Scopes from a claim: a space-separated string (RFC 8693) or a list."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(item) for item in value)
    return frozenset()


def unknown(scopes: set[str] | frozenset[str]) -> list[str]:
    return sorted(set(scopes) - set(ALL_SCOPES))
