"""The load anchor: a minimal server built with the official MCP Python SDK 2.x (``mcp`` 2.3.0).

One trivial tool, ``echo``; stateless Streamable HTTP with JSON answers at ``/mcp``; one uvicorn
worker on 127.0.0.1. No auth. ``bench/mcp_load.py`` starts it; to run it by hand:

    .venv/bin/python bench/anchor_sdk_server.py --port 8100

``--tools-file FILE`` (a JSON list of tool definitions, as a tools/list result's ``tools``) makes its
tools/list answer those definitions instead (names, titles, descriptions, schemas, annotations,
``_meta``, ``execution``), each built as the SDK's own ``Tool`` model on every request as the SDK's
``MCPServer.list_tools`` builds its own; ``echo`` can still be called. ``mcp_load.py --targets sdk-tools``
gives it our gateway's list, for a tools/list that is like for like.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import Tool


class ListedServer(MCPServer):
    """``MCPServer`` whose tools/list answers the given definitions."""

    def __init__(self, definitions: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._definitions = definitions

    async def list_tools(self) -> list[Tool]:
        return [Tool.model_validate(definition) for definition in self._definitions]


def echo(text: str) -> str:
    return text


def build(tools_file: str | None) -> MCPServer:
    if tools_file:
        server: MCPServer = ListedServer(json.loads(Path(tools_file).read_text()), name="anchor-sdk",
                                         version="2.3.0")
    else:
        server = MCPServer(name="anchor-sdk", version="2.3.0")
    server.add_tool(echo, description="Echo the text back.")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--tools-file", help="a JSON list of tool definitions for tools/list to answer")
    args = parser.parse_args()
    app = build(args.tools_file).streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, workers=1)


if __name__ == "__main__":
    main()
