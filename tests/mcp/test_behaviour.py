"""What an MCP client sees, over Streamable HTTP and over WebSocket alike.

Every test here runs once per transport through the ``connect`` fixture; the few tests at the end
are about the WebSocket handshake (token, Origin, subprotocol), which only that transport has.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from websockets.exceptions import InvalidStatus

from config.ratelimit import RateLimiter
from mcp_gateway import notify
from tests.mcp.clients import HttpMcp, McpClient, WsMcp, error_of, iter_sse, request_log, result_of, walk_pages
from tests.mcp.conftest import gateway_for_tests
from users.services import token_for_user

SUPPORTED_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
LATEST = "2025-11-25"
TEST_TOOLS = {"test_echo", "test_place", "test_refuse", "test_slow"}

Connect = Callable[..., McpClient]


@pytest.fixture(params=["http", "websocket"])
def connect(request: pytest.FixtureRequest, mcp_server: str, live_db: None) -> Iterator[Connect]:
    """Open clients of this test's transport; all are closed before the database is emptied."""
    opened: list[McpClient] = []

    def open_client(token: str | None, *, server: str | None = None, **kwargs: Any) -> McpClient:
        kind = HttpMcp if request.param == "http" else WsMcp
        client: McpClient = kind(server or mcp_server, token, **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture
def mcp(connect: Connect, mcp_token: str) -> McpClient:
    """An initialized client (protocol 2025-11-25) of mcp_user, holding every scope."""
    client = connect(mcp_token)
    assert "result" in client.initialize()
    return client


@pytest.fixture
def small_pages(serve: Callable[..., str]) -> str:
    """A live server whose gateway pages lists two items at a time."""
    return serve(gateway_for_tests(page_size=2))


@pytest.fixture
def frozen_rate_limits(serve: Callable[..., str], fresh_rate_limits: None) -> str:
    """A live server whose rate limiter has a frozen clock (no window roll-over mid-test), with no counts
    left from earlier runs."""
    frozen = time.time()
    limiter = RateLimiter(settings.MCP_RATE_LIMITS, settings.REDIS_URL, clock=lambda: frozen)
    return serve(gateway_for_tests(rate_limiter=limiter))


# --- lifecycle -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_initialize_echoes_each_supported_protocol_version(connect, mcp_token, version):
    client = connect(mcp_token)

    result = result_of(client.initialize(version=version))

    assert result["protocolVersion"] == version
    assert result["serverInfo"]["name"]
    assert {"tools", "resources", "prompts", "logging"} <= set(result["capabilities"])
    assert result["capabilities"]["resources"]["subscribe"] is True
    assert result_of(client.request("ping")) == {}


def test_initialize_with_an_unknown_version_gets_the_latest_the_server_speaks(connect, mcp_token):
    client = connect(mcp_token)

    result = result_of(client.initialize(version="1999-01-01"))

    assert result["protocolVersion"] == LATEST
    assert result_of(client.request("tools/list"))["tools"]


def test_ping_answers_an_empty_result_with_the_same_id(mcp):
    request_id = mcp.start("ping")

    answer = mcp.wait_response(request_id)

    assert answer == {"jsonrpc": "2.0", "id": request_id, "result": {}}


def test_each_request_writes_one_structured_log_line_and_never_the_token(mcp, mcp_user, mcp_token, caplog):
    caplog.set_level(logging.INFO, logger="mcp_gateway.requests")

    echoed = mcp.request("tools/call", {"name": "test_echo", "arguments": {"text": "logged"}})
    refused = mcp.request("tools/call", {"name": "test_refuse", "arguments": {}})
    unknown = mcp.request("tools/juggle", {})

    assert result_of(echoed)["structuredContent"] == {"echo": "logged"}
    assert result_of(refused)["isError"] is True
    assert error_of(unknown)["code"] == -32601
    mine = [line for line in request_log(caplog.records) if line["method"] in ("tools/call", "tools/juggle")]
    assert [(line["method"], line["tool"], line["outcome"]) for line in mine] == [
        ("tools/call", "test_echo", "ok"), ("tools/call", "test_refuse", "ok"), ("tools/juggle", None, "error -32601"),
    ]
    for line in mine:
        assert line["user"] == mcp_user.username
        assert line["transport"] == ("http" if isinstance(mcp, HttpMcp) else "websocket")
        assert isinstance(line["session"], str)
        assert line["session"]
        assert isinstance(line["duration_ms"], float | int)
        assert line["duration_ms"] >= 0
    assert mcp_token not in caplog.text
    assert mcp_token.split(".")[2] not in caplog.text  # not even the signature


@pytest.mark.parametrize("request_id", [2**70, -(2**63) - 1, "id with é, 日本 and \U0001f4de"])
def test_ids_beyond_64_bits_and_non_ascii_ids_come_back_unchanged(mcp, request_id):
    mcp.start("ping", request_id=request_id)

    answer = mcp.wait_response(request_id)

    assert answer == {"jsonrpc": "2.0", "id": request_id, "result": {}}


def test_ping_is_answered_even_before_initialize(connect, mcp_token):
    client = connect(mcp_token)

    assert result_of(client.request("ping")) == {}


def test_other_requests_before_initialize_are_invalid_requests(connect, mcp_token):
    client = connect(mcp_token)

    error = error_of(client.request("tools/list"))

    assert error["code"] == -32600


def test_a_second_initialize_on_the_same_session_is_an_invalid_request(mcp):
    params = {"protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "again", "version": "1"}}

    error = error_of(mcp.request("initialize", params))

    assert error["code"] == -32600
    assert result_of(mcp.request("ping")) == {}


def test_invalid_json_is_a_parse_error_with_id_null(mcp):
    mcp.send_text('{"jsonrpc": "2.0", "id": 1, "method": "ping"')

    error = error_of(mcp.wait_response(None))

    assert error["code"] == -32700
    assert result_of(mcp.request("ping")) == {}


def test_a_batch_on_a_2025_03_26_session_answers_every_request(connect, mcp_token):
    client = connect(mcp_token)
    client.initialize(version="2025-03-26")

    client.send([client.message("ping", None, "batch-1"), client.message("ping", None, "batch-2")])

    assert client.wait_response("batch-1") == {"jsonrpc": "2.0", "id": "batch-1", "result": {}}
    assert client.wait_response("batch-2") == {"jsonrpc": "2.0", "id": "batch-2", "result": {}}


def test_a_batch_on_a_2025_11_25_session_is_an_invalid_request(mcp):
    mcp.send([mcp.message("ping", None, "batch-1"), mcp.message("ping", None, "batch-2")])

    error = error_of(mcp.wait_response(None))

    assert error["code"] == -32600
    assert not mcp.has_response("batch-1")
    assert not mcp.has_response("batch-2")


def test_an_unknown_method_is_method_not_found(mcp):
    error = error_of(mcp.request("tools/juggle", {}))

    assert error["code"] == -32601


# --- tools -----------------------------------------------------------------------------------------


def test_tools_list_is_deterministic_and_every_tool_is_described(mcp):
    first = [tool for page in walk_pages(mcp, "tools/list", "tools") for tool in page]
    second = [tool for page in walk_pages(mcp, "tools/list", "tools") for tool in page]

    assert first == second
    assert {tool["name"] for tool in first} >= TEST_TOOLS
    for tool in first:
        assert tool["description"].strip(), tool["name"]
        assert tool["inputSchema"]["type"] == "object"
    echo = next(tool for tool in first if tool["name"] == "test_echo")
    assert echo["outputSchema"]["required"] == ["echo"]
    assert echo["annotations"]["readOnlyHint"] is True


def test_tools_list_leaves_out_tools_the_token_has_no_scope_for(connect, mcp_user):
    client = connect(token_for_user(user=mcp_user, scopes=["calls:read"]))
    client.initialize()

    names = {tool["name"] for page in walk_pages(client, "tools/list", "tools") for tool in page}

    assert "test_echo" in names
    assert "test_place" not in names


def test_tools_list_answers_each_token_its_own_tools_whatever_another_listed_before(connect, mcp_user, mcp_token):
    everything = connect(mcp_token)
    read_only = connect(token_for_user(user=mcp_user, scopes=["calls:read"]))
    for client in (everything, read_only):
        client.initialize()

    seen = [{tool["name"] for page in walk_pages(client, "tools/list", "tools") for tool in page}
            for client in (everything, read_only, everything, read_only)]

    assert seen[0] == seen[2]
    assert seen[1] == seen[3]
    assert "test_place" in seen[0]
    assert "test_place" not in seen[1]


def test_tools_list_to_an_id_beyond_64_bits_is_the_same_list(mcp):
    listed = result_of(mcp.request("tools/list"))

    mcp.start("tools/list", request_id=2**70)
    answer = mcp.wait_response(2**70)

    assert answer["id"] == 2**70
    assert answer["result"] == listed


def test_echo_answers_structured_content_and_the_same_json_as_text(mcp):
    result = result_of(mcp.request("tools/call", {"name": "test_echo", "arguments": {"text": "hello"}}))

    assert result["structuredContent"] == {"echo": "hello"}
    assert not result.get("isError")
    texts = [block for block in result["content"] if block["type"] == "text"]
    assert json.loads(texts[0]["text"]) == {"echo": "hello"}


def test_arguments_failing_the_schema_give_an_error_result_naming_the_field(mcp):
    wrong_type = result_of(mcp.request("tools/call", {"name": "test_echo", "arguments": {"text": 42}}))
    unexpected = result_of(mcp.request("tools/call", {"name": "test_echo",
                                                      "arguments": {"text": "hi", "colour": "red"}}))

    assert wrong_type["isError"] is True
    assert wrong_type["structuredContent"]["error"]["code"] == "invalid_arguments"
    assert wrong_type["structuredContent"]["error"]["data"]["errors"][0]["path"] == "text"
    assert unexpected["isError"] is True
    assert unexpected["structuredContent"]["error"]["code"] == "invalid_arguments"
    assert "colour" in unexpected["structuredContent"]["error"]["message"]


def test_a_domain_error_is_an_error_result_carrying_its_code_as_structured_content_and_text(mcp):
    result = result_of(mcp.request("tools/call", {"name": "test_refuse", "arguments": {}}))

    assert result["isError"] is True
    error = result["structuredContent"]["error"]
    assert error["code"] == "refused"
    assert error["data"] == {"why": "not today"}
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]


def test_an_unknown_tool_is_invalid_params(mcp):
    error = error_of(mcp.request("tools/call", {"name": "no_such_tool", "arguments": {}}))

    assert error["code"] == -32602
    assert "no_such_tool" in error["message"]


def test_calling_a_tool_without_its_scope_is_refused_as_insufficient_scope(connect, mcp_user):
    client = connect(token_for_user(user=mcp_user, scopes=["calls:read"]))
    client.initialize()

    answer = client.request("tools/call", {"name": "test_place", "arguments": {}})

    error = error_of(answer)
    assert error["code"] == -31003
    if isinstance(client, HttpMcp):
        response = client.responses[answer["id"]]
        assert response.status_code == 403
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        assert 'error="insufficient_scope"' in challenge
        assert "calls:write" in challenge


def test_progress_notifications_strictly_increase_up_to_the_total(mcp):
    answer = mcp.request("tools/call", {"name": "test_slow", "arguments": {"steps": 4},
                                        "_meta": {"progressToken": "progress-1"}})

    assert result_of(answer)["content"][0]["text"] == "counted to 4"
    progress = [p for p in mcp.notifications_of("notifications/progress") if p.get("progressToken") == "progress-1"]
    values = [p["progress"] for p in progress]
    assert values == [1, 2, 3, 4]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert {p.get("total") for p in progress} == {4}


def test_no_progress_notifications_without_a_progress_token(mcp):
    result_of(mcp.request("tools/call", {"name": "test_slow", "arguments": {"steps": 2}}))

    assert mcp.notifications_of("notifications/progress") == []


def test_log_level_warning_silences_info_log_notifications(mcp):
    assert result_of(mcp.request("logging/setLevel", {"level": "info"})) == {}
    mark = len(mcp.notifications)
    result_of(mcp.request("tools/call", {"name": "test_slow", "arguments": {"steps": 2}}))
    info = [p for p in mcp.notifications_of("notifications/message", after=mark) if p["level"] == "info"]
    assert [p["data"] for p in info] == ["step 1", "step 2"]

    assert result_of(mcp.request("logging/setLevel", {"level": "warning"})) == {}
    mark = len(mcp.notifications)
    result_of(mcp.request("tools/call", {"name": "test_slow", "arguments": {"steps": 2}}))

    assert mcp.notifications_of("notifications/message", after=mark) == []


def test_an_unknown_log_level_is_invalid_params(mcp):
    error = error_of(mcp.request("logging/setLevel", {"level": "deafening"}))

    assert error["code"] == -32602


def test_cancelling_an_unknown_request_is_ignored(mcp):
    mcp.notify("notifications/cancelled", {"requestId": 424242, "reason": "never sent"})

    assert result_of(mcp.request("ping")) == {}


def test_a_cancelled_request_gets_no_answer_and_stops_working(mcp):
    steps = 20
    slow = mcp.start("tools/call", {"name": "test_slow", "arguments": {"steps": steps},
                                    "_meta": {"progressToken": "cancel-me"}})
    mcp.wait_notification("notifications/progress", lambda p: p.get("progressToken") == "cancel-me")

    mcp.notify("notifications/cancelled", {"requestId": slow, "reason": "changed my mind"})
    # The same work started later: had the first one kept going, its answer would come first.
    later = mcp.request("tools/call", {"name": "test_slow", "arguments": {"steps": steps}})

    assert result_of(later)["content"][0]["text"] == f"counted to {steps}"
    assert not mcp.has_response(slow)
    cancelled_progress = [p for p in mcp.notifications_of("notifications/progress")
                          if p.get("progressToken") == "cancel-me"]
    assert len(cancelled_progress) < steps
    assert result_of(mcp.request("ping")) == {}


# --- resources -------------------------------------------------------------------------------------


def test_resources_list_and_read_a_text_resource(mcp, mcp_user):
    resources = [r for page in walk_pages(mcp, "resources/list", "resources") for r in page]
    hello = next(r for r in resources if r["uri"] == "test://hello")
    assert hello["name"] == "Hello"
    assert hello["mimeType"] == "text/plain"

    contents = result_of(mcp.request("resources/read", {"uri": "test://hello"}))["contents"]

    assert contents == [{"uri": "test://hello", "mimeType": "text/plain", "text": f"Hello, {mcp_user.username}"}]


def test_resource_templates_are_listed_and_read(mcp):
    templates = [t for page in walk_pages(mcp, "resources/templates/list", "resourceTemplates") for t in page]
    assert any(t["uriTemplate"] == "test://items/{item_id}" and t["description"] for t in templates)

    contents = result_of(mcp.request("resources/read", {"uri": "test://items/7"}))["contents"]

    assert len(contents) == 1
    assert contents[0]["uri"] == "test://items/7"
    assert contents[0]["mimeType"] == "application/json"
    assert json.loads(contents[0]["text"]) == {"id": 7}


@pytest.mark.parametrize("uri", ["test://nothing-here", "test://items/not-a-number"])
def test_reading_a_missing_resource_is_resource_not_found_with_its_uri(mcp, uri):
    error = error_of(mcp.request("resources/read", {"uri": uri}))

    assert error["code"] == -32002
    assert error["data"]["uri"] == uri


def test_subscribing_to_a_missing_resource_is_resource_not_found(mcp):
    error = error_of(mcp.request("resources/subscribe", {"uri": "test://nothing-here"}))

    assert error["code"] == -32002
    assert error["data"]["uri"] == "test://nothing-here"


def test_subscribed_resource_updates_arrive_until_unsubscribed(mcp, mcp_user):
    mcp.listen()
    assert result_of(mcp.request("resources/subscribe", {"uri": "test://hello"})) == {}

    notify.resource_updated(user_id=mcp_user.pk, uri="test://hello")

    updated = mcp.wait_notification("notifications/resources/updated", lambda p: p.get("uri") == "test://hello")
    assert updated["params"]["uri"] == "test://hello"

    assert result_of(mcp.request("resources/unsubscribe", {"uri": "test://hello"})) == {}
    assert result_of(mcp.request("resources/subscribe", {"uri": "test://items/1"})) == {}
    mark = len(mcp.notifications)
    notify.resource_updated(user_id=mcp_user.pk, uri="test://hello")
    notify.resource_updated(user_id=mcp_user.pk, uri="test://items/1")

    # Published in this order on one channel: once items/1 is here, hello would have been too.
    mcp.wait_notification("notifications/resources/updated", lambda p: p.get("uri") == "test://items/1", after=mark)
    assert [p["uri"] for p in mcp.notifications_of("notifications/resources/updated", after=mark)] == [
        "test://items/1"
    ]


def test_resource_updates_reach_only_the_sessions_that_subscribed(mcp, connect, mcp_user, mcp_token, make_user):
    same_user = connect(mcp_token)
    same_user.initialize()
    other = make_user("mcp-bob")
    other_user = connect(token_for_user(user=other))
    other_user.initialize()
    for client in (mcp, same_user, other_user):
        client.listen()
    assert result_of(mcp.request("resources/subscribe", {"uri": "test://hello"})) == {}
    assert result_of(same_user.request("resources/subscribe", {"uri": "test://items/3"})) == {}
    assert result_of(other_user.request("resources/subscribe", {"uri": "test://hello"})) == {}
    for client in (mcp, same_user):
        assert result_of(client.request("resources/subscribe", {"uri": "test://items/9"})) == {}

    notify.resource_updated(user_id=mcp_user.pk, uri="test://hello")
    notify.resource_updated(user_id=mcp_user.pk, uri="test://items/3")
    notify.resource_updated(user_id=mcp_user.pk, uri="test://items/9")
    notify.resource_updated(user_id=other.pk, uri="test://hello")

    # Each stream gets its messages in publication order: once the last one is here, any stray is too.
    for client in (mcp, same_user):
        client.wait_notification("notifications/resources/updated", lambda p: p.get("uri") == "test://items/9")
    other_user.wait_notification("notifications/resources/updated", lambda p: p.get("uri") == "test://hello")
    assert [p["uri"] for p in mcp.notifications_of("notifications/resources/updated")] == [
        "test://hello", "test://items/9"]
    assert [p["uri"] for p in same_user.notifications_of("notifications/resources/updated")] == [
        "test://items/3", "test://items/9"]
    assert [p["uri"] for p in other_user.notifications_of("notifications/resources/updated")] == ["test://hello"]


def test_progress_arrives_exactly_once_while_the_session_stream_is_open(mcp):
    mcp.listen()

    answer = mcp.request("tools/call", {"name": "test_slow", "arguments": {"steps": 3},
                                        "_meta": {"progressToken": "once"}})

    assert result_of(answer)["content"][0]["text"] == "counted to 3"
    progress = [p["progress"] for p in mcp.notifications_of("notifications/progress") if p["progressToken"] == "once"]
    assert progress == [1, 2, 3]


def test_updates_of_resources_nobody_subscribed_to_are_not_sent(mcp, mcp_user):
    mcp.listen()
    assert result_of(mcp.request("resources/subscribe", {"uri": "test://items/2"})) == {}

    notify.resource_updated(user_id=mcp_user.pk, uri="test://hello")
    notify.resource_updated(user_id=mcp_user.pk, uri="test://items/2")

    mcp.wait_notification("notifications/resources/updated", lambda p: p.get("uri") == "test://items/2")
    assert [p["uri"] for p in mcp.notifications_of("notifications/resources/updated")] == ["test://items/2"]


# --- prompts and completion ------------------------------------------------------------------------


def test_prompts_list_describes_the_prompt_and_its_arguments(mcp):
    prompts = [p for page in walk_pages(mcp, "prompts/list", "prompts") for p in page]

    greeting = next(p for p in prompts if p["name"] == "test_greeting")
    assert greeting["description"]
    assert greeting["arguments"] == [{"name": "name", "description": "Who to greet", "required": True}]


def test_prompts_get_fills_in_the_arguments(mcp):
    result = result_of(mcp.request("prompts/get", {"name": "test_greeting", "arguments": {"name": "Ada"}}))

    assert result["messages"] == [{"role": "user", "content": {"type": "text", "text": "Say hello to Ada"}}]


def test_prompts_get_without_a_required_argument_is_invalid_params(mcp):
    error = error_of(mcp.request("prompts/get", {"name": "test_greeting", "arguments": {}}))

    assert error["code"] == -32602
    assert "name" in error["message"]


def test_an_unknown_prompt_is_invalid_params(mcp):
    error = error_of(mcp.request("prompts/get", {"name": "no_such_prompt", "arguments": {}}))

    assert error["code"] == -32602


def test_completion_of_a_template_argument_offers_matching_values(mcp):
    result = result_of(mcp.request("completion/complete", {
        "ref": {"type": "ref/resource", "uri": "test://items/{item_id}"},
        "argument": {"name": "item_id", "value": "1"},
    }))

    assert result["completion"]["values"] == ["1", "10"]
    assert result["completion"]["hasMore"] is False


def test_completion_of_a_prompt_argument_without_suggestions_is_empty(mcp):
    result = result_of(mcp.request("completion/complete", {
        "ref": {"type": "ref/prompt", "name": "test_greeting"},
        "argument": {"name": "name", "value": "A"},
    }))

    assert result["completion"]["values"] == []
    assert result["completion"].get("hasMore", False) is False


# --- pagination ------------------------------------------------------------------------------------


def test_lists_are_paginated_with_cursors_that_cover_everything_once(connect, mcp_token, mcp, small_pages):
    paging = connect(mcp_token, server=small_pages)
    paging.initialize()

    pages = walk_pages(paging, "tools/list", "tools")

    assert len(pages) >= 2
    assert all(1 <= len(page) <= 2 for page in pages)
    paged = [tool["name"] for page in pages for tool in page]
    everything = [tool["name"] for tool in result_of(mcp.request("tools/list"))["tools"]]  # one page of 50
    assert paged == everything
    assert len(set(paged)) == len(paged)


def test_an_invalid_cursor_is_invalid_params(connect, mcp_token, small_pages):
    paging = connect(mcp_token, server=small_pages)
    paging.initialize()

    error = error_of(paging.request("tools/list", {"cursor": "not a cursor we gave out"}))

    assert error["code"] == -32602


# --- rate limits -----------------------------------------------------------------------------------


def test_calls_over_the_users_rate_limit_are_refused_with_a_retry_time(connect, make_user, live_db,
                                                                       frozen_rate_limits):
    user = make_user("mcp-limited", scopes=["calls:read", "calls:write"])
    user.rate_limits = {"place": "2/minute"}
    user.save(update_fields=["rate_limits"])
    client = connect(token_for_user(user=user), server=frozen_rate_limits)
    client.initialize()

    for _ in range(2):
        placed = result_of(client.request("tools/call", {"name": "test_place", "arguments": {}}))
        assert placed["content"][0]["text"] == "placed"
    third = client.request("tools/call", {"name": "test_place", "arguments": {}})

    error = error_of(third)
    assert error["code"] == -31029
    retry_after = error["data"]["retryAfter"]
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= 60
    if isinstance(client, HttpMcp):
        response = client.responses[third["id"]]
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) == retry_after


