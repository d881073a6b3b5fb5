"""deploy/smoke.py, the check every deployment ends with, against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _smoke(url: str, token: str = "", wait: str = "30") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SMOKE_MCP_TOKEN"}
    if token:
        env["SMOKE_MCP_TOKEN"] = token
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "smoke.py"), url, "--wait", wait],  # noqa: S603
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_smoke_test_passes_against_a_healthy_server_with_a_token(mcp_server, mcp_token):
    result = _smoke(mcp_server, mcp_token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   initialize:" in result.stdout
    assert "ok   tools/list:" in result.stdout
    assert result.stdout.strip().endswith(f"smoke test passed: {mcp_server}")


def test_without_a_token_it_still_checks_readiness_and_the_auth_challenge(mcp_server, live_db):
    result = _smoke(mcp_server)
    assert result.returncode == 0, result.stderr
    assert "ok   MCP refuses requests without a token" in result.stdout
    assert "skip MCP initialize" in result.stdout


def test_a_bad_token_fails_the_smoke_test(mcp_server, live_db):
    result = _smoke(mcp_server, "not-a-token")
    assert result.returncode == 1
    assert "FAIL initialize: HTTP 401" in result.stderr


def test_a_server_that_never_gets_ready_fails_after_the_wait():
    result = _smoke("http://127.0.0.1:9", wait="1")
    assert result.returncode == 1
    assert "FAIL /readyz not ready within 1 s" in result.stderr
