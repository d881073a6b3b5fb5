"""MCP over stdio for desktop clients: one JSON-RPC message per line on stdin and stdout.

The user comes from a token in ``CALLMCP_TOKEN`` (its scopes apply) or from ``--user`` (all the
user's scopes: whoever can run manage.py already holds the database). Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mcp_gateway import errors
from mcp_gateway.apps import gateway
from mcp_gateway.auth import principal_from_token
from mcp_gateway.context import Connection, Principal
from mcp_gateway.sessions import SessionState, new_session_id


def _principal_for_username(username: str) -> Principal | None:
    from users.models import User

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        return None
    return Principal(
        user_id=user.pk,
        username=user.username,
        scopes=frozenset(user.scopes or ()),
        is_staff=user.is_staff,
        rate_limits=dict(user.rate_limits or {}),
    )


class Command(BaseCommand):
    help = "Serve MCP over stdio (for desktop clients that launch a local command)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Act as this user (default: the user of the token in CALLMCP_TOKEN).")

    def handle(self, *args: Any, user: str | None, **options: Any) -> None:
        logging.getLogger().handlers = [logging.StreamHandler(sys.stderr)]
        asyncio.run(self._serve(user))

    async def _serve(self, username: str | None) -> None:
        if username:
            principal = await sync_to_async(_principal_for_username)(username)
            if principal is None:
                raise CommandError(f"No active user named {username!r}.")
        else:
            try:
                principal = await principal_from_token(os.environ.get("CALLMCP_TOKEN"))
            except errors.Unauthorized as exc:
                raise CommandError(f"{exc.message} Set CALLMCP_TOKEN or pass --user.") from exc
        session = SessionState(id=new_session_id(), owner=principal.rate_key, protocol_version="")
        connection = Connection(transport="stdio", principal=principal, session_id=session.id)
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        write_lock = asyncio.Lock()
        pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        tasks: set[asyncio.Task[Any]] = set()
        counter = iter(range(1, 1 << 62))

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read_stdin, daemon=True).start()

        async def write(message: Any) -> None:
            async with write_lock:
                sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
                sys.stdout.flush()

        async def ask_client(method: str, params: dict[str, Any]) -> dict[str, Any]:
            request_id = f"srv-{next(counter)}"
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            pending[request_id] = future
            await write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            reply = await future
            if "error" in reply:
                raise errors.McpError(f"The client refused {method}: {reply['error'].get('message')}")
            return reply.get("result") or {}

        async def dispatch(payload: Any) -> None:
            answer = await gateway().dispatcher.handle(
                payload, connection=connection, session=session, emit=write, request_client=ask_client
            )
            if answer is not None:
                await write(answer)

        while (line := await lines.get()) is not None:
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
            except json.JSONDecodeError as exc:
                await write(
                    {"jsonrpc": "2.0", "id": None, "error": errors.ParseError(f"Parse error: {exc}").to_error()}
                )
                continue
            if isinstance(payload, dict) and "method" not in payload and str(payload.get("id")) in pending:
                pending.pop(str(payload["id"])).set_result(payload)
                continue
            task = asyncio.ensure_future(dispatch(payload))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=30)
