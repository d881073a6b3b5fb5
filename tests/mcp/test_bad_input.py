"""Streamable HTTP at /api/v1/mcp given malformed, unauthorised or out-of-protocol requests: exact answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from mcp_gateway.gateway import limits_from_settings
from tests.mcp.clients import HttpMcp, iter_sse
from tests.mcp.conftest import gateway_for_tests
from users.services import token_for_user

MCP = "/api/v1/mcp"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
MODERN = "2026-07-28"
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@pytest.fixture
def http(mcp_server: str, live_db: None) -> Iterator[httpx.Client]:
    """A bare HTTP client, no credentials."""
    with httpx.Client(base_url=mcp_server, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
def auth(mcp_token: str) -> dict[str, str]:
    return {**JSON_HEADERS, "Authorization": f"Bearer {mcp_token}"}


@pytest.fixture
def open_session(mcp_server: str, mcp_token: str) -> Iterator[Callable[..., HttpMcp]]:
    """Initialized Streamable HTTP sessions of mcp_user, closed afterwards."""
    opened: list[HttpMcp] = []

    def open_one(version: str = "2025-11-25") -> HttpMcp:
        client = HttpMcp(mcp_server, mcp_token)
        opened.append(client)
        assert client.initialize(version=version)["result"]["protocolVersion"] == version
        assert client.session_id
        return client

    yield open_one
    for client in opened:
        client.close()


@pytest.fixture
def session(open_session: Callable[..., HttpMcp]) -> HttpMcp:
    return open_session()


def rpc_error(response: httpx.Response, status: int, code: int, request_id: Any = None) -> dict[str, Any]:
    """Assert the response is a JSON-RPC error with this HTTP status, code and id; return the error."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == request_id
    assert "result" not in body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]


# --- malformed JSON-RPC ----------------------------------------------------------------------------


