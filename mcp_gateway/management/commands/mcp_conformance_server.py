from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

SETTINGS = "config.settings.conformance"


class Command(BaseCommand):
    help = (
        "Serve the MCP endpoint with the conformance-suite fixtures and without auth, on 127.0.0.1 only. "
        "For running the official MCP conformance suite; never expose it."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=3001)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        # The server runs in a fresh interpreter with the conformance settings (anonymous authenticator,
        # the suite's fixtures instead of the apps' primitives).
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS}
        os.execvpe(  # noqa: S606 - replaces this process with the server, no shell involved
            sys.executable,
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            env,
        )
