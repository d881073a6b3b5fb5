"""``manage.py poll_calls``: bring every call in flight to its final state (cron, or by hand).

Exit status: 0 when the pass ran (or stopped at its budget, or another runner holds the lock), 1 when it
failed; with ``--health``, 0 when the poller keeps up and 2 when it does not.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.poller import PollOptions, poll_calls, poll_calls_repeatedly, poller_health


class Command(BaseCommand):
    help = "Poll the phone provider for calls whose webhooks are late or lost, and apply what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-seconds", type=float, default=None,
                            help=f"Time budget (default POLLER_MAX_SECONDS, {settings.POLLER_MAX_SECONDS} s).")
        parser.add_argument("--batch-size", type=int, default=None,
                            help=f"Calls per batch and checkpoint (default {settings.POLLER_BATCH_SIZE}).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Ask the provider, change nothing; report what would change.")
        parser.add_argument("--once", action="store_true",
                            help="One pass, then exit (cron, Lambda, Celery). Otherwise passes repeat every "
                                 "--interval seconds until the budget is used up.")
        parser.add_argument("--interval", type=float, default=60.0, help="Seconds between passes without --once.")
        parser.add_argument("--health", action="store_true",
                            help="Print the poller's health and exit 2 when it is not keeping up.")
        parser.add_argument("--trigger", default="command", help=r"Recorded on the run (command, cron, ...).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["health"]:
            health = poller_health()
            self.stdout.write(json.dumps(health.as_dict(), sort_keys=True))
            if not health.healthy:
                raise SystemExit(2)
            return
        for name in ("max_seconds", "batch_size", "interval"):
            if options[name] is not None and options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be positive")
        poll_options = PollOptions.from_settings(max_seconds=options["max_seconds"], batch_size=options["batch_size"],
                                                 dry_run=options["dry_run"], trigger=options["trigger"])
        summaries = ([poll_calls(options=poll_options)] if options["once"] else
                     poll_calls_repeatedly(options=poll_options, interval=options["interval"]))
        failed = False
        for summary in summaries:
            self.stdout.write(json.dumps(summary.as_dict(), sort_keys=True))
            failed = failed or not summary.ok
        if failed:
            raise SystemExit(1)
