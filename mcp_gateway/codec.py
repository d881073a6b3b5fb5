"""Encoding of outgoing JSON-RPC messages, shared by every transport.

orjson encodes a tools/list answer (about 10 KB) in ~6 us where the standard library takes ~90 us,
the largest single cost of a WebSocket request. What orjson refuses (an integer beyond 64 bits, a
non-string key) falls back to the standard library, so any message we can build can be sent.
Incoming messages are still parsed with ``json.loads``: orjson reads integers beyond 64 bits as
floats, which would change a client's request id.

A list that is the same on every answer (a tools/list page: about 51 KB, ~80 us to encode) can be an
``Encoded``: a list like any other to the code that reads it, whose JSON ``dumps`` copies (~3 us) instead of
encoding it again when it is a member of a message's ``result``. The bytes are the same either way.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class Encoded(list[Any]):
    """A list with its JSON encoded once (``orjson.dumps(items)``); ``dumps`` sends those bytes."""

    __slots__ = ("fragment",)

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self.fragment = orjson.Fragment(orjson.dumps(items, default=_default))


def _default(value: Any) -> str:
    return str(value)


def _with_fragments(message: Any) -> Any:
    """``message`` with each ``Encoded`` member of its ``result`` replaced by its bytes (a copy: the
    message itself is left as it is); batches member by member."""
    if type(message) is list:
        return [_with_fragments(item) for item in message]
    result = message.get("result") if type(message) is dict else None
    if type(result) is not dict:
        return message
    swapped: dict[str, Any] | None = None
    for key, value in result.items():
        if type(value) is Encoded:
            swapped = swapped if swapped is not None else dict(result)
            swapped[key] = value.fragment
    return message if swapped is None else {**message, "result": swapped}


def dumps(message: Any) -> bytes:
    """Compact JSON (no spaces), UTF-8; datetimes and UUIDs as ISO strings, anything else via ``str``."""
    try:
        return orjson.dumps(_with_fragments(message), default=_default)
    except TypeError:
        return json.dumps(message, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def dumps_text(message: Any) -> str:
    return dumps(message).decode()
