"""MCP resources of the users app: the caller's profile and credit balance.

Balance changes (``users.events``) drop the cached balance and reach subscribers of ``credits://balance``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from mcp_gateway import db, notify
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_resource
from users import resource_cache, scopes
from users.events import BalanceChanged, balance_changes
from users.models import User
from users.selectors import credits_balance, user_get
from users.serializers import balance_dict

BALANCE_URI = "credits://balance"


@mcp_resource(
    uri="users://me",
    name="My profile",
    description="Your username, email, the scopes of this token, your plan and your limits.",
    mime_type="application/json",
)
async def me(ctx: RequestScope, uri: str) -> Any:
    def read() -> dict[str, Any]:
        if ctx.principal.user_id is None:  # only the conformance server has an anonymous principal
            raise PermissionError("users://me needs an authenticated user")
        user = user_get(user_id=ctx.principal.user_id)
        limits = {**settings.MCP_RATE_LIMITS, **(user.rate_limits or {})}
        return {
            "username": user.username,
            "email": user.email,
            "scopes": sorted(ctx.principal.scopes),
            "plan": user.plan,
            "limits": {"rate": limits, "max_call_minutes": 720,
                       "credits_per_minute": settings.CALL_CREDITS_PER_MINUTE},
            "created": user.date_joined.isoformat(),
        }

    return json.dumps(await db.run(read))


@mcp_resource(
    uri=BALANCE_URI,
    name="Credit balance",
    description=("Credits you can spend now (available), credits held for calls in flight (reserved) and their "
                 "sum (total). Credits are cents: 100 = $1. Subscribe to hear of every change."),
    mime_type="application/json",
    scopes=[scopes.CREDITS_READ],
)
async def balance(ctx: RequestScope, uri: str) -> Any:
    user_id = ctx.principal.user_id

    def read() -> dict[str, Any]:
        current = credits_balance(user=User(pk=user_id))
        return {**balance_dict(current), "unit": "credit (1/100 USD)"}

    return json.dumps(await db.run(resource_cache.cached, user_id, "credits:balance", read))


@balance_changes.subscribe_many
def balances_changed(events: Sequence[BalanceChanged]) -> None:
    """The cached balance is stale the moment the change commits: drop it, then tell subscribers."""
    users = list(dict.fromkeys(event.user_id for event in events))
    resource_cache.invalidate_many(users, "credits:balance")
    notify.publish_many((user_id, notify.updated_message(BALANCE_URI)) for user_id in users)