def test_calls_that_fail_validation_spend_no_rate_budget(connect, make_user, live_db, frozen_rate_limits):
    user = make_user("mcp-validated", scopes=["calls:read", "calls:write"])
    user.rate_limits = {"place": "2/minute"}
    user.save(update_fields=["rate_limits"])
    client = connect(token_for_user(user=user), server=frozen_rate_limits)
    client.initialize()

    def place(arguments: dict[str, Any]) -> dict[str, Any]:
        return client.request("tools/call", {"name": "test_place", "arguments": arguments})

    failed_schema = result_of(place({"reject": "yes"}))
    failed_check = result_of(place({"reject": True}))
    placed = [result_of(place({})) for _ in range(2)]
    over = place({})

    assert failed_schema["structuredContent"]["error"]["code"] == "invalid_arguments"
    assert failed_check["structuredContent"]["error"]["code"] == "invalid_input"
    assert [p["content"][0]["text"] for p in placed] == ["placed", "placed"]
    assert error_of(over)["code"] == -31029


# --- Streamable HTTP streams ------------------------------------------------------------------------


def test_a_streamed_http_answer_is_primed_and_can_be_resumed_after_any_event(mcp_server, mcp_token):
    with HttpMcp(mcp_server, mcp_token) as client:
        client.initialize()
        headers = {"Content-Type": "application/json", **client.session_headers()}
        call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": "test_slow", "arguments": {"steps": 3}, "_meta": {"progressToken": "resume"}}}

        response = client.http.post("/api/v1/mcp", headers=headers, json=call)

        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = list(iter_sse(iter(response.text.splitlines())))
        assert events[0]["id"]
        assert events[0]["data"] == ""
        sent = [event for event in events if event["data"]]
        assert all(event["id"] for event in sent)
        assert len({event["id"] for event in events}) == len(events)
        messages = [json.loads(event["data"]) for event in sent]
        assert messages[-1]["id"] == 9
        assert messages[-1]["result"]["content"][0]["text"] == "counted to 3"

        replay = client.http.get("/api/v1/mcp", headers={"Accept": "text/event-stream", "Last-Event-ID": sent[0]["id"],
                                                         **client.session_headers()})

        assert replay.status_code == 200
        replayed = [json.loads(event["data"]) for event in iter_sse(iter(replay.text.splitlines())) if event["data"]]
        assert replayed == messages[1:]


