"""WebSocket interop: the official MCP Python SDK 1.x ``websocket_client`` against /mcp.

The SDK dropped its WebSocket client in 2.0, so the client runs in its own virtualenv
(``.venv-sdk1``, made by ``make install``) as a subprocess: ``tests/interop/ws_sdk1_client.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK1_PYTHON = Path(os.environ.get("CALLMCP_SDK1_PYTHON", ROOT / ".venv-sdk1" / "bin" / "python"))
CLIENT = ROOT / "tests" / "interop" / "ws_sdk1_client.py"


def run_sdk1_client(base_url: str, token: str, text: str) -> subprocess.CompletedProcess[str]:
    if not SDK1_PYTHON.exists():
        pytest.fail(
            f"The MCP SDK 1.x environment is missing: {SDK1_PYTHON} does not exist. Run `make install` "
            "(it creates .venv-sdk1 with 'mcp<2' and websockets), or set CALLMCP_SDK1_PYTHON to such a Python."
        )
    ws_url = base_url.replace("http://", "ws://", 1) + "/mcp"
    env = {"PATH": os.environ.get("PATH", ""), "CALLMCP_TOKEN": token, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(  # noqa: S603 - our own script, run with our own interpreter
        [str(SDK1_PYTHON), str(CLIENT), ws_url, text], capture_output=True, text=True, timeout=60, env=env,
        check=False, cwd=ROOT,
    )


def test_sdk1_websocket_client_initializes_lists_tools_and_calls_test_echo(mcp_server, mcp_token):
    completed = run_sdk1_client(mcp_server, mcp_token, "hello over websocket")

    assert completed.returncode == 0, f"the SDK 1.x client failed:\n{completed.stderr[-4000:]}"
    output = json.loads(completed.stdout)
    assert output["sdk"].startswith("1.")
    initialized = output["initialize"]
    assert initialized["serverInfo"]["name"] == "callmcp"
    assert initialized["protocolVersion"] in ("2025-06-18", "2025-11-25")
    assert initialized["capabilities"]["tools"] is not None
    tools = {tool["name"]: tool for tool in output["tools"]}
    assert "test_echo" in tools
    assert tools["test_echo"]["inputSchema"]["required"] == ["text"]
    assert output["echo"]["isError"] is False
    assert output["echo"]["structuredContent"] == {"echo": "hello over websocket"}
    assert output["echo"]["content"][0]["type"] == "text"
    hello = {"uri": "test://hello", "mimeType": "text/plain", "text": "Hello, mcp-alice"}
    assert output["hello"]["contents"] == [hello]


def test_sdk1_websocket_client_with_a_forged_token_is_refused(mcp_server, mcp_token):
    forged = mcp_token[:-4] + ("AAAA" if not mcp_token.endswith("AAAA") else "BBBB")
    completed = run_sdk1_client(mcp_server, forged, "never echoed")

    assert completed.returncode != 0
    assert completed.stdout == ""
    # Refused before the handshake completes: the WebSocket upgrade is answered with HTTP 403.
    assert "server rejected WebSocket connection: HTTP 403" in completed.stderr, completed.stderr[-4000:]

