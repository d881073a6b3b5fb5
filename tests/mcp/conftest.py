"""Live ASGI servers (uvicorn on a real socket, in a thread of the test process) for MCP tests.

Each serves the MCP application exactly as ``config.asgi`` does, against the test database and (when
configured) the real Redis, but with a gateway of its own: the apps' primitives plus the test ones in
``tests.mcp.fixture_tools``. Tests that need another gateway (small pages, a frozen rate-limit clock)
build one with ``gateway_for_tests(...)`` and start it with ``serve``. Every live server runs on one
event loop thread (Channels' layer serves one loop per process). Tests that talk to a server need
``transaction=True`` database access (``live_db``) so the server's connection sees their rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

from config import async_db
from mcp_gateway.asgi import mcp_application
from mcp_gateway.gateway import Gateway, build_gateway
from users.services import token_for_user

TEST_PRIMITIVES = ["tests.mcp.fixture_tools"]


def gateway_for_tests(**overrides: Any) -> Gateway:
    """The gateway the settings describe, serving the test primitives too; ``overrides`` as build_gateway."""
    return build_gateway(modules=TEST_PRIMITIVES, **overrides)


@contextlib.contextmanager
def live_server(gateway: Gateway, loop: asyncio.AbstractEventLoop) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a server of ``gateway`` on ``loop``, stopped when the block ends."""
    application = mcp_application(ASGIStaticFilesHandler(get_asgi_application()), gateway=gateway)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="off", access_log=False))
    running = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), loop)
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or running.done():
            raise RuntimeError(f"the live MCP server did not start: {running.exception() if running.done() else ''}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        running.result(timeout=10)
        sock.close()
        # The loop's own database connections (config.async_db) go with the server, not with the loop.
        asyncio.run_coroutine_threadsafe(async_db.close_pools(), loop).result(timeout=10)


@pytest.fixture(scope="session")
def server_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-mcp-servers", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_gateway(django_db_setup) -> Gateway:  # noqa: ANN001
    """The gateway of the session's live server."""
    return gateway_for_tests()


@pytest.fixture(scope="session")
def mcp_server(live_gateway: Gateway, server_loop: asyncio.AbstractEventLoop,
               django_db_blocker) -> Iterator[str]:  # noqa: ANN001
    """Base URL of the session's live server (the test primitives registered)."""
    with live_server(live_gateway, server_loop) as url:
        yield url
    _close_server_connections(django_db_blocker)


@pytest.fixture
def serve(server_loop: asyncio.AbstractEventLoop, django_db_blocker) -> Iterator[Callable[[Gateway], str]]:  # noqa: ANN001
    """Start a live server of another gateway for this test: ``url = serve(gateway_for_tests(page_size=2))``."""
    with contextlib.ExitStack() as servers:
        yield lambda gateway: servers.enter_context(live_server(gateway, server_loop))
    _close_server_connections(django_db_blocker)


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
def live_db(transactional_db, live_gateway: Gateway) -> None:  # noqa: ANN001
    """Committed rows, visible to the live server's own connection; no user cached from an earlier test."""
    clear = getattr(live_gateway.authenticator, "clear_caches", None)
    if clear is not None:
        clear()


@pytest.fixture
def mcp_user(live_db, make_user):  # noqa: ANN001, ANN201
    return make_user("mcp-alice", credits=1_000)


@pytest.fixture
def mcp_token(mcp_user) -> str:  # noqa: ANN001
    return token_for_user(user=mcp_user)
