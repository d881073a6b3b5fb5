"""``manage.py sheets_emulator``: serve the bundled Google Sheets emulator (``sheets_sync/emulator/``).

Sheets API v4 and Google's OAuth token endpoint for service-account keys, with Google's per-minute quotas,
switchable faults and a request log; ``/`` shows every sheet as HTML tables. ``--port 0`` takes a free port;
the address served on is printed first. ``--file`` keeps spreadsheets and accounts between runs. A taken
port is an error. Runs until SIGINT/SIGTERM, then saves and stops.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sheets_sync.emulator.cli import add_arguments, serve


class Command(BaseCommand):
    help = "Run the Google Sheets emulator: Sheets API v4 and OAuth for service accounts, quotas, faults, a log."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            serve(options, write)
        except OSError as exc:
            raise CommandError(f"Port {options['port']} on {options['host']} is not free ({exc.strerror}): another "
                               "emulator, or another checkout's make run? Choose another with --port, or --port 0 "
                               "for a free one.") from exc
