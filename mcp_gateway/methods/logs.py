"""logging/setLevel (legacy era): the threshold of the session's notifications/message."""

from __future__ import annotations

from typing import Any

from mcp_gateway.methods.base import MethodCall, Methods


async def set_level(call: MethodCall) -> dict[str, Any]:
    if call.session is not None:
        call.session.log_level = call.params["level"]
    return {}


def register(methods: Methods) -> None:
    methods.add("logging/setLevel", set_level)
