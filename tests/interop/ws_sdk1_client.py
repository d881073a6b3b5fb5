"""Drive callmcp's WebSocket transport with the official MCP Python SDK 1.x ``websocket_client``.

Runs in its own virtualenv (``.venv-sdk1``, made by ``make install``): the SDK removed its WebSocket
client in 2.0. The client offers the subprotocol ``mcp`` but cannot send headers, so the bearer
token travels as ``?access_token=``. It connects, initializes, lists tools, calls ``test_echo``
with the given text and reads ``test://hello``, then prints one JSON object on stdout:

    {"sdk": "1.x.y", "initialize": {...}, "tools": [...], "echo": {...}, "hello": {...}}

Usage: CALLMCP_TOKEN=<jwt> python ws_sdk1_client.py ws://127.0.0.1:8000/mcp "some text"
Exit status 0 on success; any failure raises (traceback on stderr, non-zero exit).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from importlib.metadata import version
from typing import Any
from urllib.parse import urlencode

import anyio
from mcp import ClientSession
from mcp.client.websocket import websocket_client

TIMEOUT_SECONDS = 20


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def main(url: str, text: str, token: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "WebSocket was never part of the MCP specification"
        transport = websocket_client(f"{url}?{urlencode({'access_token': token})}")
    with anyio.fail_after(TIMEOUT_SECONDS):
        async with transport as (read_stream, write_stream), ClientSession(read_stream, write_stream) as session:
            initialized = await session.initialize()
            tools = await session.list_tools()
            echo = await session.call_tool("test_echo", {"text": text})
            hello = await session.read_resource("test://hello")
    return {
        "sdk": version("mcp"),
        "initialize": dump(initialized),
        "tools": [dump(tool) for tool in tools.tools],
        "echo": dump(echo),
        "hello": dump(hello),
    }


if __name__ == "__main__":
    result = anyio.run(main, sys.argv[1], sys.argv[2], os.environ["CALLMCP_TOKEN"])
    print(json.dumps(result))
