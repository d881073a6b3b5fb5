"""Decoding one incoming frame (an HTTP body, a WebSocket text frame, a stdio line) with its size limit.

Incoming messages are parsed with ``json.loads``, not orjson: orjson reads integers beyond 64 bits as
floats, which would change a client's request id.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_gateway import errors


class FrameTooLarge(errors.InvalidRequest):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} too large: the limit is {limit} bytes.")
        self.limit = limit


def check_size(size: int, *, limit: int, what: str) -> None:
    if size > limit:
        raise FrameTooLarge(what, limit)


def decode(data: str | bytes, *, limit: int, what: str = "Message") -> Any:
    """The JSON value of one frame; raises ``FrameTooLarge`` or ``ParseError``."""
    check_size(len(data.encode() if isinstance(data, str) else data), limit=limit, what=what)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise errors.ParseError(f"Parse error: {exc}") from exc