# --- the WebSocket handshake ------------------------------------------------------------------------


def test_websocket_without_a_token_answers_the_first_message_unauthorized_and_closes(mcp_server, live_db):
    client = WsMcp(mcp_server, None)
    try:
        answer = client.initialize()

        assert error_of(answer)["code"] == -31001
        assert answer["id"] is not None
        assert client.wait_closed() == 4401
    finally:
        client.close()


def test_websocket_accepts_a_token_in_the_access_token_query_parameter(mcp_server, mcp_token):
    client = WsMcp(mcp_server, None, query=f"access_token={mcp_token}")
    try:
        assert client.subprotocol == "mcp"
        assert result_of(client.initialize())["protocolVersion"] == LATEST
        assert "test_echo" in {t["name"] for t in result_of(client.request("tools/list"))["tools"]}
    finally:
        client.close()


def test_websocket_accepts_a_token_in_the_first_messages_meta(mcp_server, mcp_token):
    client = WsMcp(mcp_server, None)
    try:
        result = result_of(client.initialize(meta={"authorization": f"Bearer {mcp_token}"}))

        assert result["protocolVersion"] == LATEST
        assert result_of(client.request("ping")) == {}
    finally:
        client.close()


def test_websocket_with_a_bad_token_is_accepted_then_answers_unauthorized_and_closes_4401(mcp_server, live_db):
    client = WsMcp(mcp_server, "not-a-valid-token")
    try:
        answer = client.initialize()

        error = error_of(answer)
        assert error["code"] == -31001
        assert error["data"] == {"error": "invalid_token"}
        assert error["message"].startswith("Invalid token: ")
        assert answer["id"] is not None
        assert client.wait_closed() == 4401
    finally:
        client.close()


