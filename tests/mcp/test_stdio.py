"""manage.py mcp_stdio driven by the official MCP SDK's stdio client, as a desktop client launches it.

The server is another process, so it needs the shared PostgreSQL test database (CI always has it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from calls.providers.simulator import BackgroundSimulator
from tests.calls.conftest import SIM_KEY
from tests.calls.conftest import bland_sim as bland_sim
from tests.servers import test_database_url
from users.services import token_for_user

ROOT = Path(__file__).resolve().parents[2]
# manage.py mcp_stdio with the test primitives too, as a plugin app would add its own.
SERVER = [str(ROOT / "manage.py"), "mcp_stdio"]
# A number no other test dials (the simulator refuses a second call to one number within 10 s); "00": answered.
CHICAGO_HUMAN = "+13125550100"


def _server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CALLMCP_TOKEN"}
    return {**env, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "MCP_PRIMITIVE_MODULES": "tests.mcp.fixture_tools", **extra}


async def _use_tools(params: StdioServerParameters) -> dict:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        echo = await session.call_tool("test_echo", {"text": "over stdio"})
        slow = await session.call_tool("test_slow", {"steps": 3}, progress_callback=on_progress)
        return {
            "server": init.server_info.name,
            "tools": [t.name for t in tools.tools],
            "echo": echo,
            "slow": slow,
            "progress": progress,
        }


@pytest.mark.postgres
def test_stdio_serves_a_tokens_tools_with_progress(live_db, make_user):
    user = make_user("stdio-user", scopes=["calls:read"])
    params = StdioServerParameters(
        command=sys.executable, args=SERVER, cwd=str(ROOT), env=_server_env(CALLMCP_TOKEN=token_for_user(user=user))
    )
    seen = anyio.run(_use_tools, params)
    assert seen["server"] == "callmcp"
    assert "test_echo" in seen["tools"]
    assert "test_place" not in seen["tools"]  # the token has no calls:write
    assert seen["echo"].structured_content == {"echo": "over stdio"}
    assert seen["slow"].content[0].text == "counted to 3"
    assert seen["progress"] == [1, 2, 3]


@pytest.mark.postgres
def test_stdio_with_user_flag_gets_all_the_users_scopes(live_db, make_user):
    make_user("stdio-admin")
    params = StdioServerParameters(
        command=sys.executable, args=[*SERVER, "--user", "stdio-admin"], cwd=str(ROOT), env=_server_env()
    )
    assert "test_place" in anyio.run(_use_tools, params)["tools"]


@pytest.mark.postgres
def test_stdio_refuses_to_start_without_a_valid_token(live_db):
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, *SERVER],
        cwd=ROOT,
        env=_server_env(CALLMCP_TOKEN="not-a-jwt"),
        capture_output=True,
        text=True,
        timeout=60,
        input="",
        check=False,
    )
    assert result.returncode != 0
    assert "Invalid token: Token is invalid. Set CALLMCP_TOKEN or pass --user." in result.stderr


async def _place_a_call(params: StdioServerParameters, errlog: TextIO) -> Any:
    async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await session.call_tool("makePhoneCall", {"phone_number": CHICAGO_HUMAN, "task": "Say hello."})


@pytest.mark.postgres
def test_stdio_logs_no_http_requests_and_warns_when_public_base_url_is_unreachable(
        live_db, make_user, bland_sim: BackgroundSimulator, tmp_path):
    user = make_user("stdio-caller", credits=1_000)
    env = _server_env(CALLMCP_TOKEN=token_for_user(user=user), DJANGO_SETTINGS_MODULE="config.settings.base",
                      LOG_LEVEL="INFO", BLAND_BASE_URL=bland_sim.url, BLAND_SIMULATOR_API_KEY=SIM_KEY,
                      PUBLIC_BASE_URL="http://127.0.0.1:9")
    params = StdioServerParameters(command=sys.executable, args=SERVER, cwd=str(ROOT), env=env)

    with (tmp_path / "stderr.log").open("w+") as errlog:
        placed = anyio.run(_place_a_call, params, errlog)
        errlog.seek(0)
        stderr = errlog.read()

    assert not placed.is_error, placed.content
    assert placed.structured_content["status"] == "queued"
    assert "PUBLIC_BASE_URL http://127.0.0.1:9 is not reachable" in stderr
    assert "HTTP Request:" not in stderr  # the provider requests the call made
