from __future__ import annotations

import httpx

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def test_initialize_then_list_tools_over_http(mcp_server, mcp_token):
    auth = {**HEADERS, "Authorization": f"Bearer {mcp_token}"}
    with httpx.Client(base_url=mcp_server, headers=auth) as client:
        init = client.post("/api/v1/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        assert init.status_code == 200
        session = init.headers["Mcp-Session-Id"]
        headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
        assert client.post("/api/v1/mcp", headers=headers,
                           json={"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
        listed = client.post("/api/v1/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        names = [tool["name"] for tool in listed.json()["result"]["tools"]]
        assert "test_echo" in names
