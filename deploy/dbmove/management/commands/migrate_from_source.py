from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deploy.dbmove import report
from deploy.dbmove.copier import CopyOptions
from deploy.dbmove.errors import MoveError
from deploy.dbmove.progress import Progress
from deploy.dbmove.services import (
    move_copy,
    move_dry_run,
    move_open,
    move_sync,
    move_teardown_source,
    move_verify,
)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Copy the application's data from a source PostgreSQL (a Supabase project) into the database Django "
        "points at; --sync applies what changed since, --verify compares both sides. The runbook is in "
        "deploy/README.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source-url", default=os.environ.get("SOURCE_DATABASE_URL", ""),
                            help="postgres://... of the source (default: $SOURCE_DATABASE_URL, which keeps the "
                                 "password out of the process list).")
        parser.add_argument("--mapping", help="Mapping file (default: the shipped Supabase mapping).")
        parser.add_argument("--tables", nargs="+", metavar="ENTRY",
                            help="Only these mapping entries (e.g. users.User calls.Call); copy and verify.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything and show the plan; write nothing.")
        parser.add_argument("--sync", action="store_true", help="Apply the changes since the copy or the last sync.")
        parser.add_argument("--verify", action="store_true",
                            help="Compare source and target; exit status 1 on any difference.")
        parser.add_argument("--teardown-source", action="store_true",
                            help="Remove the triggers and the callmcp_move schema from the source (after sign-off).")
        parser.add_argument("--batch-size", type=_positive, default=20_000, help="Rows per batch and checkpoint.")
        parser.add_argument("--max-rows-per-second", type=_positive,
                            help="Keep the copy's load on the source under this rate.")
        parser.add_argument("--chunk-rows", type=_positive, help="Rows per verification chunk (default 10,000).")
        parser.add_argument("--progress", action="store_true", default=None,
                            help="Progress bars even when stderr is not a terminal.")
        parser.add_argument("--no-progress", dest="progress", action="store_false", help="No progress bars.")

    def handle(self, *args: Any, **options: Any) -> None:
        modes = [name for name in ("dry_run", "sync", "teardown_source") if options[name]]
        if len(modes) > 1 or (options["verify"] and modes and modes != ["sync"]):
            raise CommandError("choose one of --dry-run, --sync, --verify, --teardown-source (--sync --verify may go "
                               "together)")
        if options["sync"] and options["tables"]:
            raise CommandError("--sync applies every entry (they share one watermark); --tables is for copy and verify")
        if not options["source_url"]:
            raise CommandError("give the source with --source-url or SOURCE_DATABASE_URL")
        try:
            self._run(options)
        except MoveError as exc:
            raise CommandError(exc.message) from exc

    def _run(self, options: dict[str, Any]) -> None:
        move = move_open(source_url=options["source_url"], mapping_path=options["mapping"])
        try:
            if options["dry_run"]:
                self.stdout.write(report.dry_run_text(move_dry_run(move, tables=options["tables"])))
            elif options["teardown_source"]:
                removed = move_teardown_source(move)
                self.stdout.write("Removed from the source: " + "; ".join(removed))
            elif options["sync"] or options["verify"]:
                if options["sync"]:
                    self.stdout.write(report.sync_text(move_sync(move)))
                if options["verify"]:
                    self._verify(move, options)
            else:
                progress = Progress(enabled=options["progress"])
                copy_options = CopyOptions(batch_size=options["batch_size"],
                                           max_rows_per_second=options["max_rows_per_second"])
                self.stdout.write(report.copy_text(move_copy(move, tables=options["tables"], options=copy_options,
                                                             progress=progress)))
        finally:
            move.close()

    def _verify(self, move: Any, options: dict[str, Any]) -> None:
        result = move_verify(move, tables=options["tables"], chunk_rows=options["chunk_rows"])
        self.stdout.write(report.verify_text(result))
        if result.differences:
            raise CommandError(f"verification found {result.differences:,} difference(s) between source and target")
