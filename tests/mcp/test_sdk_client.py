"""The official ``mcp`` 2.x Python client against the live, authenticated server.

Each test uses the SDK as an integrator would: a ``Client`` over Streamable HTTP (legacy handshake
era and the stateless 2026-07-28 era) or over the older HTTP+SSE transport, with the bearer token
on every request. Every wait is bounded (``anyio.fail_after``).
"""

from __future__ import annotations

import logging

import anyio
import httpx2
import mcp_types as types
import pytest
from anyio.to_thread import run_sync
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from mcp_gateway.notify import resource_updated
from tests.mcp.clients import request_log
from tests.mcp.sdk import MCP_PATH, WAIT, Inbox, streamable_client

pytestmark = pytest.mark.anyio



@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- Streamable HTTP, legacy era (initialize handshake, session) -----------------------------------


async def test_sdk_client_negotiates_the_latest_handshake_version_over_streamable_http(mcp_server, mcp_token):
    async with streamable_client(mcp_server, mcp_token, mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "callmcp"
        capabilities = client.server_capabilities
        assert capabilities.tools is not None
        assert capabilities.resources is not None
        assert capabilities.resources.subscribe is True
        assert client.instructions


async def test_sdk_client_lists_tools_and_gets_structured_content_from_test_echo(mcp_server, mcp_token):
    async with streamable_client(mcp_server, mcp_token, mode="legacy") as client:
        with anyio.fail_after(WAIT):
            listed = await client.list_tools()
            result = await client.call_tool("test_echo", {"text": "hello sdk"})
        echo = next(tool for tool in listed.tools if tool.name == "test_echo")
        assert echo.output_schema is not None
        assert echo.annotations is not None
        assert echo.annotations.read_only_hint is True
        assert result.is_error is False
        assert result.structured_content == {"echo": "hello sdk"}
        assert isinstance(result.content[0], types.TextContent)


async def test_sdk_client_sees_a_tool_error_as_an_is_error_result(mcp_server, mcp_token):
    async with streamable_client(mcp_server, mcp_token, mode="legacy") as client:
        with anyio.fail_after(WAIT):
            result = await client.call_tool("test_refuse", {})
        assert result.is_error is True
        assert "not today" in result.content[0].text


async def test_sdk_client_reads_a_text_resource(mcp_server, mcp_token):
    async with streamable_client(mcp_server, mcp_token, mode="legacy") as client:
        with anyio.fail_after(WAIT):
            result = await client.read_resource("test://hello")
        (content,) = result.contents
        assert isinstance(content, types.TextResourceContents)
        assert str(content.uri) == "test://hello"
        assert content.mime_type == "text/plain"
        assert content.text == "Hello, mcp-alice"


async def test_sdk_client_receives_resource_updated_after_subscribing(mcp_server, mcp_token, mcp_user):
    inbox = Inbox()
    async with streamable_client(mcp_server, mcp_token, mode="legacy", message_handler=inbox.message_handler) as client:
        with anyio.fail_after(WAIT), pytest.warns(MCPDeprecationWarning):
            await client.subscribe_resource("test://hello")
        # The SDK opens its GET stream on its own, with no signal when it is live: publish until one arrives.
        with anyio.fail_after(WAIT):
            while "test://hello" not in inbox.updated_uris():
                await run_sync(lambda: resource_updated(user_id=mcp_user.pk, uri="test://hello"))
                await inbox.wait_changed(0.25)
        assert set(inbox.updated_uris()) == {"test://hello"}


async def test_sdk_client_gets_no_update_for_a_resource_it_did_not_subscribe_to(mcp_server, mcp_token, mcp_user):
    inbox = Inbox()
    async with streamable_client(mcp_server, mcp_token, mode="legacy", message_handler=inbox.message_handler) as client:
        with anyio.fail_after(WAIT), pytest.warns(MCPDeprecationWarning):
            await client.subscribe_resource("test://hello")
        with anyio.fail_after(WAIT):
            while "test://hello" not in inbox.updated_uris():
                await run_sync(lambda: resource_updated(user_id=mcp_user.pk, uri="test://items/1"))
                await run_sync(lambda: resource_updated(user_id=mcp_user.pk, uri="test://hello"))
                await inbox.wait_changed(0.25)
        assert "test://items/1" not in inbox.updated_uris()


async def test_sdk_client_progress_callback_sees_every_step_of_test_slow(mcp_server, mcp_token):
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with streamable_client(mcp_server, mcp_token, mode="legacy") as client:
        with anyio.fail_after(WAIT):
            result = await client.call_tool("test_slow", {"steps": 3}, progress_callback=on_progress)
        assert result.is_error is False
        assert result.content[0].text == "counted to 3"
        assert progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


async def test_cancelling_the_sdk_call_stops_test_slow_on_the_server(mcp_server, mcp_token, caplog):
    caplog.set_level(logging.INFO, logger="mcp_gateway.requests")
    inbox = Inbox()
    first_step = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        first_step.set()

    async with streamable_client(mcp_server, mcp_token, mode="legacy", message_handler=inbox.message_handler,
                                 logging_callback=inbox.logging_callback) as client:
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                # 200 steps take 10 s; the caller gives up after the first one.
                tg.start_soon(lambda: client.call_tool("test_slow", {"steps": 200}, progress_callback=on_progress))
                await first_step.wait()
                tg.cancel_scope.cancel()

        # The SDK sent notifications/cancelled; the server reports the request as cancelled.
        with anyio.fail_after(WAIT):
            while not any(line["method"] == "tools/call" and line["outcome"] == "cancelled"
                          for line in request_log(caplog.records)):
                await inbox.wait_changed(0.05)
        assert any(line["method"] == "notifications/cancelled" for line in request_log(caplog.records))

        # The session still works; the cancelled call stopped after a few of its 200 steps (one per 50 ms).
        with anyio.fail_after(WAIT):
            result = await client.call_tool("test_slow", {"steps": 3})
        assert result.content[0].text == "counted to 3"
        cancelled_steps = len(inbox.log_messages) - 3
        assert 1 <= cancelled_steps < 20, inbox.log_messages


# --- Streamable HTTP, modern era (2026-07-28, stateless) -------------------------------------------


async def test_sdk_client_in_auto_mode_discovers_the_server_and_speaks_2026_07_28(mcp_server, mcp_token):
    async with streamable_client(mcp_server, mcp_token, mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        discovered = client.session.discover_result
        assert discovered is not None
        assert "2026-07-28" in discovered.supported_versions
        assert "2025-11-25" in discovered.supported_versions
        assert client.server_info is not None
        assert client.server_info.name == "callmcp"
        with anyio.fail_after(WAIT):
            listed = await client.list_tools()
            result = await client.call_tool("test_echo", {"text": "modern"})
            read = await client.read_resource("test://hello")
        assert "test_echo" in [tool.name for tool in listed.tools]
        assert result.structured_content == {"echo": "modern"}
        assert read.contents[0].text == "Hello, mcp-alice"


async def test_sdk_client_pinned_to_2026_07_28_calls_tools_without_a_handshake(mcp_server, mcp_token):
    async with streamable_client(mcp_server, mcp_token, mode="2026-07-28") as client:
        with anyio.fail_after(WAIT):
            listed = await client.list_tools()
            result = await client.call_tool("test_echo", {"text": "pinned"})
        assert "test_echo" in [tool.name for tool in listed.tools]
        assert result.structured_content == {"echo": "pinned"}


async def test_sdk_client_listen_on_2026_07_28_receives_resource_updated(mcp_server, mcp_token, mcp_user):
    async with streamable_client(mcp_server, mcp_token, mode="2026-07-28") as client:
        with anyio.fail_after(WAIT):
            async with client.listen(resource_subscriptions=["test://hello"]) as subscription:
                assert subscription.honored is not None
                assert subscription.honored.resource_subscriptions == ["test://hello"]
                # Acknowledged: the server has joined the user's notifications, so one publish is enough.
                await run_sync(lambda: resource_updated(user_id=mcp_user.pk, uri="test://hello"))
                event = await anext(aiter(subscription))
        assert event == ResourceUpdated(uri="test://hello")


# --- HTTP+SSE (2024-11-05 transport) ---------------------------------------------------------------


async def test_sdk_sse_client_initializes_lists_and_calls_a_tool(mcp_server, mcp_token):
    transport = sse_client(f"{mcp_server}{MCP_PATH}/sse", headers={"Authorization": f"Bearer {mcp_token}"},
                           timeout=WAIT, sse_read_timeout=60)
    async with Client(transport, mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "callmcp"
        with anyio.fail_after(WAIT):
            listed = await client.list_tools()
            result = await client.call_tool("test_echo", {"text": "over sse"})
        assert "test_echo" in [tool.name for tool in listed.tools]
        assert result.structured_content == {"echo": "over sse"}


async def test_sdk_client_without_a_token_fails_to_connect_with_the_servers_reason(mcp_server):
    async with httpx2.AsyncClient(timeout=WAIT) as http:
        with anyio.fail_after(WAIT), pytest.raises(ExceptionGroup) as refused:
            async with Client(streamable_http_client(f"{mcp_server}{MCP_PATH}", http_client=http), mode="legacy"):
                pass
    assert refused.group_contains(MCPError, match="Missing bearer token", depth=None)


async def test_sdk_client_with_a_forged_token_fails_to_connect(mcp_server, mcp_token):
    forged = mcp_token[:-4] + ("AAAA" if not mcp_token.endswith("AAAA") else "BBBB")
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {forged}"}, timeout=WAIT) as http:
        with anyio.fail_after(WAIT), pytest.raises(ExceptionGroup) as refused:
            async with Client(streamable_http_client(f"{mcp_server}{MCP_PATH}", http_client=http), mode="legacy"):
                pass
    assert refused.group_contains(MCPError, match="Invalid token", depth=None)
