"""A live ASGI server (uvicorn on a real socket, in a thread of the test process) for MCP tests.

It serves ``config.asgi.application`` exactly as production does, against the test database and
(when configured) the real Redis. Tests that talk to it need ``transaction=True`` database access so
the server's connection sees their rows.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from mcp_gateway.apps import gateway
from mcp_gateway.auth import clear_caches
from tests.mcp import fixture_tools
from users.services import token_for_user


@pytest.fixture(scope="session")
def mcp_server(django_db_setup, django_db_blocker) -> Iterator[str]:  # noqa: ANN001
    """Base URL (``http://127.0.0.1:PORT``) of a live server with the test primitives registered."""
    from config.asgi import application

    registry = gateway().dispatcher.registry
    registry.add_module(fixture_tools)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live MCP server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    _close_server_connections(django_db_blocker)
    for name in list(registry.tools):
        if name.startswith("test_"):
            registry.tools.pop(name)


def _close_server_connections(django_db_blocker) -> None:  # noqa: ANN001
    """Connections the server's worker threads left open would stop the test database being dropped."""
    from django.db import connection
    from django.db.utils import OperationalError

    if connection.vendor != "postgresql":
        return
    try:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    except OperationalError:
        pass  # no test of this run created the test database: nothing to close


@pytest.fixture
def live_db(transactional_db) -> None:  # noqa: ANN001
    """Committed rows, visible to the live server's own connection."""
    clear_caches()


@pytest.fixture
def mcp_user(live_db, make_user):  # noqa: ANN001, ANN201
    return make_user("mcp-alice", credits=1_000)


@pytest.fixture
def mcp_token(mcp_user) -> str:  # noqa: ANN001
    return token_for_user(user=mcp_user)
