"""Browser clients (MCP Inspector's direct mode, a web agent) on an origin the operator allows.

``MCP_ALLOWED_ORIGINS`` names them: the MCP endpoint, the REST API and the OAuth metadata answer
their CORS preflights and let them read what they need (the session id, the auth challenge); any
other origin gets no CORS grant, and the MCP endpoint still refuses its requests with 403.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mcp_gateway.gateway import limits_from_settings
from tests.mcp.conftest import gateway_for_tests

MCP = "/api/v1/mcp"
ALLOWED = "https://inspector.example"
FOREIGN = "https://evil.example"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "browser", "version": "1"}}}


@pytest.fixture
def http(serve, live_db: None, settings) -> Iterator[httpx.Client]:  # noqa: ANN001
    """A server started as with MCP_ALLOWED_ORIGINS=https://inspector.example (the gateway's Origin check
    and the CORS grants, which django-cors-headers reads per request)."""
    settings.MCP_ALLOWED_ORIGINS = [ALLOWED]
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]
    server = serve(gateway_for_tests(limits=limits_from_settings()))
    with httpx.Client(base_url=server, timeout=10, trust_env=False) as client:
        yield client


def preflight(http: httpx.Client, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return http.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type,mcp-session-id,mcp-protocol-version",
    })


def listed(response: httpx.Response, header: str) -> set[str]:
    return {item.strip().lower() for item in response.headers.get(header, "").split(",") if item.strip()}


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_a_preflight_from_an_allowed_origin_is_granted_without_a_token(http, method):
    response = preflight(http, MCP, ALLOWED, method)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert method.lower() in listed(response, "Access-Control-Allow-Methods")
    assert {"authorization", "content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id"} <= listed(
        response, "Access-Control-Allow-Headers")


def test_an_allowed_origin_can_read_the_session_id_it_is_given(http, mcp_token):
    response = http.post(MCP, json=INITIALIZE, headers={
        "Origin": ALLOWED, "Authorization": f"Bearer {mcp_token}",
        "Accept": "application/json, text/event-stream",
    })

    assert response.status_code == 200
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "mcp-session-id" in listed(response, "Access-Control-Expose-Headers")
    assert response.headers["Mcp-Session-Id"]


def test_an_allowed_origin_can_read_the_auth_challenge(http):
    response = http.post(MCP, json=INITIALIZE, headers={
        "Origin": ALLOWED, "Accept": "application/json, text/event-stream"})

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "www-authenticate" in listed(response, "Access-Control-Expose-Headers")
    assert "resource_metadata=" in response.headers["WWW-Authenticate"]


def test_a_foreign_origin_gets_no_grant_and_its_requests_are_refused(http, mcp_token):
    granted = preflight(http, MCP, FOREIGN)
    refused = http.post(MCP, json=INITIALIZE, headers={
        "Origin": FOREIGN, "Authorization": f"Bearer {mcp_token}", "Accept": "application/json, text/event-stream"})

    assert "Access-Control-Allow-Origin" not in granted.headers
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_without_allowed_origins_no_origin_gets_a_grant(http, settings):
    settings.MCP_ALLOWED_ORIGINS = []
    settings.CORS_ALLOWED_ORIGINS = []

    response = preflight(http, MCP, ALLOWED)

    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_rest_api_and_the_resource_metadata_grant_the_allowed_origin(http, mcp_token):
    me = http.get("/api/v1/users/me/", headers={"Origin": ALLOWED, "Authorization": f"Bearer {mcp_token}"})
    metadata = http.get("/.well-known/oauth-protected-resource", headers={"Origin": ALLOWED})
    api_preflight = preflight(http, "/api/v1/calls/", ALLOWED)

    assert me.status_code == 200
    assert me.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert metadata.status_code == 200
    assert metadata.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert api_preflight.headers["Access-Control-Allow-Origin"] == ALLOWED
