"""``/`` is the address ``make run`` prints: a small page saying what the service is, where the MCP
endpoint is, a client configuration to copy, and links that work."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db


def _page(anon, settings, *, debug: bool = True, **extra) -> str:  # noqa: ANN001
    settings.DEBUG = debug
    response = anon.get("/", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def _configs(page: str) -> dict[str, dict]:
    blocks = re.findall(r'<pre id="([\w-]+)"[^>]*>(.*?)</pre>', page, re.S)
    return {name: json.loads(unescape(text)) for name, text in blocks}


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_the_root_page_says_what_the_service_is_and_gives_a_copyable_mcp_client_config(anon, settings, debug):
    page = _page(anon, settings, debug=debug)
    assert "callmcp" in page
    assert "phone calls" in page
    assert "http://testserver/api/v1/mcp" in page
    assert "ws://testserver/mcp" in page

    configs = _configs(page)
    http = configs["config-http"]["mcpServers"]["callmcp"]
    assert http["url"] == "http://testserver/api/v1/mcp"
    assert http["headers"]["Authorization"].startswith("Bearer ")
    assert 'data-copy="config-http"' in page
    if debug:  # a desktop client beside the server: paths on this machine, so never shown in production
        stdio = configs["config-stdio"]["mcpServers"]["callmcp"]
        assert stdio["args"][-1] == "mcp_stdio"
        assert stdio["env"]["PUBLIC_BASE_URL"] == settings.PUBLIC_BASE_URL
        assert "CALLMCP_TOKEN" in stdio["env"]
        assert 'data-copy="config-stdio"' in page
    else:
        assert "config-stdio" not in page
    assert "eyJ" not in page  # never a token on a public page


def test_the_root_page_gives_the_readme_first_call(anon, settings):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### A first call", 1)[1].split("\n## ", 1)[0]
    example = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
    page = _page(anon, settings)
    assert _configs(page)["first-call"] == example
    assert example["record"] is True
    assert 'data-copy="first-call"' in page


def test_every_link_on_the_root_page_answers(anon, settings):
    page = _page(anon, settings)
    links = set(re.findall(r'href="(/[^"]*)"', page))
    assert {"/api/docs/", "/admin/", "/healthz", "/readyz"} <= links
    for link in links:
        assert anon.get(link).status_code in {200, 302}, link  # the admin redirects to its login


def test_the_root_page_links_the_simulator_only_when_it_is_the_provider(anon, settings):
    settings.BLAND_API_KEY = ""
    settings.BLAND_BASE_URL = "http://127.0.0.1:8905"
    page = _page(anon, settings)
    assert 'href="http://127.0.0.1:8905/_sim/state"' in page
    assert "simulator" in page

    settings.BLAND_API_KEY = "live-key"
    settings.BLAND_BASE_URL = "https://api.bland.ai"
    page = _page(anon, settings)
    assert "/_sim/" not in page
    assert "real calls" in page


def test_the_root_page_uses_the_host_the_client_asked_for(anon, settings):
    settings.ALLOWED_HOSTS = ["calls.example.com"]
    page = _page(anon, settings, debug=False, HTTP_HOST="calls.example.com", secure=True)
    assert _configs(page)["config-http"]["mcpServers"]["callmcp"]["url"] == "https://calls.example.com/api/v1/mcp"
    assert "wss://calls.example.com/mcp" in page
