"""Legacy-era sessions in a store every process shares: Redis when configured, the database otherwise.

A session belongs to the user who opened it; anyone else asking for it gets "not found".
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from django.utils import timezone

from config.redis_clients import redis_for_loop
from mcp_gateway import db


@dataclass
class SessionState:
    id: str
    owner: str  # Principal.rate_key: the user id, or the subject of a caller that is no user
    protocol_version: str
    client_info: dict[str, Any] = field(default_factory=dict)
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    log_level: str | None = None
    initialized: bool = False
    subscriptions: list[str] = field(default_factory=list)

    def snapshot(self) -> tuple[Any, ...]:
        """What a request may change, to tell cheaply whether the session must be written back."""
        return (self.protocol_version, self.initialized, self.log_level, tuple(self.subscriptions))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> SessionState:
        return cls(**json.loads(raw))


def new_session_id() -> str:
    return secrets.token_urlsafe(24)  # visible ASCII only, 192 random bits


class SessionStore(Protocol):
    async def create(self, state: SessionState) -> None: ...
    async def get(self, session_id: str) -> SessionState | None: ...
    async def save(self, state: SessionState) -> None: ...
    async def delete(self, session_id: str) -> bool: ...


class RedisSessionStore:
    def __init__(self, url: str, ttl: timedelta) -> None:
        self._url = url
        self._ttl = int(ttl.total_seconds())

    @property
    def _redis(self) -> Any:
        return redis_for_loop(self._url)

    @staticmethod
    def _key(session_id: str) -> str:
        return f"callmcp:mcp:session:{session_id}"

    async def create(self, state: SessionState) -> None:
        await self._redis.set(self._key(state.id), state.to_json(), ex=self._ttl)

    async def get(self, session_id: str) -> SessionState | None:
        raw = await self._redis.getex(self._key(session_id), ex=self._ttl)
        return SessionState.from_json(raw) if raw else None

    async def save(self, state: SessionState) -> None:
        await self._redis.set(self._key(state.id), state.to_json(), ex=self._ttl, xx=True)

    async def delete(self, session_id: str) -> bool:
        return bool(await self._redis.delete(self._key(session_id)))


class DatabaseSessionStore:
    def __init__(self, ttl: timedelta) -> None:
        self._ttl = ttl

    @staticmethod
    def _model() -> Any:
        from mcp_gateway.models import McpSession  # stores may be built before the app registry is ready

        return McpSession

    async def create(self, state: SessionState) -> None:
        await db.run(
            self._model().objects.create, id=state.id, data=state.to_json(), expires_at=timezone.now() + self._ttl
        )

    async def get(self, session_id: str) -> SessionState | None:
        def fetch() -> str | None:
            return (
                self._model()
                .objects.filter(id=session_id, expires_at__gt=timezone.now())
                .values_list("data", flat=True)
                .first()
            )

        raw = await db.run(fetch)
        return SessionState.from_json(raw) if raw else None

    async def save(self, state: SessionState) -> None:
        def update() -> None:
            self._model().objects.filter(id=state.id).update(
                data=state.to_json(), expires_at=timezone.now() + self._ttl
            )

        await db.run(update)

    async def delete(self, session_id: str) -> bool:
        def remove() -> bool:
            return bool(self._model().objects.filter(id=session_id).delete()[0])

        return await db.run(remove)


def build_session_store(*, redis_url: str, ttl_seconds: int) -> SessionStore:
    ttl = timedelta(seconds=ttl_seconds)
    if redis_url:
        return RedisSessionStore(redis_url, ttl)
    return DatabaseSessionStore(ttl)


__all__ = ["SessionState", "SessionStore", "build_session_store", "new_session_id"]