def test_invalid_json_is_a_parse_error_with_id_null(session):
    response = session.post(None, content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"')

    rpc_error(response, 400, -32700, None)


def test_a_batch_on_a_2025_06_18_session_is_an_invalid_request(open_session):
    client = open_session("2025-06-18")

    response = client.post([PING, {**PING, "id": 2}])

    rpc_error(response, 400, -32600, None)


def test_a_batch_on_a_2025_03_26_session_answers_every_request_in_it(open_session):
    client = open_session("2025-03-26")

    response = client.post([PING, {**PING, "id": 2}])

    assert response.status_code == 200
    answers = response.json()
    assert isinstance(answers, list)
    assert sorted(answers, key=lambda a: a["id"]) == [
        {"jsonrpc": "2.0", "id": 1, "result": {}},
        {"jsonrpc": "2.0", "id": 2, "result": {}},
    ]


def test_a_2025_03_26_batch_answers_requests_but_not_notifications(open_session):
    client = open_session("2025-03-26")

    response = client.post([{"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}, {**PING, "id": 7}])

    assert response.status_code == 200
    assert response.json() == [{"jsonrpc": "2.0", "id": 7, "result": {}}]


def test_jsonrpc_version_other_than_2_0_is_an_invalid_request(session):
    response = session.post({"jsonrpc": "1.0", "id": 1, "method": "ping"})

    rpc_error(response, 400, -32600, 1)


@pytest.mark.parametrize("body", [b'"ping"', b"42", b"null", b"true"])
def test_a_json_body_that_is_not_an_object_is_an_invalid_request(session, body):
    response = session.post(None, content=body)

    rpc_error(response, 400, -32600, None)


def test_an_unknown_method_is_method_not_found(session):
    response = session.post({"jsonrpc": "2.0", "id": 3, "method": "tools/juggle", "params": {}})

    assert response.status_code == 200
    rpc_error(response, 200, -32601, 3)


@pytest.mark.parametrize("params", [[1, 2], "name", 5])
def test_params_that_are_not_an_object_are_invalid_params(session, params):
    response = session.post({"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": params})

    assert rpc_error(response, response.status_code, -32602, 4)
    assert response.status_code in (200, 400)


def test_tools_call_without_a_name_is_invalid_params(session):
    response = session.post({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"arguments": {}}})

    assert rpc_error(response, response.status_code, -32602, 5)
    assert response.status_code in (200, 400)


# --- sessions --------------------------------------------------------------------------------------


def test_the_session_id_is_visible_ascii(session):
    assert session.session_id
    assert all(0x21 <= ord(char) <= 0x7E for char in session.session_id)


def test_a_notification_is_accepted_with_202_and_no_body(session):
    response = session.post({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})

    assert response.status_code == 202
    assert response.content == b""


def test_a_reply_to_a_request_the_server_never_sent_is_accepted_with_202(session):
    response = session.post({"jsonrpc": "2.0", "id": "srv-unknown-1", "result": {}})

    assert response.status_code == 202
    assert response.content == b""


def test_a_get_stream_without_a_session_is_a_bad_request(http, auth):
    response = http.get(MCP, headers={"Accept": "text/event-stream", "Authorization": auth["Authorization"]})

    assert response.status_code == 400


def test_a_get_stream_that_does_not_accept_sse_is_not_acceptable(session):
    response = session.http.get(MCP, headers={"Accept": "application/json", **session.session_headers()})

    assert response.status_code == 406


def test_delete_without_a_session_is_a_bad_request(http, auth):
    response = http.delete(MCP, headers={"Authorization": auth["Authorization"]})

    assert response.status_code == 400


def test_a_request_before_initialize_is_a_bad_request(http, auth):
    response = http.post(MCP, headers=auth, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    rpc_error(response, 400, -32600, 1)


def test_an_unknown_session_id_is_not_found(http, auth):
    headers = {**auth, "Mcp-Session-Id": "no-such-session", "MCP-Protocol-Version": "2025-11-25"}

    response = http.post(MCP, headers=headers, json=PING)

    assert response.status_code == 404


def test_deleting_a_session_answers_204_with_no_body_and_no_html(session):
    deleted = session.delete()

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert "text/html" not in deleted.headers.get("Content-Type", "")


def test_a_deleted_session_is_not_found_afterwards(session):
    deleted = session.delete()
    assert 200 <= deleted.status_code < 300

    response = session.post(PING)

    assert response.status_code == 404
    stream = session.http.get(MCP, headers={"Accept": "text/event-stream", **session.session_headers()})
    assert stream.status_code == 404
    assert session.delete().status_code == 404


def test_a_session_of_another_user_is_not_found(session, http, make_user):
    other = make_user("mcp-mallory")
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {token_for_user(user=other)}", **session.session_headers()}

    response = http.post(MCP, headers=headers, json=PING)

    assert response.status_code == 404


def test_an_unsupported_protocol_version_header_on_a_session_is_a_bad_request(session):
    response = session.post(PING, headers={"MCP-Protocol-Version": "1999-01-01"})

    assert response.status_code == 400


# --- HTTP framing ----------------------------------------------------------------------------------


def test_a_client_that_does_not_accept_json_and_sse_is_not_acceptable(session):
    response = session.post(PING, headers={"Accept": "text/html"})

    assert response.status_code == 406


def test_a_body_that_is_not_json_is_unsupported_media(session):
    response = session.post(None, content=json.dumps(PING).encode(), headers={"Content-Type": "text/plain"})

    assert response.status_code == 415


def test_a_body_over_the_size_limit_is_too_large(serve, auth):
    small = serve(gateway_for_tests(limits=replace(limits_from_settings(), max_body_bytes=1000)))
    message = {**PING, "params": {"_meta": {"padding": "x" * 2000}}}

    response = httpx.post(f"{small}{MCP}", json=message, headers=auth, timeout=10, trust_env=False)

    rpc_error(response, 413, -32600, None)
    assert "1000 bytes" in response.json()["error"]["message"]


def test_a_foreign_origin_is_forbidden(session):
    response = session.post(PING, headers={"Origin": "http://evil.example.com"})

    assert response.status_code == 403


def test_a_local_origin_is_allowed(session, mcp_server):
    response = session.post(PING, headers={"Origin": mcp_server})

    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_a_foreign_host_header_is_refused(session):
    response = session.post(PING, headers={"Host": "evil.example.com"})

    assert 400 <= response.status_code < 500


def test_a_localhost_host_header_is_served(session, mcp_server):
    port = mcp_server.rsplit(":", 1)[1]

    response = session.post(PING, headers={"Host": f"localhost:{port}"})

    assert response.status_code == 200
    assert response.json()["result"] == {}


# --- authentication --------------------------------------------------------------------------------


def test_no_token_is_unauthorized_with_a_pointer_to_the_resource_metadata(http, mcp_server):
    response = http.post(MCP, headers=JSON_HEADERS, json=PING)

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{mcp_server}/.well-known/oauth-protected-resource/api/v1/mcp"' in challenge


def test_an_expired_token_is_unauthorized_as_invalid_token(http, mcp_user):
    expired = token_for_user(user=mcp_user, lifetime=timedelta(seconds=-60))

    response = http.post(MCP, headers={**JSON_HEADERS, "Authorization": f"Bearer {expired}"}, json=PING)

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge


def test_a_tampered_token_is_unauthorized(http, mcp_token):
    header, payload, signature = mcp_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = str(int(claims["user_id"]) + 1)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    response = http.post(MCP, headers={**JSON_HEADERS, "Authorization": f"Bearer {header}.{forged}.{signature}"},
                         json=PING)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_of_a_deactivated_user_is_unauthorized(http, make_user):
    user = make_user("mcp-gone")
    token = token_for_user(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = http.post(MCP, headers={**JSON_HEADERS, "Authorization": f"Bearer {token}"}, json=PING)

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource",
                                  "/.well-known/oauth-protected-resource/api/v1/mcp"])
def test_protected_resource_metadata_names_the_mcp_endpoint_and_its_scopes(http, mcp_server, path):
    response = http.get(path)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    metadata = response.json()
    assert metadata["resource"] == f"{mcp_server}/api/v1/mcp"
    assert {"calls:read", "calls:write", "credits:read"} <= set(metadata["scopes_supported"])


# --- 2026-07-28: stateless requests ------------------------------------------------------------------


def modern_post(http: httpx.Client, token: str, method: str, params: dict[str, Any] | None = None, *,
                name: str | None = None, version: str = MODERN, meta: bool = True,
                headers: dict[str, str] | None = None, request_id: int = 1) -> httpx.Response:
    """A 2026-07-28 request: the version and capabilities in ``_meta``, the routing headers set."""
    params = dict(params or {})
    if meta:
        params["_meta"] = {PROTOCOL_VERSION_META: version, CLIENT_CAPABILITIES_META: {}}
    request_headers = {**JSON_HEADERS, "Authorization": f"Bearer {token}", "MCP-Protocol-Version": version,
                       "Mcp-Method": method}
    if name is not None:
        request_headers["Mcp-Name"] = name
    request_headers.update(headers or {})
    return http.post(MCP, headers=request_headers,
                     json={"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def answer_of(response: httpx.Response, request_id: int = 1) -> dict[str, Any]:
    """The JSON-RPC answer, whether the server replied with JSON or with an SSE stream."""
    if response.headers["Content-Type"].startswith("text/event-stream"):
        for event in iter_sse(iter(response.text.splitlines())):
            if event["data"]:
                message = json.loads(event["data"])
                if message.get("id") == request_id and "method" not in message:
                    return message
        raise AssertionError("the stream ended without an answer")
    return response.json()


def test_modern_server_discover_describes_the_server(http, mcp_token):
    response = modern_post(http, mcp_token, "server/discover")

    assert response.status_code == 200
    result = answer_of(response)["result"]
    assert {MODERN, "2025-11-25"} <= set(result["supportedVersions"])
    assert "tools" in result["capabilities"]
    assert result["_meta"][SERVER_INFO_META]["name"]
    assert result["resultType"] == "complete"
    assert "Mcp-Session-Id" not in response.headers


def test_modern_tools_list_is_complete_cacheable_and_private(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/list")

    assert response.status_code == 200
    result = answer_of(response)["result"]
    assert result["resultType"] == "complete"
    assert isinstance(result["ttlMs"], int)
    assert result["ttlMs"] >= 0
    assert result["cacheScope"] == "private"
    assert result["_meta"][SERVER_INFO_META]["name"]
    assert "test_echo" in {tool["name"] for tool in result["tools"]}


def test_modern_unknown_tool_is_invalid_params(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/call", {"name": "no_such_tool", "arguments": {}},
                           name="no_such_tool")

    assert answer_of(response)["error"]["code"] == -32602


def test_modern_batch_is_an_invalid_request(http, mcp_token):
    meta = {PROTOCOL_VERSION_META: MODERN, CLIENT_CAPABILITIES_META: {}}
    batch = [{"jsonrpc": "2.0", "id": n, "method": "tools/list", "params": {"_meta": meta}} for n in (1, 2)]
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {mcp_token}", "MCP-Protocol-Version": MODERN,
               "Mcp-Method": "tools/list"}

    response = http.post(MCP, headers=headers, json=batch)

    rpc_error(response, 400, -32600, None)


def test_modern_tools_call_names_the_tool_in_a_header(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/call", {"name": "test_echo", "arguments": {"text": "hi"}},
                           name="test_echo")

    assert response.status_code == 200
    result = answer_of(response)["result"]
    assert result["structuredContent"] == {"echo": "hi"}
    assert result["resultType"] == "complete"


def test_modern_mcp_name_may_be_base64_encoded(http, mcp_token):
    encoded = "=?base64?" + base64.b64encode(b"test_echo").decode() + "?="

    response = modern_post(http, mcp_token, "tools/call", {"name": "test_echo", "arguments": {"text": "b64"}},
                           name=encoded)

    assert response.status_code == 200
    assert answer_of(response)["result"]["structuredContent"] == {"echo": "b64"}


def test_modern_resources_read_is_private(http, mcp_token, mcp_user):
    response = modern_post(http, mcp_token, "resources/read", {"uri": "test://hello"}, name="test://hello")

    assert response.status_code == 200
    result = answer_of(response)["result"]
    assert result["contents"][0]["text"] == f"Hello, {mcp_user.username}"
    assert result["cacheScope"] == "private"
    assert isinstance(result["ttlMs"], int)


def test_modern_missing_resource_is_invalid_params_with_its_uri(http, mcp_token):
    response = modern_post(http, mcp_token, "resources/read", {"uri": "test://nothing"}, name="test://nothing")

    error = answer_of(response)["error"]
    assert error["code"] == -32602
    assert error["data"]["uri"] == "test://nothing"


def test_modern_prompts_get_names_the_prompt_in_a_header(http, mcp_token):
    response = modern_post(http, mcp_token, "prompts/get", {"name": "test_greeting", "arguments": {"name": "Ada"}},
                           name="test_greeting")

    assert response.status_code == 200
    assert answer_of(response)["result"]["messages"][0]["content"]["text"] == "Say hello to Ada"


def test_modern_request_without_meta_is_invalid_params(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/list", meta=False)

    rpc_error(response, 400, -32602, 1)


def test_modern_request_with_an_unsupported_version_is_refused_with_the_supported_ones(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/list", version="1999-01-01")

    error = rpc_error(response, 400, -32022, 1)
    assert MODERN in error["data"]["supported"]
    assert error["data"]["requested"] == "1999-01-01"


def test_modern_mcp_method_header_must_match_the_body(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/list", headers={"Mcp-Method": "prompts/list"})

    rpc_error(response, 400, -32020, 1)


def test_modern_mcp_name_header_must_match_the_body(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/call", {"name": "test_echo", "arguments": {"text": "x"}},
                           name="test_refuse")

    rpc_error(response, 400, -32020, 1)


def test_modern_tools_call_without_mcp_name_is_a_header_mismatch(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/call", {"name": "test_echo", "arguments": {"text": "x"}})

    rpc_error(response, 400, -32020, 1)


def test_modern_protocol_version_header_must_match_the_body(http, mcp_token):
    response = modern_post(http, mcp_token, "tools/list", headers={"MCP-Protocol-Version": "2025-11-25"})

    rpc_error(response, 400, -32020, 1)


@pytest.mark.parametrize("method", ["initialize", "ping"])
def test_modern_requests_for_removed_methods_are_not_found(http, mcp_token, method):
    params = {"protocolVersion": MODERN, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}

    response = modern_post(http, mcp_token, method, params if method == "initialize" else None)

    rpc_error(response, 404, -32601, 1)
    assert "Mcp-Session-Id" not in response.headers


def test_modern_get_stream_is_not_allowed(http, mcp_token):
    response = http.get(MCP, headers={"Accept": "text/event-stream", "Authorization": f"Bearer {mcp_token}",
                                      "MCP-Protocol-Version": MODERN})

    assert response.status_code == 405
