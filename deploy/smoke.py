#!/usr/bin/env python3
"""Smoke test of a deployed callmcp: what deploy.yml runs after every deployment.

    python3 deploy/smoke.py https://api.example.com [--wait 300]     (SMOKE_MCP_TOKEN: a calls:read token)

1. /readyz answers 200 (database and Redis reachable), retried for up to --wait seconds;
2. the MCP endpoint refuses a request without a token with 401 and a WWW-Authenticate header that
   points at the OAuth protected-resource metadata, which is served;
3. with SMOKE_MCP_TOKEN: an MCP initialize succeeds, tools/list names the call tools, the session
   is ended with DELETE.
Standard library only, so it runs on any CI runner. Exit status 0 when everything holds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

PROTOCOL_VERSION = "2025-06-18"
EXPECTED_TOOLS = {"makePhoneCall", "getCallDetails", "getCallHistory", "cancelCall"}


class SmokeFailure(Exception):
    pass


def request(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None,
            timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    prepared = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - https URL given by the operator
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_ready(base: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    last = "no answer"
    while True:
        try:
            status, _, body = request("GET", f"{base}/readyz", timeout=5)
            if status == 200:
                print(f"ok   /readyz: {body.decode(errors='replace')[:200]}")
                return
            last = f"HTTP {status}: {body.decode(errors='replace')[:200]}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise SmokeFailure(f"/readyz not ready within {wait:.0f} s: {last}")
        time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))


def check_auth_challenge(base: str) -> None:
    status, headers, _ = request("POST", f"{base}/api/v1/mcp", body={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
    if status != 401 or "resource_metadata=" not in challenge:
        raise SmokeFailure(f"MCP without a token: expected 401 with resource_metadata, got {status} {challenge!r}")
    status, _, body = request("GET", f"{base}/.well-known/oauth-protected-resource")
    if status != 200 or "resource" not in json.loads(body or b"{}"):
        raise SmokeFailure(f"OAuth protected-resource metadata: HTTP {status}")
    print("ok   MCP refuses requests without a token (401 + resource metadata)")


def _mcp(base: str, token: str, body: dict[str, Any], session: str | None = None) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {token}", "MCP-Protocol-Version": PROTOCOL_VERSION}
    if session:
        headers["Mcp-Session-Id"] = session
    status, answer_headers, raw = request("POST", f"{base}/api/v1/mcp", body=body, headers=headers)
    text = raw.decode(errors="replace")
    if text.startswith(("event:", "data:", ":")):  # an SSE answer: the last data line is the reply
        text = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")][-1]
    return status, {k.lower(): v for k, v in answer_headers.items()}, json.loads(text) if text else None


def check_initialize(base: str, token: str) -> None:
    params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
              "clientInfo": {"name": "callmcp-smoke", "version": "1"}}
    status, headers, answer = _mcp(base, token, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    if status != 200 or not answer or "result" not in answer:
        raise SmokeFailure(f"initialize: HTTP {status}: {answer}")
    server = answer["result"].get("serverInfo", {})
    session = headers.get("mcp-session-id")
    version = answer["result"]["protocolVersion"]
    print(f"ok   initialize: {server.get('name')} {server.get('version')}, protocol {version}")
    _mcp(base, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    status, _, listed = _mcp(base, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session)
    names = {tool["name"] for tool in (listed or {}).get("result", {}).get("tools", [])}
    if status != 200 or not names >= EXPECTED_TOOLS:
        raise SmokeFailure(f"tools/list: HTTP {status}, missing {sorted(EXPECTED_TOOLS - names)}")
    print(f"ok   tools/list: {len(names)} tools")
    if session:
        request("DELETE", f"{base}/api/v1/mcp", headers={"Authorization": f"Bearer {token}", "Mcp-Session-Id": session,
                                                          "MCP-Protocol-Version": PROTOCOL_VERSION})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="e.g. https://api.example.com")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for /readyz (default 300)")
    args = parser.parse_args(argv)
    base = args.base_url.rstrip("/")
    token = os.environ.get("SMOKE_MCP_TOKEN", "")
    try:
        wait_ready(base, args.wait)
        check_auth_challenge(base)
        if token:
            check_initialize(base, token)
        else:
            print("skip MCP initialize: SMOKE_MCP_TOKEN is not set")
    except SmokeFailure as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    print(f"smoke test passed: {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
