"""The load anchor: a minimal server built with the official MCP Python SDK 2.x (``mcp`` 2.3.0).

One trivial tool, ``echo``; stateless Streamable HTTP with JSON answers at ``/mcp``; one uvicorn
worker on 127.0.0.1. No auth. ``bench/mcp_load.py`` starts it; to run it by hand:

    .venv/bin/python bench/anchor_sdk_server.py --port 8100
"""

from __future__ import annotations

import argparse

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer(name="anchor-sdk", version="2.3.0")


@server.tool(description="Echo the text back.")
def echo(text: str) -> str:
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, workers=1)


if __name__ == "__main__":
    main()
