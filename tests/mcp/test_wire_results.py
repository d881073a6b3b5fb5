"""tools/call and resources/read results go out as the official mcp-types models (mcp_gateway/wire.py): a
result the models refuse is answered as an internal error, never sent half-valid."""

from __future__ import annotations

import logging

import pytest

from mcp_gateway.gateway import build_gateway
from tests.mcp.clients import HttpMcp
from tests.mcp.conftest import TEST_PRIMITIVES


@pytest.fixture
def malformed_session(serve, live_db, mcp_token):  # noqa: ANN001, ANN201
    url = serve(build_gateway(modules=[*TEST_PRIMITIVES, "tests.mcp.malformed_tools"]))
    client = HttpMcp(url, mcp_token)
    client.initialize(version="2025-11-25")
    yield client
    client.close()


def test_a_tool_result_the_mcp_models_refuse_is_an_internal_error(malformed_session, caplog):
    caplog.set_level(logging.ERROR)
    answer = malformed_session.request("tools/call", {"name": "test_malformed", "arguments": {}})
    assert "result" not in answer
    assert answer["error"] == {"code": -32603, "message": "Internal error."}
    assert any("tools/call" in r.getMessage() for r in caplog.records)


def test_resource_contents_the_mcp_models_refuse_are_an_internal_error(malformed_session):
    answer = malformed_session.request("resources/read", {"uri": "test://malformed"})
    assert "result" not in answer
    assert answer["error"]["code"] == -32603


def test_a_valid_tool_result_keeps_its_wire_form(malformed_session):
    answer = malformed_session.request("tools/call", {"name": "test_echo", "arguments": {"text": "hi"}})
    assert answer["result"] == {"content": [{"type": "text", "text": '{"echo": "hi"}'}],
                                "structuredContent": {"echo": "hi"}}
