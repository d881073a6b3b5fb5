"""Each tools/call of a registered tool is counted in CloudWatch (McpToolCalls, by tool; failures also
in McpToolErrors); a name a client makes up creates no metric series (each series costs money)."""

from __future__ import annotations

import io
import json

import pytest

from config import metrics
from tests.mcp.clients import HttpMcp


@pytest.fixture
def emf() -> io.StringIO:
    out = io.StringIO()
    previous = metrics.set_recorder(metrics.Recorder(metrics.EmfSink(lambda: out), background=False))
    yield out
    metrics.set_recorder(previous)


def _counts(out: io.StringIO) -> dict[tuple[str, str], float]:
    metrics.flush()
    counts: dict[tuple[str, str], float] = {}
    for line in out.getvalue().splitlines():
        document = json.loads(line)
        name = document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
        values = document[name] if isinstance(document[name], list) else [document[name]]
        counts[(name, document.get("Tool", ""))] = counts.get((name, document.get("Tool", "")), 0) + sum(values)
    return counts


def test_tool_calls_are_counted_per_registered_tool_and_unknown_names_are_not(mcp_server, mcp_token, emf):
    client = HttpMcp(mcp_server, mcp_token)
    try:
        client.initialize()
        for _ in range(2):
            assert "result" in client.request("tools/call", {"name": "test_echo", "arguments": {"text": "hi"}})
        assert "error" in client.request("tools/call", {"name": "made-up-tool", "arguments": {}})
        assert "error" in client.request("tools/call", {"name": ["not", "a", "name"], "arguments": {}})
    finally:
        client.close()
    counts = _counts(emf)
    assert counts == {("McpToolCalls", "test_echo"): 2}