@pytest.mark.parametrize("query", ["", "access_token=not-a-valid-token"])
def test_websocket_without_a_good_token_is_closed_4401_when_it_sends_nothing(serve, live_db, query):
    from mcp_gateway.gateway import TransportLimits

    quick = serve(gateway_for_tests(limits=TransportLimits(ws_auth_timeout=0.2)))
    client = WsMcp(quick, None, query=query)
    try:
        assert client.wait_closed() == 4401
        refusal = client.answer_to(None)
        assert refusal is not None
        assert refusal["error"]["code"] == -31001
    finally:
        client.close()


def test_websocket_message_over_the_size_limit_is_refused_naming_the_limit_then_closed_1009(mcp_server, mcp_token,
                                                                                            settings):
    client = WsMcp(mcp_server, mcp_token)
    try:
        assert "result" in client.initialize()
        client.send_text(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "ping",
                                     "params": {"pad": "x" * (settings.MCP_MAX_BODY_BYTES + 1)}}))

        assert client.wait_closed() == 1009
        refusal = client.answer_to(None)
        assert refusal is not None
        assert refusal["error"]["code"] == -32600
        assert str(settings.MCP_MAX_BODY_BYTES) in refusal["error"]["message"]
    finally:
        client.close()


def test_websocket_from_a_foreign_origin_is_refused_at_the_handshake(mcp_server, mcp_token):
    with pytest.raises(InvalidStatus) as refused:
        WsMcp(mcp_server, mcp_token, headers={"Origin": "http://evil.example.com"})

    assert refused.value.response.status_code == 403


def test_websocket_offering_only_other_subprotocols_is_refused(mcp_server, mcp_token):
    with pytest.raises(InvalidStatus) as refused:
        WsMcp(mcp_server, mcp_token, subprotocols=("graphql-ws",))

    assert refused.value.response.status_code == 403
